#pragma once

#include <QDateTime>
#include <QObject>
#include <QTimer>

#include <chrono>

namespace Herald {

// Fires expired() once a wall-clock time has passed, however far off it is: a token's exp may be years away,
// and QTimer (Qt 6.4) keeps its interval in an int of milliseconds, 24.8 days at most (a longer one wraps).
// It arms for at most `step` at a time and reads the clock again each time: a timer that fires early (a
// coarse one may, by 5%) or a clock that was set meanwhile only re-arms it.
class ExpiryTimer : public QObject
{
    Q_OBJECT

public:
    static constexpr std::chrono::milliseconds MaxStep = std::chrono::hours(24);

    explicit ExpiryTimer(QObject *parent = nullptr, std::chrono::milliseconds step = MaxStep);

    // Replaces any earlier deadline. One already past fires on the next pass of the event loop; an invalid
    // one (no expiry) stops the timer.
    void start(const QDateTime &deadline);
    void stop();
    bool isActive() const { return m_timer.isActive(); }
    QDateTime deadline() const { return m_deadline; }
    // What the current arm waits for: the time left, at most the step.
    std::chrono::milliseconds armedFor() const { return m_timer.intervalAsDuration(); }

Q_SIGNALS:
    void expired();

private:
    void arm();
    void onTimeout();

    QTimer m_timer;
    QDateTime m_deadline;
    std::chrono::milliseconds m_step;
};

} // namespace Herald
