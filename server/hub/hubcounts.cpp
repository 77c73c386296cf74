// The hub's figures: counts pushed to whoever listens, /api/stats and the admin feed's snapshot.
#include "hub.h"

#include "cluster.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTimer>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// Count pushes are coalesced over this window: thousands of connects in a burst give a few pushes, not
// thousands of frames to thousands of peers each.
constexpr auto CountsCoalesce = std::chrono::milliseconds(20);

// This node's counts plus the other nodes' (a cluster; none on a single server).
HubCounts withPeers(HubCounts own, const QList<NodeInfo> &peers)
{
    for (const NodeInfo &n : peers) {
        own.clients += n.clients;
        own.subscribers += n.subscribers;
    }
    return own;
}
} // namespace

void Hub::countsMaybeChanged()
{
    if (m_countsPending.exchange(true))
        return;
    QMetaObject::invokeMethod(
        this, [this] { QTimer::singleShot(CountsCoalesce, this, &Hub::pushCounts); }, Qt::QueuedConnection);
}

void Hub::pushCounts()
{
    m_countsPending.store(false);
    const HubCounts now = totalCounts();
    const qsizetype channels = totalLiveChannels();
    bool seedChanged = false;
    bool pageChanged = false;
    {
        QMutexLocker lock(&m_mutex);
        seedChanged =
            now.clients != m_lastPushedCounts.clients || now.subscribers != m_lastPushedCounts.subscribers;
        // A subscription to a new channel changes no client or subscriber count but the channel total: pages
        // are told, seed 003 peers (whose frame has no channels) are not.
        pageChanged = seedChanged || channels != m_lastPushedChannels;
        m_lastPushedCounts = now;
        m_lastPushedChannels = channels;
    }
    if (seedChanged) {
        dispatch(makeControlEnvelope(countsFrame(), Envelope::Target::Counts));
        Q_EMIT countsChanged(now.clients, now.subscribers);
    }
    if (pageChanged)
        dispatch(makeControlEnvelope(pageCountsFrame(), Envelope::Target::PageCounts));
}

qsizetype Hub::totalLiveChannels() const
{
    const QList<NodeInfo> peers = m_cluster ? m_cluster->peers() : QList<NodeInfo>();
    QMutexLocker lock(&m_mutex);
    if (peers.isEmpty())
        return m_channelCounts.size();
    QSet<QString> names;
    for (auto it = m_channelCounts.cbegin(); it != m_channelCounts.cend(); ++it)
        names.insert(it.key());
    lock.unlock();
    for (const NodeInfo &n : peers) {
        for (auto it = n.channels.cbegin(); it != n.channels.cend(); ++it)
            names.insert(it.key());
    }
    return names.size();
}

HubCounts Hub::counts() const
{
    QMutexLocker lock(&m_mutex);
    return {m_clients, m_subscribers};
}

QMap<QString, int> Hub::channelCounts() const
{
    QMutexLocker lock(&m_mutex);
    return m_channelCounts;
}

int Hub::subscriberCount(const QString &channel) const
{
    QMutexLocker lock(&m_mutex);
    return m_channelCounts.value(channel);
}

qsizetype Hub::liveChannelCount() const
{
    QMutexLocker lock(&m_mutex);
    return m_channelCounts.size();
}

QList<std::pair<QString, int>> Hub::liveChannels(const QString &after, qsizetype limit) const
{
    QList<std::pair<QString, int>> page;
    QMutexLocker lock(&m_mutex);
    auto it = after.isEmpty() ? m_channelCounts.cbegin() : m_channelCounts.upperBound(after);
    for (; it != m_channelCounts.cend() && page.size() < limit; ++it)
        page.append({it.key(), it.value()});
    return page;
}

QList<ClientInfo> Hub::clients() const
{
    QMutexLocker lock(&m_mutex);
    QList<ClientInfo> list;
    list.reserve(m_sessions.size());
    for (const ClientInfo &info : m_sessions) {
        if (!info.isAdmin())
            list.append(info);
    }
    return list;
}

QJsonObject Hub::stats(const Identity *who) const
{
    const QList<NodeInfo> peers = m_cluster ? m_cluster->peers() : QList<NodeInfo>();
    QMap<QString, int> counts;
    HubCounts own;
    {
        QMutexLocker lock(&m_mutex);
        counts = m_channelCounts;
        own = {m_clients, m_subscribers};
    }
    const HubCounts total = withPeers(own, peers);
    for (const NodeInfo &n : peers) {
        for (auto it = n.channels.cbegin(); it != n.channels.cend(); ++it)
            counts[it.key()] += it.value();
    }
    QJsonObject channels;
    for (auto it = counts.cbegin(); it != counts.cend(); ++it) {
        if (!who || who->canRead(it.key()))
            channels.insert(it.key(), it.value());
    }
    QJsonObject o{{"total_channels"_L1, int(channels.size())},
                  {"channels"_L1, channels},
                  {"total_connections"_L1, total.clients},
                  {"clients"_L1, total.clients},
                  {"subscribers"_L1, total.subscribers}};
    if (m_cluster) {
        // Per node: counts only (channel names could leak what a restricted token may not read).
        NodeInfo me = m_cluster->selfInfo();
        me.clients = own.clients;
        me.subscribers = own.subscribers;
        me.lastId = lastId();
        QJsonObject self = me.toJson(false);
        self.insert("self"_L1, true);
        QJsonArray nodes{self};
        for (const NodeInfo &n : peers)
            nodes.append(n.toJson(false));
        o.insert("node"_L1, m_cluster->nodeId());
        o.insert("nodes"_L1, nodes);
        o.insert("cluster"_L1, m_cluster->isBusUp() ? "ok"_L1 : "degraded"_L1);
    }
    return o;
}

HubCounts Hub::totalCounts() const
{
    return withPeers(counts(), m_cluster ? m_cluster->peers() : QList<NodeInfo>());
}

QByteArray Hub::countsFrame() const
{
    const QList<NodeInfo> peers = m_cluster ? m_cluster->peers() : QList<NodeInfo>();
    const HubCounts c = withPeers(counts(), peers);
    QJsonObject o{{"type"_L1, "counts"_L1}, {"subscribers"_L1, c.subscribers}, {"clients"_L1, c.clients}};
    if (m_cluster)
        o.insert("nodes"_L1, int(peers.size()) + 1);
    return compactJson(o);
}

QByteArray Hub::pageCountsFrame() const
{
    const QList<NodeInfo> peers = m_cluster ? m_cluster->peers() : QList<NodeInfo>();
    const HubCounts c = withPeers(counts(), peers);
    QJsonObject o{{"type"_L1, "counts"_L1},
                  {"subscribers"_L1, c.subscribers},
                  {"clients"_L1, c.clients},
                  {"channels"_L1, qint64(totalLiveChannels())}};
    if (m_cluster)
        o.insert("nodes"_L1, int(peers.size()) + 1);
    return compactJson(o);
}

QByteArray Hub::snapshotFrame() const
{
    const HubCounts c = totalCounts();
    QJsonArray list;
    for (const ClientInfo &info : clients())
        list.append(info.toJson());
    return compactJson(QJsonObject{{"type"_L1, "snapshot"_L1},
                                   {"subscribers"_L1, c.subscribers},
                                   {"clients"_L1, c.clients},
                                   {"stats"_L1, stats()},
                                   {"last_id"_L1, lastId()},
                                   {"epoch"_L1, epoch()},
                                   {"connections"_L1, list},
                                   {"timestamp"_L1, nowTimestamp()}});
}

} // namespace Herald
