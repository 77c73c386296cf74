#pragma once

#include "auth.h"
#include "clientinfo.h"
#include "envelope.h"
#include "message.h"
#include "metrics.h"
#include "result.h"
#include "store.h"

#include <QDateTime>
#include <QHash>
#include <QHostAddress>
#include <QJsonObject>
#include <QMap>
#include <QMutex>
#include <QObject>
#include <QSet>
#include <QStringList>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>

namespace Herald {

class Cluster;
class Publisher;
class RedisHistory;
class RedisRecords;
class Worker;

// A publish either has its id (and, on a persistent channel, is committed) or was refused by the store.
using PublishResult = Result<qint64, StoreError>;

// The hub: one id sequence, the registry of clients and subscriptions, and dispatch of published messages to
// the workers that own the connections. Every public method is thread-safe: workers call in from their
// threads.
class Hub : public QObject
{
    Q_OBJECT

public:
    explicit Hub(QObject *parent = nullptr);
    ~Hub() override;

    // Set up before any connection arrives.
    void setWorkers(const QList<Worker *> &workers);
    void setModelChannels(const QStringList &channels);
    bool isModelChannel(const QString &channel) const;
    void setInitialSequence(qint64 lastId);
    // Messages on persistent channels are committed here before they are delivered or acknowledged.
    void setStore(Store *store);
    Store *store() const { return m_store; }
    // Where stored messages are read: the store, or Redis on a cluster node (--redis).
    History *history() const { return m_history; }
    // Where model records are kept: the store, or Redis on a cluster node, shared by every node.
    RecordStore *records() const { return m_records; }
    // A cluster node (--redis): history and model records are in Redis, publishes go through the cluster and
    // every delivery comes back from it (deliverFromCluster). Set up before any connection arrives.
    void setCluster(Cluster *cluster, RedisHistory *history);
    Cluster *cluster() const { return m_cluster; }
    // The calling thread's store and Redis connections (a worker thread that ends).
    void releaseThreadConnections();

    // Where REST and WebSocket publishes go: idempotency, scheduling, replaces and quiet hours around
    // publish() (docs/protocol.md, "Notifications").
    Publisher &publisher() { return *m_publisher; }

    Metrics &metrics() { return m_metrics; }
    // Set up before any connection arrives; read-only afterwards.
    void setAuth(AuthPolicy auth) { m_auth = std::move(auth); }
    const AuthPolicy &auth() const { return m_auth; }

    // --max-connections-per-ip: false if the address already holds `cap` connections.
    bool acquireAddress(const QHostAddress &address, int cap);
    void releaseAddress(const QHostAddress &address);

    // Registry. registerSession assigns the session id and claims the client id for `who` (mayClaimLocked);
    // it returns 0, registering nothing, while another identity holds the id. Called before the handshake is
    // answered, so that a refusal is still an HTTP 403.
    quint64 registerSession(ClientInfo info, const Identity &who);
    void unregisterSession(quint64 sessionId);
    // A connection that authenticates after it registered (a WebSocket's auth frame, or a refresh with
    // another sub): it acts for who's subject from now on and claims its client id. False, changing nothing,
    // while another identity holds the id.
    bool claimClientId(quint64 sessionId, const Identity &who);
    // The user an open-mode client says it is (seed 003's subscribe with user_id): shown on the admin feed,
    // it claims nothing.
    void setUserId(quint64 sessionId, const QString &userId);
    // How long a client id stays its identity's after the last of its connections closes (default
    // DefaultClaimLinger): a tab that reloads or reconnects finds its id, and its personal channel, still its
    // own. Zero: free at once.
    void setClaimLinger(std::chrono::milliseconds linger);
    std::chrono::milliseconds claimLinger() const;
    static constexpr std::chrono::milliseconds DefaultClaimLinger = std::chrono::minutes(5);
    // The claims this node's connections hold, as (client id, user id): a cluster node renews them in Redis.
    QList<std::pair<QString, QString>> heldClaims() const;
    // Returns false if the session already had that subscription.
    bool addSubscription(quint64 sessionId, const QString &channel);
    bool removeSubscription(quint64 sessionId, const QString &channel);

