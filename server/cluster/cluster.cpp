#include "cluster.h"

#include "channelname.h"
#include "hub.h"
#include "logging.h"
#include "redisasync.h"
#include "redisconnection.h"
#include "redishistory.h"

#include <hiredis/hiredis.h>

#include <QJsonDocument>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// Three beats per TTL: one lost beat does not make a live node look dead.
qint64 heartbeatIntervalMs(const ServerConfig &config)
{
    return std::max<qint64>(100, qint64(config.nodeTtl.count()) * 1000 / 3);
}

// Bus wire names of Envelope::Target. Append only: nodes of two versions may share a bus.
QString targetName(Envelope::Target target)
{
    switch (target) {
    case Envelope::Target::Channel:
        return u"channel"_s;
    case Envelope::Target::Everyone:
        return u"everyone"_s;
    case Envelope::Target::Admin:
        return u"admin"_s;
    case Envelope::Target::Counts:
        return u"counts"_s;
    case Envelope::Target::PageCounts:
        return u"page_counts"_s;
    }
    return u"channel"_s;
}

std::optional<Envelope::Target> targetFromName(const QString &name)
{
    for (auto t : {Envelope::Target::Channel, Envelope::Target::Everyone, Envelope::Target::Admin,
                   Envelope::Target::Counts, Envelope::Target::PageCounts}) {
        if (targetName(t) == name)
            return t;
    }
    return std::nullopt;
}
} // namespace

QJsonObject NodeInfo::toJson(bool withChannels) const
{
    QJsonObject o{{"id"_L1, id},
                  {"address"_L1, address},
                  {"started_at"_L1, formatTimestamp(startedAt)},
                  {"clients"_L1, clients},
                  {"subscribers"_L1, subscribers},
                  {"last_id"_L1, lastId}};
    if (withChannels) {
        QJsonObject c;
        for (auto it = channels.cbegin(); it != channels.cend(); ++it)
            c.insert(it.key(), it.value());
        o.insert("channels"_L1, c);
    }
    return o;
}

std::optional<NodeInfo> NodeInfo::fromJson(const QByteArray &json)
{
    const QJsonDocument doc = QJsonDocument::fromJson(json);
    if (!doc.isObject())
        return std::nullopt;
    const QJsonObject o = doc.object();
    NodeInfo n;
    n.id = o.value("id"_L1).toString();
    if (n.id.isEmpty())
        return std::nullopt;
    n.address = o.value("address"_L1).toString();
    n.startedAt = QDateTime::fromString(o.value("started_at"_L1).toString(), Qt::ISODateWithMs);
    n.clients = o.value("clients"_L1).toInt();
    n.subscribers = o.value("subscribers"_L1).toInt();
    n.lastId = o.value("last_id"_L1).toInteger();
    const QJsonObject c = o.value("channels"_L1).toObject();
    for (auto it = c.constBegin(); it != c.constEnd(); ++it)
        n.channels.insert(it.key(), it.value().toInt());
    return n;
}

Cluster::Cluster(Hub *hub, RedisHistory *history, const ServerConfig &config, const QString &nodeId,
                 QObject *parent)
    : QObject(parent)
    , m_hub(hub)
    , m_history(history)
    , m_config(config)
    , m_nodeId(nodeId)
    , m_started(QDateTime::currentDateTimeUtc())
{
    const QByteArray prefix = config.redisPrefix.toUtf8();
    m_busChannel = prefix + "bus";
    m_controlChannel = prefix + "control";
    m_nodesKey = prefix + "nodes";
    m_nodeKeyPrefix = prefix + "node:";
    const auto address = RedisAddress::parse(config.redisUrl).value_or(RedisAddress{});
    m_bus = new RedisAsync(address, u"bus"_s, this);
    m_presence = new RedisAsync(address, u"presence"_s, this);
    connect(m_bus, &RedisAsync::disconnected, this, &Cluster::onBusLost);
    connect(m_presence, &RedisAsync::connected, this, &Cluster::heartbeat);
    connect(m_presence, &RedisAsync::connected, this, &Cluster::renewClaims);
    m_heartbeat.setInterval(heartbeatIntervalMs(config));
    connect(&m_heartbeat, &QTimer::timeout, this, &Cluster::heartbeat);
}

Cluster::~Cluster() = default;

void Cluster::start(qint64 startId)
{
    m_lastBusId = startId;
    m_bus->subscribe(
        {m_busChannel, m_controlChannel},
        [this](const QByteArray &channel, const QByteArray &payload) { onBusMessage(channel, payload); },
        [this] { onSubscribed(); });
    m_bus->open();
    m_presence->open();
    m_heartbeat.start();
}

