#include "statshistory.h"

#include <algorithm>

namespace Herald {

StatsHistory::StatsHistory(qsizetype capacity)
    : m_capacity(qMax<qsizetype>(2, capacity))
{}

const StatsSample &StatsHistory::sample(const QDateTime &now, int clients, int subscribers, int channels,
                                        qint64 nominalIntervalMs)
{
    StatsSample s;
    s.time = now.toMSecsSinceEpoch();
    s.clients = clients;
    s.subscribers = subscribers;
    s.channels = channels;
    qint64 elapsed = m_samples.empty() ? nominalIntervalMs : s.time - m_samples.back().time;
    if (elapsed <= 0)
        elapsed = nominalIntervalMs > 0 ? nominalIntervalMs : 1000;
    s.messagesPerSecond = double(m_pending) * 1000.0 / double(elapsed);
    m_pending = 0;
    m_samples.push_back(s);
    while (qsizetype(m_samples.size()) > m_capacity)
        m_samples.pop_front();
    return m_samples.back();
}

void StatsHistory::clear()
{
    m_samples.clear();
    m_pending = 0;
}

QList<QPointF> StatsHistory::points(Series series, qint64 nowMs) const
{
    QList<QPointF> out;
    out.reserve(qsizetype(m_samples.size()));
    for (const StatsSample &s : m_samples) {
        double y = 0;
        switch (series) {
        case Series::Clients:
            y = s.clients;
            break;
        case Series::Subscribers:
            y = s.subscribers;
            break;
        case Series::Channels:
            y = s.channels;
            break;
        case Series::MessagesPerSecond:
            y = s.messagesPerSecond;
            break;
        }
        out.append(QPointF(double(s.time - nowMs) / 1000.0, y));
    }
    return out;
}

double StatsHistory::maximum() const
{
    double m = 0;
    for (const StatsSample &s : m_samples)
        m = std::max({m, double(s.clients), double(s.subscribers), double(s.channels), s.messagesPerSecond});
    return m;
}

} // namespace Herald
