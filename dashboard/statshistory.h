#pragma once

#include <QDateTime>
#include <QList>
#include <QPointF>

#include <deque>

namespace Herald {

struct StatsSample
{
    qint64 time = 0; // ms since the epoch
    int clients = 0;
    int subscribers = 0;
    int channels = 0;
    double messagesPerSecond = 0;
    bool startsSegment = false; // the first sample after a gap (the feed was down): the chart breaks here
};

// The chart's data: one sample per tick, the last capacity() of them. Messages are counted as they arrive
// and turned into a rate when the next sample is taken.
class StatsHistory
{
public:
    enum class Series
    {
        Clients,
        Subscribers,
        Channels,
        MessagesPerSecond
    };

    explicit StatsHistory(qsizetype capacity = 300);

    qsizetype capacity() const { return m_capacity; }
    void noteMessages(qint64 count = 1) { m_pending += count; }
    // The data stopped being live (the feed is down): the next sample starts a new segment, so the chart
    // shows a gap rather than a line drawn through time nobody watched.
    void markGap();
    bool isInGap() const { return m_gap; }
    // Closes the current interval at `now`: the rate is the messages noted since the previous sample over
    // the time since it (the first interval, and the first after a gap, count as nominalInterval).
    const StatsSample &sample(const QDateTime &now, int clients, int subscribers, int channels,
                              qint64 nominalIntervalMs = 1000);
    void clear();

    const std::deque<StatsSample> &samples() const { return m_samples; }
    bool isEmpty() const { return m_samples.empty(); }
    const StatsSample &latest() const { return m_samples.back(); }
    // Points for a chart: x in seconds relative to `nowMs` (so <= 0), y the series' value.
    QList<QPointF> points(Series series, qint64 nowMs) const;
    // The same points cut where the data was not live: one list per unbroken run of samples.
    QList<QList<QPointF>> segments(Series series, qint64 nowMs) const;
    // The largest value of any series in the window.
    double maximum() const;
    // The largest value of one series in the window, for its axis.
    double maximum(Series series) const;

private:
    std::deque<StatsSample> m_samples;
    qsizetype m_capacity;
    qint64 m_pending = 0;
    bool m_gap = false;
};

} // namespace Herald