    // Assigns the next id and the timestamp, stores the message if its channel is persistent, then hands one
    // encoded envelope to every worker. Messages on "broadcast" reach every client. Fails, delivering
    // nothing, when the store cannot commit. With `options`, a waiting REST publisher's: its watch, and a
    // group commit instead of an immediate one (PublishOptions); without, committed at once.
    PublishResult publish(Message message, const QString &excludeClientId = {},
                          const RecordWrite *record = nullptr, const PublishOptions *options = nullptr);
    // Runs `read` while no message is being published and returns the last id: what `read` saw is exactly
    // the state after that id (a late joiner's list, then ?since= that id, has no race). One server only: on
    // a cluster other nodes publish without this node's lock.
    qint64 readConsistent(const std::function<void()> &read);
    // A page of a model's records (RecordStore::records) and, in `lastId`, the id whose state it shows: a
    // late joiner lists, then subscribes with ?since= that id, and neither misses nor repeats a change. On
    // one server and on a cluster.
    Result<QList<QJsonObject>, StoreError> listRecords(const QString &model, int limit, int offset,
                                                       const QString &filterField,
                                                       const QJsonValue &filterValue, qint64 *lastId);
    // Seed 004's broadcast_to_all_channels: one message to every connected client.
    PublishResult broadcastToAll(Message message);
    // Personal delivery to every connection of a client id (never stored).
    PublishResult sendToClient(const QString &clientId, Message message);
    // Asks the owning workers to close every connection of this client id, on every node of a cluster.
    // Returns how many there were on this node.
    int disconnectClient(const QString &clientId, quint16 closeCode, const QString &reason);
    // The same on this node only (a kick from another node).
    int disconnectLocal(const QString &clientId, quint16 closeCode, const QString &reason);
    // A message the cluster bus brought (its id assigned by Redis): delivered to this node's subscribers.
    void deliverFromCluster(Message message, Envelope::Target target, const QString &excludeClientId,
                            bool stored);

    qint64 lastId() const { return m_lastId.load(std::memory_order_acquire); }
    // The history's epoch (History::epoch): ids are comparable only within one. Empty without a history.
    QString epoch() const { return m_history ? m_history->epoch() : QString(); }
    // Messages handed to the workers and not yet written, one per worker queue
    // (ServerConfig::maxQueuedMessages).
    qint64 queuedMessages() const { return m_queued.load(std::memory_order_relaxed); }
    // A worker wrote this many of its queued messages.
    void noteDrained(qint64 count) { m_queued.fetch_sub(count, std::memory_order_relaxed); }
    // This node's connections.
    HubCounts counts() const;
    // The whole cluster's (this node's on a single server).
    HubCounts totalCounts() const;
    // Every channel's subscriber count: a copy that shares until the next subscription changes it (which
    // then copies it, under the hub's lock): for what needs them all, not for a request of any client.
    QMap<QString, int> channelCounts() const;
    // What a request needs, in O(log n) (and the page's size) under the lock.
    int subscriberCount(const QString &channel) const;
    qsizetype liveChannelCount() const;
    // Up to `limit` channels with subscribers named after `after` (all if empty), in name order.
    QList<std::pair<QString, int>> liveChannels(const QString &after, qsizetype limit) const;
    QList<ClientInfo> clients() const;
    // Seed 004's stats object plus clients and subscribers; with an identity, only the channels it may read.
    QJsonObject stats(const Identity *who = nullptr) const;
    QByteArray countsFrame() const;
    // countsFrame() plus "channels", the live channel total (the cluster's): for pages (PageCounts).
    QByteArray pageCountsFrame() const;
    // The admin feed's first frame: counts, channels and clients.
    QByteArray snapshotFrame() const;