void Cluster::stop()
{
    m_heartbeat.stop();
    // Best effort: the key would expire within the TTL anyway.
    m_presence->command({"DEL", m_nodeKeyPrefix + m_nodeId.toUtf8()});
    m_presence->command({"ZREM", m_nodesKey, m_nodeId.toUtf8()});
    m_bus->close();
    m_busUp.store(false, std::memory_order_release);
}

Result<qint64, StoreError> Cluster::publish(const Message &message, Envelope::Target target,
                                            const QString &exclude, bool stored, const RecordWrite *record,
                                            const QString &scheduled, const KeyedCommit *keyed)
{
    QJsonObject body{
        {"target"_L1, targetName(target)}, {"stored"_L1, stored}, {"message"_L1, message.toJson()}};
    if (!exclude.isEmpty())
        body.insert("exclude"_L1, exclude);
    return m_history->append(message, stored, compactJson(body), record, m_hub->lastId(), scheduled, keyed);
}

void Cluster::releaseThreadConnection()
{
    m_history->releaseThreadConnection();
}

void Cluster::kickElsewhere(const QString &clientId, quint16 closeCode, const QString &reason)
{
    const QByteArray payload = compactJson(QJsonObject{{"op"_L1, "kick"_L1},
                                                       {"from"_L1, m_nodeId},
                                                       {"client_id"_L1, clientId},
                                                       {"code"_L1, int(closeCode)},
                                                       {"reason"_L1, reason}});
    QMetaObject::invokeMethod(
        this,
        [this, payload] {
            m_presence->command({"PUBLISH", m_controlChannel, payload});
        },
        Qt::QueuedConnection);
}

Result<bool, StoreError> Cluster::claimClientId(const QString &clientId, const QString &userId,
                                                const QString &replacing)
{
    return m_history->claims()->claim(clientId, userId, replacing, claimTtl());
}

void Cluster::claimReleased(const QString &clientId, const QString &userId)
{
    QMetaObject::invokeMethod(
        this,
        [this, clientId, userId] {
            m_presence->command(
                m_history->claims()->renewCommand({{clientId, userId}}, m_hub->claimLinger()));
        },
        Qt::QueuedConnection);
}

std::chrono::milliseconds Cluster::renewInterval() const
{
    // Often enough that a claim never expires under a live connection, rarely enough that thousands of them
    // cost Redis little: a third of the linger, but not more often than the heartbeat.
    // (The heartbeat's interval from the configuration: this runs on worker threads too.)
    const std::chrono::milliseconds beat(heartbeatIntervalMs(m_config));
    return std::max(beat, m_hub->claimLinger() / 3);
}

std::chrono::milliseconds Cluster::claimTtl() const
{
    return std::max(m_hub->claimLinger(), 3 * renewInterval());
}

void Cluster::renewClaims()
{
    m_sinceClaimsRenewed.start();
    const QList<std::pair<QString, QString>> held = m_hub->heldClaims();
    const std::chrono::milliseconds ttl = claimTtl();
    // In slices: one script call blocks Redis while it runs.
    constexpr qsizetype Slice = 500;
    for (qsizetype i = 0; i < held.size(); i += Slice)
        m_presence->command(m_history->claims()->renewCommand(held.mid(i, Slice), ttl));
}

QList<NodeInfo> Cluster::peers() const
{
    QMutexLocker lock(&m_peersMutex);
    // Figures older than the TTL are as good as gone (Redis unreachable: nobody refreshes them).
    if (!m_peersAge.isValid() || m_peersAge.elapsed() > qint64(m_config.nodeTtl.count()) * 1000)
        return {};
    return m_peers;
}

void Cluster::onBusMessage(const QByteArray &channel, const QByteArray &payload)
{
    if (channel == m_controlChannel) {
        onControl(payload);
        return;
    }
    // "<id> <body>": the script puts the id it assigned in front of our bytes.
    const qsizetype space = payload.indexOf(' ');
    bool ok = false;
    const qint64 id = space > 0 ? QByteArrayView(payload).first(space).toLongLong(&ok) : 0;
    if (!ok || id <= 0) {
        qCWarning(lcCluster) << "ignoring a malformed bus message";
        return;
    }
    if (m_caughtUpMax > 0) {
        if (id <= m_caughtUpFloor || m_caughtUp.contains(id))
            return; // delivered before the gap, or by the catch-up read
        if (id > m_caughtUpMax) {
            m_caughtUp.clear();
            m_caughtUpMax = 0;
        }
    } else if (id <= m_lastBusId) {
        return;
    }
    m_lastBusId = std::max(m_lastBusId, id);
    deliver(id, payload.mid(space + 1));
}

