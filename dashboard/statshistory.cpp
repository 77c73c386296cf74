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
    s.startsSegment = m_gap && !m_samples.empty();
    qint64 elapsed = m_samples.empty() || m_gap ? nominalIntervalMs : s.time - m_samples.back().time;
    m_gap = false;
    if (elapsed <= 0)
        elapsed = nominalIntervalMs > 0 ? nominalIntervalMs : 1000;
    s.messagesPerSecond = double(m_pending) * 1000.0 / double(elapsed);
    m_pending = 0;
    m_samples.push_back(s);
    while (qsizetype(m_samples.size()) > m_capacity)
        m_samples.pop_front();
    return m_samples.back();
}

namespace {
double valueOf(const StatsSample &s, StatsHistory::Series series)
{
    switch (series) {
    case StatsHistory::Series::Clients:
        return s.clients;
    case StatsHistory::Series::Subscribers:
        return s.subscribers;
    case StatsHistory::Series::Channels:
        return s.channels;
    case StatsHistory::Series::MessagesPerSecond:
        return s.messagesPerSecond;
    }
    return 0;
}
} // namespace

void StatsHistory::markGap()
{
    m_gap = true;
    // Messages counted before the outage are not a rate for the first interval after it.
    m_pending = 0;
}

void StatsHistory::clear()
{
    m_samples.clear();
    m_pending = 0;
    m_gap = false;
}

QList<QPointF> StatsHistory::points(Series series, qint64 nowMs) const
{
    QList<QPointF> out;
    out.reserve(qsizetype(m_samples.size()));
    for (const StatsSample &s : m_samples)
        out.append(QPointF(double(s.time - nowMs) / 1000.0, valueOf(s, series)));
    return out;
}

QList<QList<QPointF>> StatsHistory::segments(Series series, qint64 nowMs) const
{
    QList<QList<QPointF>> out;
    for (const StatsSample &s : m_samples) {
        if (out.isEmpty() || s.startsSegment)
            out.append(QList<QPointF>());
        out.last().append(QPointF(double(s.time - nowMs) / 1000.0, valueOf(s, series)));
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

double StatsHistory::maximum(Series series) const
{
    double m = 0;
    for (const StatsSample &s : m_samples)
        m = std::max(m, valueOf(s, series));
    return m;
}

} // namespace Herald