    // Commits the publishes waiting for a group commit in one transaction, hands them to the workers in id
    // order, then releases their watches. Runs on an I/O thread, posted by the first publish of a group (so a
    // group is what the I/O threads took in while that one finished its pass), and at shutdown.
    void flushPipeline();

Q_SIGNALS:
    void countsChanged(int clients, int subscribers);
    // On the publishing thread, with the commit lock held after a group commit: a receiver that publishes
    // must connect queued.
    void messagePublished(const Herald::Message &message);

private:
    void dispatch(const EnvelopePtr &envelope, const FanoutWatchPtr &watch = {});
    // The next id, with a block of ids reserved in the store when needed. m_publishMutex held.
    Result<qint64, StoreError> takeIdLocked();
    struct PendingPublish
    {
        EnvelopePtr envelope;
        FanoutWatchPtr watch; // released once committed (and, with fanout, written by every worker)
        bool fanout = false;
    };
    // m_commitMutex held: commits the batch in one transaction, then hands it to the workers in id order.
    std::optional<StoreError> commitAndDispatch(const std::vector<PendingPublish> &batch);
    // With no lock held: a released watch may answer at once, and the next request may publish again.
    static void releaseCommitted(const std::vector<PendingPublish> &batch,
                                 const std::optional<StoreError> &failure);
    bool mayHaveRecipients(const Envelope &envelope) const;
    void adminEvent(const QJsonObject &event);
    void countsMaybeChanged();
    void pushCounts();
    // Channels with live subscribers, on this node and its peers (each named once).
    qsizetype totalLiveChannels() const;
    // With m_mutex held. A claim whose last connection closes lingers (setClaimLinger) unless `release`.
    // Returns whether that was its identity's last connection with the id here.
    bool noteClientUser(const QString &clientId, const QString &userId, int delta, bool release = false);
    // Forgets claims whose linger has passed.
    void expireClaimsLocked(qint64 nowMs);
    // The one rule for client ids, on every transport and route (/ws, /ws/{client_id}, /ws/client, model
    // channels, /events): an id belongs to the authenticated identity that first used it, because its
    // personal channel (client:<id>) is theirs, for as long as one of its connections uses it and the linger
    // after the last one. Another identity is refused; the same identity may open any number of connections
    // with it. A connection without a token (open mode, or token mode before its auth frame) claims nothing
    // and is refused nothing: in token mode it receives nothing until it authenticates, which claims.
    // Administrators may use any id. `self`: the asking connection when it is registered already (its own
    // earlier claim does not count against it). m_mutex held.
    bool mayClaimLocked(const QString &clientId, const Identity &who, const ClientInfo *self) const;
    // On a cluster node, the same rule across the nodes (Cluster::claimClientId, which also takes the claim);
    // true without a cluster. Without m_mutex: it waits for Redis.
    bool clusterMayClaim(const QString &clientId, const Identity &who, const QString &replacing);
    void raiseLastId(qint64 id);
    PublishResult publishClustered(Message message, Envelope::Target target, const QString &exclude,
                                   const RecordWrite *record, const QString &scheduled = {},
                                   const KeyedCommit *keyed = nullptr);
    PublishResult publishLocked(Message message, Envelope::Target target, const QString &exclude,
                                const RecordWrite *record = nullptr, const PublishOptions *options = nullptr);

    mutable QMutex m_mutex;
    // setWorkers() may run while other threads dispatch. Held only while posting to workers: nothing under it
    // may run a worker's or a session's code, which could come back to dispatch() on the same thread.
    QMutex m_workersMutex;
    QList<Worker *> m_workers;
    Store *m_store = nullptr;
    History *m_history = nullptr;
    RecordStore *m_records = nullptr;
    RedisRecords *m_clusterRecords = nullptr; // the same object as m_records on a cluster
    std::unique_ptr<Publisher> m_publisher;
    Cluster *m_cluster = nullptr;
    // Lock order: m_commitMutex, then m_publishMutex. The first is held while a batch is committed and
    // dispatched, so batches and immediate publishes reach the workers in id order; the second while an id is
    // taken (and, for an immediate publish, while it is committed and dispatched).
    QMutex m_commitMutex;
    QMutex m_publishMutex;
    qint64 m_nextId = 1;     // the next id to hand out (m_publishMutex); m_lastId is the last dispatched
    qint64 m_reservedId = 0; // ids up to here are recorded in the store as possibly handed out
    std::vector<PendingPublish>
        m_pipeline;                // publishes waiting for a group commit, in id order (m_publishMutex)
    bool m_flushScheduled = false; // m_publishMutex
    QSet<QString> m_modelChannels;
    QHash<quint64, ClientInfo> m_sessions;
    // Explicit subscriptions per channel: sorted, so that /api/channels pages through it.
    QMap<QString, int> m_channelCounts;
    // client id -> claiming identity -> connections (ClientInfo::claimsId): mayClaimLocked() without a walk
    // over every session. A list, not a hash: a client id almost always has one identity (more only through
    // administrators), and an inner QHash cost 1.6 KiB per connection.
    struct UserConnections
    {
        QString userId;
        int connections = 0;
        qint64 lingersUntilMs = 0; // with no connections left: claimed until then (steady clock)
    };
    QHash<QString, QList<UserConnections>> m_clientUsers;
    // Claims left lingering, oldest first (one linger for all, so in expiry order): (until, client id).
    std::deque<std::pair<qint64, QString>> m_lingering;
    qint64 m_claimLingerMs = DefaultClaimLinger.count();
    int m_adminSessions = 0; // admin events are built only while somebody can receive them
    int m_clients = 0;       // non-admin sessions
    int m_subscribers = 0;   // non-admin sessions with at least one subscription
    quint64 m_nextSessionId = 1;
    std::atomic<qint64> m_lastId{0};
    std::atomic<qint64> m_queued{0};
    std::atomic<bool> m_countsPending{false};
    HubCounts m_lastPushedCounts{-1, -1};
    qsizetype m_lastPushedChannels = -1;
    Metrics m_metrics;
    AuthPolicy m_auth;
    QMutex m_addressMutex;
    QHash<QHostAddress, int> m_connectionsPerAddress;
};

} // namespace Herald
