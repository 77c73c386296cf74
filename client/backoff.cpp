#include "backoff.h"

#include <QRandomGenerator>

#include <algorithm>

namespace Herald {

Backoff::Backoff(ms initial, ms maximum, double jitter)
{
    setRange(initial, maximum);
    setJitter(jitter);
}

void Backoff::setRange(ms initial, ms maximum)
{
    m_initial = std::max(initial, ms(1));
    m_maximum = std::max(maximum, m_initial);
}

void Backoff::setJitter(double jitter)
{
    m_jitter = std::clamp(jitter, 0.0, 0.9);
}

Backoff::ms Backoff::next()
{
    ++m_attempts;
    return delayFor(m_attempts, m_initial, m_maximum, m_jitter, QRandomGenerator::global()->generateDouble());
}

Backoff::ms Backoff::delayFor(int attempt, ms initial, ms maximum, double jitter, double random)
{
    // Doubling past 2^20 is far beyond any sane cap; stopping there keeps the arithmetic in range.
    const int exponent = std::clamp(attempt - 1, 0, 20);
    const double base = std::min(double(initial.count()) * double(1LL << exponent), double(maximum.count()));
    const double factor = 1.0 - std::clamp(jitter, 0.0, 0.9) * std::clamp(random, 0.0, 1.0);
    return ms(std::max<long long>(1, static_cast<long long>(base * factor)));
}

} // namespace Herald
