#include "expirytimer.h"

#include <algorithm>

namespace Herald {

ExpiryTimer::ExpiryTimer(QObject *parent, std::chrono::milliseconds step)
    : QObject(parent)
    , m_timer(this)
    , m_step(std::clamp(step, std::chrono::milliseconds(1), MaxStep))
{
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &ExpiryTimer::onTimeout);
}

void ExpiryTimer::start(const QDateTime &deadline)
{
    if (!deadline.isValid()) {
        stop();
        return;
    }
    m_deadline = deadline;
    arm();
}

void ExpiryTimer::stop()
{
    m_timer.stop();
    m_deadline = QDateTime();
}

void ExpiryTimer::arm()
{
    const qint64 left = QDateTime::currentDateTimeUtc().msecsTo(m_deadline);
    m_timer.start(std::chrono::milliseconds(std::clamp<qint64>(left, 0, m_step.count())));
}

void ExpiryTimer::onTimeout()
{
    if (QDateTime::currentDateTimeUtc() < m_deadline) {
        arm();
        return;
    }
    m_deadline = QDateTime();
    Q_EMIT expired();
}

} // namespace Herald