void Cluster::deliver(qint64 id, const QByteArray &body)
{
    QJsonParseError error{};
    const QJsonObject o = QJsonDocument::fromJson(body, &error).object();
    const auto target = targetFromName(o.value("target"_L1).toString());
    auto message = Message::fromJson(o.value("message"_L1).toObject());
    if (error.error != QJsonParseError::NoError || !target || !message) {
        qCWarning(lcCluster) << "ignoring a bus message that does not decode, id" << id;
        return;
    }
    Message m = *message;
    m.id = id;
    m_hub->deliverFromCluster(std::move(m), *target, o.value("exclude"_L1).toString(),
                              o.value("stored"_L1).toBool());
}

void Cluster::onControl(const QByteArray &payload)
{
    const QJsonObject o = QJsonDocument::fromJson(payload).object();
    if (o.value("from"_L1).toString() == m_nodeId)
        return;
    if (o.value("op"_L1).toString() == u"kick"_s) {
        const QString clientId = o.value("client_id"_L1).toString();
        const int code = o.value("code"_L1).toInt(4001);
        if (!clientId.isEmpty() && code >= 1000 && code <= 4999)
            m_hub->disconnectLocal(clientId, quint16(code), o.value("reason"_L1).toString());
    }
}

void Cluster::onSubscribed()
{
    // A Redis that restarted without persistence starts its sequence again at 0: ids must never go back, or
    // a client resuming from one it saw would skip the new ones. Every node lifts it past what it has seen.
    const qint64 seen = std::max(m_lastBusId, m_hub->lastId());
    if (auto raised = m_history->raiseSequence(seen); seen > 0 && raised && *raised)
        qCWarning(lcCluster)
            << "Redis had lost the id sequence (restarted without persistence?); it continues"
            << "after" << seen;
    // Such a Redis lost the history too: a new epoch tells clients that what they hold is not in it.
    if (auto changed = m_history->ensureEpoch(); changed && *changed)
        qCWarning(lcCluster).noquote()
            << "the cluster's history has a new epoch" << m_history->epoch() << "(Redis lost its data?)";
    catchUp();
    const bool wasUp = m_busUp.exchange(true, std::memory_order_acq_rel);
    if (!wasUp) {
        qCInfo(lcCluster).noquote() << "node" << m_nodeId << "is on the cluster bus" << m_busChannel;
        Q_EMIT busChanged(true);
    }
}

void Cluster::onBusLost()
{
    if (m_busUp.exchange(false, std::memory_order_acq_rel)) {
        qCWarning(lcCluster).noquote()
            << "node" << m_nodeId << "lost the cluster bus: serving its own connections only";
        Q_EMIT busChanged(false);
    }
}

void Cluster::catchUp()
{
    // Whatever was published while this node was off the bus: the stored part of it, on the channels its
    // clients are on. Messages on unstored channels (client:<id>) sent during the gap are gone; so they are
    // with any broker.
    QStringList channels = m_hub->channelCounts().keys();
    channels.append(Channels::Broadcast.toString());
    for (const ClientInfo &c : m_hub->clients()) {
        if (!c.userId.isEmpty())
            channels.append(userChannel(c.userId));
    }
    channels.removeDuplicates();
    auto replay = m_history->replay(channels, m_lastBusId, 0);
    if (!replay) {
        qCWarning(lcCluster).noquote() << "cannot read what this node missed:" << replay.error().message;
        return;
    }
    if (!replay->recovered)
        qCWarning(lcCluster) << "this node missed more than --replay-limit messages while off the bus";
    // A window still open from an earlier catch-up (the bus went again before anything newer came): its ids
    // are at or below m_lastBusId, which this read starts after, so none of them comes twice.
    m_caughtUp.clear();
    m_caughtUpMax = 0;
    m_caughtUpFloor = m_lastBusId;
    for (const Message &m : replay->messages) {
        if (m.id <= m_lastBusId)
            continue;
        m_caughtUp.insert(m.id);
        m_caughtUpMax = std::max(m_caughtUpMax, m.id);
        const auto target =
            m.channel == Channels::Broadcast ? Envelope::Target::Everyone : Envelope::Target::Channel;
        m_hub->deliverFromCluster(m, target, {}, true);
    }
    // Delivered: the next catch-up starts after them, even if the bus is lost before a newer id comes.
    m_lastBusId = std::max(m_lastBusId, m_caughtUpMax);
    if (m_caughtUpMax > 0)
        qCInfo(lcCluster) << "delivered" << m_caughtUp.size() << "messages published while off the bus";
}

