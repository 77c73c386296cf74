#pragma once

#include <chrono>

namespace Herald {

// Reconnect delays: exponential growth from an initial delay up to a cap, each shortened by a random part of
// up to `jitter` so that many clients cut off together do not come back in lockstep. With jitter below
// one half every delay is still longer than the one before it, until the cap.
class Backoff
{
public:
    using ms = std::chrono::milliseconds;

    explicit Backoff(ms initial = ms(500), ms maximum = ms(30000), double jitter = 0.3);

    void setRange(ms initial, ms maximum);
    void setJitter(double jitter);
    ms initial() const { return m_initial; }
    ms maximum() const { return m_maximum; }
    double jitter() const { return m_jitter; }

    // The delay before the next attempt; counts the attempt.
    ms next();
    void reset() { m_attempts = 0; }
    int attempts() const { return m_attempts; }

    // The delay before attempt n (1-based) given a random number in [0, 1). Pure, so tests can pin it.
    static ms delayFor(int attempt, ms initial, ms maximum, double jitter, double random);

private:
    ms m_initial;
    ms m_maximum;
    double m_jitter;
    int m_attempts = 0;
};

} // namespace Herald
