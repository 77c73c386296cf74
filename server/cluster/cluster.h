#pragma once

#include "envelope.h"
#include "history.h"
#include "recordstore.h"
#include "serverconfig.h"

#include <QByteArray>
#include <QDateTime>
#include <QElapsedTimer>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QMutex>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <atomic>
#include <optional>

struct redisReply;

namespace Herald {

class Hub;
class RedisAsync;
class RedisHistory;

// One node's figures as the others see them (its presence key in Redis, refreshed every heartbeat).
struct NodeInfo
{
    QString id;
    QString address;
    QDateTime startedAt;
    int clients = 0;
    int subscribers = 0;
    QHash<QString, int> channels; // explicit subscriptions per channel
    qint64 lastId = 0;

    QJsonObject toJson(bool withChannels = true) const;
    static std::optional<NodeInfo> fromJson(const QByteArray &json);
};

// This server as one node of a cluster (--redis, SPEC section 8). Publishes from any node go through one
// Lua script in Redis (next id, history, PUBLISH on the bus), and every node, this one included, delivers
// what the bus brings to its own subscribers, encoded once per node. Presence: every node writes its counts
// under a key with a TTL, so a node that dies leaves the totals within --node-ttl.
// Lives on the main thread; publish(), peers() and isBusUp() are thread-safe.
class Cluster : public QObject
{
    Q_OBJECT

public:
    // nodeId: unique in the cluster (--node-id, or one Server derives from host and port).
    Cluster(Hub *hub, RedisHistory *history, const ServerConfig &config, const QString &nodeId,
            QObject *parent = nullptr);
    ~Cluster() override;

    QString nodeId() const { return m_nodeId; }
    // This node's id, address and start time (the counts are the caller's to fill in).
    NodeInfo selfInfo() const;
    // The address other nodes show for this one (host:port it listens on).
    void setAddress(const QString &address) { m_address = address; }
    // startId: the cluster's last id when this node started; the bus delivers from there.
    void start(qint64 startId);
    // Leaves the cluster: the presence key goes at once rather than after the TTL.
    void stop();

    // Thread-safe. Commits (persistent channels, and the record change the message announces, if any) and
    // publishes through Redis, in one script; delivery comes back on the bus. `scheduled`: the scheduled
    // publish this delivers, `keyed` the idempotency key whose answer goes in that script
    // (RedisHistory::append).
    Result<qint64, StoreError> publish(const Message &message, Envelope::Target target,
                                       const QString &exclude, bool stored,
                                       const RecordWrite *record = nullptr, const QString &scheduled = {},
                                       const KeyedCommit *keyed = nullptr);
    // The calling thread's blocking Redis connection.
    void releaseThreadConnection();
    // Thread-safe: the other nodes close this client id's connections too.
    void kickElsewhere(const QString &clientId, quint16 closeCode, const QString &reason);

    // Thread-safe, blocking: claims clientId for userId across the cluster (RedisClaims). False while
    // another user holds it on any node (or lingers there); a failure when Redis cannot be asked.
    Result<bool, StoreError> claimClientId(const QString &clientId, const QString &userId,
                                           const QString &replacing);
    // Thread-safe: this node's last connection with the id closed; the claim lingers from now on (the hub's
    // claim linger), unless the same user holds it on another node, which renews it.
    void claimReleased(const QString &clientId, const QString &userId);

    // Thread-safe. The other live nodes, as last heard (empty while Redis is unreachable).
    QList<NodeInfo> peers() const;
    // Thread-safe. False while the bus is down: this node then serves its own connections only.
    bool isBusUp() const { return m_busUp.load(std::memory_order_acquire); }

Q_SIGNALS:
    void peersChanged();
    void busChanged(bool up);

private:
    void onBusMessage(const QByteArray &channel, const QByteArray &payload);
    void onControl(const QByteArray &payload);
    void onSubscribed();
    void onBusLost();
    void catchUp();
    void deliver(qint64 id, const QByteArray &body);
    void heartbeat();
    void readPeers(const QList<QByteArray> &ids);
    // Sets every claim this node's connections hold again (they expire otherwise, and a Redis that restarted
    // has lost them): every few heartbeats, and at once when the presence connection comes (back).
    void renewClaims();
    std::chrono::milliseconds renewInterval() const;
    std::chrono::milliseconds claimTtl() const;
    NodeInfo ownInfo() const;

    Hub *m_hub;
    RedisHistory *m_history;
    const ServerConfig m_config;
    QString m_nodeId;
    QString m_address;
    QDateTime m_started;
    RedisAsync *m_bus = nullptr;      // SUBSCRIBE: publishes and control messages
    RedisAsync *m_presence = nullptr; // heartbeat and reading the other nodes
    QTimer m_heartbeat;
    QElapsedTimer m_sinceHeartbeatReply;
    QElapsedTimer m_sinceClaimsRenewed;
    bool m_heartbeatPending = false;
    QByteArray m_busChannel;
    QByteArray m_controlChannel;
    QByteArray m_nodesKey;
    QByteArray m_nodeKeyPrefix;

    // Bus order is id order (one script per publish). After a gap (start, lost bus) the node reads what it
    // missed from the history; live copies of what that read delivered are dropped.
    qint64 m_lastBusId = 0; // the highest id delivered, from the bus or a catch-up: the next catch-up's start
    QSet<qint64> m_caughtUp;
    qint64 m_caughtUpMax = 0;
    // While a catch-up's window is open (m_caughtUpMax > 0): ids up to here were delivered before the gap.
    // Ids between it and m_caughtUpMax that the read did not deliver (unstored channels) may still come live.
    qint64 m_caughtUpFloor = 0;

    mutable QMutex m_peersMutex;
    QList<NodeInfo> m_peers;
    QElapsedTimer m_peersAge;
    std::atomic<bool> m_busUp{false};
};

} // namespace Herald