NodeInfo Cluster::selfInfo() const
{
    NodeInfo n;
    n.id = m_nodeId;
    n.address = m_address;
    n.startedAt = m_started;
    return n;
}

NodeInfo Cluster::ownInfo() const
{
    NodeInfo n = selfInfo();
    const HubCounts c = m_hub->counts();
    n.clients = c.clients;
    n.subscribers = c.subscribers;
    const QMap<QString, int> counts = m_hub->channelCounts();
    n.channels = QHash<QString, int>(counts.cbegin(), counts.cend());
    n.lastId = m_hub->lastId();
    return n;
}

void Cluster::heartbeat()
{
    if (!m_presence->isConnected())
        return;
    if (m_heartbeatPending) {
        // No answer for a whole TTL: the connection is dead without having said so (a partition). Start over.
        if (m_sinceHeartbeatReply.elapsed() > qint64(m_config.nodeTtl.count()) * 1000) {
            qCWarning(lcCluster) << "Redis stopped answering; reconnecting";
            m_heartbeatPending = false;
            m_presence->close();
            m_presence->open();
            m_bus->close();
            onBusLost();
            m_bus->open();
        }
        return;
    }
    const QByteArray ttlMs = QByteArray::number(qint64(m_config.nodeTtl.count()) * 1000);
    const QByteArray self = m_nodeId.toUtf8();
    m_presence->command({"SET", m_nodeKeyPrefix + self, compactJson(ownInfo().toJson()), "PX", ttlMs});
    m_presence->command({"ZADD", m_nodesKey, QByteArray::number(QDateTime::currentMSecsSinceEpoch()), self});
    m_heartbeatPending = true;
    if (!m_sinceClaimsRenewed.isValid() || m_sinceClaimsRenewed.elapsed() >= renewInterval().count())
        renewClaims();
    if (!m_sinceHeartbeatReply.isValid())
        m_sinceHeartbeatReply.start();
    m_presence->command({"ZRANGE", m_nodesKey, "0", "-1"}, [this](const redisReply *r) {
        m_heartbeatPending = false;
        m_sinceHeartbeatReply.restart();
        if (!r || r->type != REDIS_REPLY_ARRAY)
            return;
        QList<QByteArray> ids;
        for (size_t i = 0; i < r->elements; ++i) {
            const QByteArray id = redisBytes(r->element[i]);
            if (!id.isEmpty() && id != m_nodeId.toUtf8())
                ids.append(id);
        }
        readPeers(ids);
    });
}

void Cluster::readPeers(const QList<QByteArray> &ids)
{
    auto publish = [this](QList<NodeInfo> peers) {
        std::sort(peers.begin(), peers.end(),
                  [](const NodeInfo &a, const NodeInfo &b) { return a.id < b.id; });
        bool changed = false;
        {
            QMutexLocker lock(&m_peersMutex);
            changed = peers.size() != m_peers.size();
            for (qsizetype i = 0; !changed && i < peers.size(); ++i) {
                const NodeInfo &a = peers.at(i);
                const NodeInfo &b = m_peers.at(i);
                changed = a.id != b.id || a.clients != b.clients || a.subscribers != b.subscribers ||
                          a.channels != b.channels;
            }
            m_peers = std::move(peers);
            m_peersAge.start();
        }
        if (changed)
            Q_EMIT peersChanged();
    };
    if (ids.isEmpty()) {
        publish({});
        return;
    }
    QList<QByteArray> args{"MGET"};
    for (const QByteArray &id : ids)
        args.append(m_nodeKeyPrefix + id);
    m_presence->command(args, [this, ids, publish](const redisReply *r) {
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != size_t(ids.size()))
            return;
        QList<NodeInfo> peers;
        QList<QByteArray> gone{"ZREM", m_nodesKey};
        for (size_t i = 0; i < r->elements; ++i) {
            const auto node = NodeInfo::fromJson(redisBytes(r->element[i]));
            if (node)
                peers.append(*node);
            else
                gone.append(ids.at(qsizetype(i))); // its key expired: the node is dead
        }
        if (gone.size() > 2)
            m_presence->command(gone);
        publish(std::move(peers));
    });
}

} // namespace Herald
