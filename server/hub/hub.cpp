#include "hub.h"

#include "channelname.h"
#include "cluster.h"
#include "logging.h"
#include "redishistory.h"
#include "worker.h"

#include <algorithm>
#include <mutex>

#include <QJsonArray>
#include <QJsonDocument>
#include <QScopeGuard>
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

QString transportName(Transport t)
{
    switch (t) {
    case Transport::WebSocket:
        return u"websocket"_s;
    case Transport::Sse:
        return u"sse"_s;
    }
    return u"websocket"_s;
}

QString routeName(Route r)
{
    switch (r) {
    case Route::Native:
        return u"ws"_s;
    case Route::SeedClient:
        return u"ws/client"_s;
    case Route::Admin:
        return u"ws/server"_s;
    case Route::ModelChannel:
        return u"ws/channel"_s;
    case Route::SeedChat:
        return u"ws/client_id"_s;
    case Route::Events:
        return u"events"_s;
    }
    return u"ws"_s;
}

bool ChannelSet::contains(const QString &channel) const
{
    if (!m_large.isEmpty())
        return m_large.contains(channel);
    return std::binary_search(m_small.cbegin(), m_small.cend(), channel);
}

bool ChannelSet::insert(const QString &channel)
{
    if (!m_large.isEmpty()) {
        const qsizetype before = m_large.size();
        m_large.insert(channel, 0);
        return m_large.size() != before;
    }
    const auto at = std::lower_bound(m_small.cbegin(), m_small.cend(), channel);
    if (at != m_small.cend() && *at == channel)
        return false;
    if (m_small.size() < SmallSize) {
        m_small.insert(at - m_small.cbegin(), channel);
        return true;
    }
    // Growing past SmallSize: into the tree, once.
    for (const QString &c : std::as_const(m_small))
        m_large.insert(c, 0);
    m_large.insert(channel, 0);
    m_small = QStringList();
    return true;
}

bool ChannelSet::remove(const QString &channel)
{
    if (!m_large.isEmpty())
        return m_large.remove(channel) > 0; // stays a tree: no moving back and forth at the boundary
    const auto at = std::lower_bound(m_small.cbegin(), m_small.cend(), channel);
    if (at == m_small.cend() || *at != channel)
        return false;
    m_small.removeAt(at - m_small.cbegin());
    return true;
}

ChannelSet::const_iterator ChannelSet::begin() const
{
    const_iterator it;
    it.m_inLarge = !m_large.isEmpty();
    it.m_small = m_small.cbegin();
    it.m_large = m_large.cbegin();
    return it;
}

ChannelSet::const_iterator ChannelSet::end() const
{
    const_iterator it;
    it.m_inLarge = !m_large.isEmpty();
    it.m_small = m_small.cend();
    it.m_large = m_large.cend();
    return it;
}

QJsonObject ClientInfo::toJson() const
{
    const QStringList &subs = channels.toList();
    QJsonObject o{{"client_id"_L1, clientId},
                  {"transport"_L1, transportName(transport)},
                  {"route"_L1, routeName(route)},
                  {"address"_L1, address},
                  {"connected_at"_L1, formatTimestamp(connectedAt)},
                  {"subscriptions"_L1, QJsonArray::fromStringList(subs)}};
    if (!userId.isEmpty())
        o.insert("user_id"_L1, userId);
    return o;
}

Hub::Hub(QObject *parent)
    : QObject(parent)
{}

Hub::~Hub() = default;

void Hub::setWorkers(const QList<Worker *> &workers)
{
    QMutexLocker lock(&m_workersMutex);
    m_workers = workers;
}

void Hub::setModelChannels(const QStringList &channels)
{
    QMutexLocker lock(&m_mutex);
    m_modelChannels = QSet<QString>(channels.begin(), channels.end());
}

bool Hub::isModelChannel(const QString &channel) const
{
    QMutexLocker lock(&m_mutex);
    return m_modelChannels.contains(channel);
}

void Hub::setInitialSequence(qint64 lastId)
{
    m_lastId.store(lastId, std::memory_order_release);
    m_nextId = lastId + 1;
    m_reservedId = lastId;
}

void Hub::setStore(Store *store)
{
    m_store = store;
    m_history = store;
    m_records = store->records();
}

void Hub::releaseThreadConnections()
{
    if (m_store)
        m_store->releaseThreadConnection();
    if (m_cluster)
        m_cluster->releaseThreadConnection();
}

void Hub::setCluster(Cluster *cluster, RedisHistory *history)
{
    m_cluster = cluster;
    m_history = history;
    m_clusterRecords = history->records();
    m_records = m_clusterRecords;
    // Other nodes' figures change the totals that counts frames and stats show.
    connect(cluster, &Cluster::peersChanged, this, &Hub::countsMaybeChanged);
}

bool Hub::acquireAddress(const QHostAddress &address, int cap)
{
    QMutexLocker lock(&m_addressMutex);
    int &n = m_connectionsPerAddress[address];
    if (n >= cap)
        return false;
    ++n;
    return true;
}

void Hub::releaseAddress(const QHostAddress &address)
{
    QMutexLocker lock(&m_addressMutex);
    auto it = m_connectionsPerAddress.find(address);
    if (it != m_connectionsPerAddress.end() && --it.value() <= 0)
        m_connectionsPerAddress.erase(it);
}

namespace {
// Only a verified token is an identity that can own a client id.
bool claims(const Identity &who)
{
    return !who.open && who.authenticated;
}

qint64 steadyNowMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
} // namespace

void Hub::setClaimLinger(std::chrono::milliseconds linger)
{
    QMutexLocker lock(&m_mutex);
    m_claimLingerMs = std::max<qint64>(0, linger.count());
}

std::chrono::milliseconds Hub::claimLinger() const
{
    QMutexLocker lock(&m_mutex);
    return std::chrono::milliseconds(m_claimLingerMs);
}

QList<std::pair<QString, QString>> Hub::heldClaims() const
{
    QList<std::pair<QString, QString>> held;
    QMutexLocker lock(&m_mutex);
    for (auto it = m_clientUsers.cbegin(); it != m_clientUsers.cend(); ++it) {
        for (const UserConnections &u : *it) {
            if (u.connections > 0)
                held.append({it.key(), u.userId});
        }
    }
    return held;
}

bool Hub::clusterMayClaim(const QString &clientId, const Identity &who, const QString &replacing)
{
    // Administrators may use any id (mayClaimLocked), and an identity-less connection claims nothing.
    if (!m_cluster || !claims(who) || who.isAdmin())
        return true;
    const auto granted = m_cluster->claimClientId(clientId, who.subject, replacing);
    if (!granted) {
        // Redis unreachable: this node serves its own connections only (as for delivery), so its own rule,
        // which still holds, is the one that applies.
        qCDebug(lcCluster) << "cannot check client id" << clientId
                           << "with the cluster:" << granted.error().message;
        return true;
    }
    return *granted;
}

quint64 Hub::registerSession(ClientInfo info, const Identity &who)
{
    quint64 id = 0;
    QJsonObject event;
    // The cluster's rule first, without the registry's lock (a blocking Redis call): it sees every node's
    // claims. The registry's own check below still decides races between this node's connections.
    if (!clusterMayClaim(info.clientId, who, {}))
        return 0;
    {
        QMutexLocker lock(&m_mutex);
        expireClaimsLocked(steadyNowMs());
        if (!mayClaimLocked(info.clientId, who, nullptr))
            return 0;
        info.claimsId = claims(who);
        if (info.claimsId)
            info.userId = who.subject;
        id = m_nextSessionId++;
        info.sessionId = id;
        if (!info.isAdmin()) {
            ++m_clients;
            if (m_adminSessions > 0)
                event = QJsonObject{{"type"_L1, "client_connected"_L1}, {"client"_L1, info.toJson()}};
        } else {
            ++m_adminSessions;
            // A new dashboard must see the current counts even if they did not change.
            m_lastPushedCounts = {-1, -1};
        }
        if (info.claimsId)
            noteClientUser(info.clientId, info.userId, +1);
        m_sessions.insert(id, std::move(info));
    }
    if (!event.isEmpty())
        adminEvent(event);
    countsMaybeChanged();
    return id;
}

void Hub::unregisterSession(quint64 sessionId)
{
    QJsonObject event;
    std::optional<std::pair<QString, QString>> released;
    {
        QMutexLocker lock(&m_mutex);
        const auto it = m_sessions.constFind(sessionId);
        if (it == m_sessions.cend())
            return;
        const ClientInfo &info = *it;
        if (!info.isAdmin()) {
            --m_clients;
            if (!info.channels.isEmpty())
                --m_subscribers;
            for (const QString &channel : info.channels) {
                auto c = m_channelCounts.find(channel);
                if (c != m_channelCounts.end() && --c.value() <= 0)
                    m_channelCounts.erase(c);
            }
            if (m_adminSessions > 0)
                event = QJsonObject{{"type"_L1, "client_disconnected"_L1}, {"client_id"_L1, info.clientId}};
        } else {
            --m_adminSessions;
        }
        if (info.claimsId && noteClientUser(info.clientId, info.userId, -1))
            released.emplace(info.clientId, info.userId);
        m_sessions.erase(it);
    }
    if (released && m_cluster)
        m_cluster->claimReleased(released->first, released->second);
    if (!event.isEmpty())
        adminEvent(event);
    countsMaybeChanged();
}

bool Hub::noteClientUser(const QString &clientId, const QString &userId, int delta, bool release)
{
    QList<UserConnections> &users = m_clientUsers[clientId];
    auto u = std::find_if(users.begin(), users.end(),
                          [&](const UserConnections &c) { return c.userId == userId; });
    if (u == users.end())
        u = users.insert(users.end(), UserConnections{userId, 0});
    u->connections = std::max(0, u->connections + delta);
    u->lingersUntilMs = 0;
    const bool last = u->connections == 0;
    if (last) {
        if (release || m_claimLingerMs <= 0) {
            users.erase(u);
        } else {
            u->lingersUntilMs = steadyNowMs() + m_claimLingerMs;
            m_lingering.emplace_back(u->lingersUntilMs, clientId);
        }
    }
    if (users.isEmpty())
        m_clientUsers.remove(clientId);
    return last;
}

void Hub::expireClaimsLocked(qint64 nowMs)
{
    while (!m_lingering.empty() && m_lingering.front().first <= nowMs) {
        const auto it = m_clientUsers.find(m_lingering.front().second);
        m_lingering.pop_front();
        if (it == m_clientUsers.end())
            continue;
        // Only claims still without connections and past their (latest) linger go.
        it->removeIf(
            [nowMs](const UserConnections &u) { return u.connections == 0 && u.lingersUntilMs <= nowMs; });
        if (it->isEmpty())
            m_clientUsers.erase(it);
    }
}

bool Hub::mayClaimLocked(const QString &clientId, const Identity &who, const ClientInfo *self) const
{
    if (!claims(who) || who.isAdmin())
        return true;
    const auto it = m_clientUsers.constFind(clientId);
    if (it == m_clientUsers.cend())
        return true;
    const qint64 now = steadyNowMs();
    for (const UserConnections &u : *it) {
        if (u.userId == who.subject)
            continue;
        int connections = u.connections;
        if (self && self->claimsId && self->userId == u.userId)
            --connections; // the asking connection itself, about to change hands
        if (connections > 0 || (u.connections == 0 && u.lingersUntilMs > now))
            return false;
    }
    return true;
}

bool Hub::claimClientId(quint64 sessionId, const Identity &who)
{
    if (m_cluster) {
        // The cluster's claim first (a blocking Redis call, without the lock). A connection changing hands
        // may take its id from its old identity when it was that identity's only connection with it here.
        QString clientId;
        QString replacing;
        {
            QMutexLocker lock(&m_mutex);
            const auto it = m_sessions.constFind(sessionId);
            if (it == m_sessions.cend())
                return false;
            clientId = it->clientId;
            if (it->claimsId && it->userId != who.subject) {
                const auto users = m_clientUsers.constFind(clientId);
                if (users != m_clientUsers.cend()) {
                    for (const UserConnections &u : *users) {
                        if (u.userId == it->userId && u.connections == 1)
                            replacing = u.userId;
                    }
                }
            }
        }
        if (!clusterMayClaim(clientId, who, replacing))
            return false;
    }
    QMutexLocker lock(&m_mutex);
    expireClaimsLocked(steadyNowMs());
    auto it = m_sessions.find(sessionId);
    if (it == m_sessions.end() || !mayClaimLocked(it->clientId, who, &*it))
        return false;
    // A connection that changes hands gives its identity's claim up at once: it is the same client.
    if (it->claimsId)
        noteClientUser(it->clientId, it->userId, -1, true);
    it->claimsId = claims(who);
    if (it->claimsId) {
        it->userId = who.subject;
        noteClientUser(it->clientId, it->userId, +1);
    }
    return true;
}

void Hub::setUserId(quint64 sessionId, const QString &userId)
{
    QMutexLocker lock(&m_mutex);
    auto it = m_sessions.find(sessionId);
    // A claim is an identity's: a name a client gives itself does not move it.
    if (it != m_sessions.end() && !it->claimsId)
        it->userId = userId;
}

bool Hub::addSubscription(quint64 sessionId, const QString &channel)
{
    QJsonObject event;
    {
        QMutexLocker lock(&m_mutex);
        auto it = m_sessions.find(sessionId);
        if (it == m_sessions.end() || it->channels.contains(channel))
            return false;
        if (it->channels.isEmpty() && !it->isAdmin())
            ++m_subscribers;
        it->channels.insert(channel);
        if (!it->isAdmin())
            ++m_channelCounts[channel];
        if (m_adminSessions > 0)
            event = QJsonObject{
                {"type"_L1, "client_subscribed"_L1}, {"client_id"_L1, it->clientId}, {"channel"_L1, channel}};
    }
    if (!event.isEmpty())
        adminEvent(event);
    countsMaybeChanged();
    return true;
}

bool Hub::removeSubscription(quint64 sessionId, const QString &channel)
{
    QJsonObject event;
    {
        QMutexLocker lock(&m_mutex);
        auto it = m_sessions.find(sessionId);
        if (it == m_sessions.end() || !it->channels.remove(channel))
            return false;
        if (!it->isAdmin()) {
            if (it->channels.isEmpty())
                --m_subscribers;
            auto c = m_channelCounts.find(channel);
            if (c != m_channelCounts.end() && --c.value() <= 0)
                m_channelCounts.erase(c);
        }
        if (m_adminSessions > 0)
            event = QJsonObject{{"type"_L1, "client_unsubscribed"_L1},
                                {"client_id"_L1, it->clientId},
                                {"channel"_L1, channel}};
    }
    if (!event.isEmpty())
        adminEvent(event);
    countsMaybeChanged();
    return true;
}

Result<qint64, StoreError> Hub::takeIdLocked()
{
    const qint64 id = m_nextId;
    if (m_store && id > m_reservedId) {
        // Ids of unstored messages must not be handed out again after a crash either: a client may resume
        // from one. Record a block ahead, once per block.
        constexpr qint64 Block = 1000;
        auto reserved = m_store->reserveIds(id + Block - 1);
        if (!reserved) {
            Metrics::add(m_metrics.storeErrors);
            return Result<qint64, StoreError>::failure(reserved.error());
        }
        m_reservedId = id + Block - 1;
    }
    ++m_nextId;
    return id;
}

PublishResult Hub::publishLocked(Message message, Envelope::Target target, const QString &exclude,
                                 const RecordWrite *record, const PublishOptions *options)
{
    if (m_cluster)
        return publishClustered(std::move(message), target, exclude, record);
    if (!message.timestamp.isValid())
        message.timestamp = QDateTime::currentDateTimeUtc();
    const bool stored = m_store && m_store->isPersistent(message.channel);
    // The watch the publisher wants released by each worker's write of this envelope, if any.
    const auto fanoutWatch = [&](const Envelope &envelope) {
        return options && options->fanout && options->watch && mayHaveRecipients(envelope) ? options->watch
                                                                                           : FanoutWatchPtr();
    };

    // Group commit, when it pays: a publish that can wait for its answer commits at once if no commit is
    // under way, so a lone publisher is answered without delay (and its worker serves its next request at
    // once). Otherwise it joins the pipeline instead of waiting for the lock.
    std::unique_lock<QMutex> commitLock(m_commitMutex, std::defer_lock);
    const bool deferrable = stored && !record && options && options->watch && options->flushOn;
    if (deferrable && !commitLock.try_lock()) {
        // Take the id now and join the pipeline. The first of a group posts the flush to its own thread,
        // which runs it after serving what else is ready: a group is what the I/O threads took in meanwhile.
        // The answer waits for the commit (PlainConnection::serveHot).
        QMutexLocker lock(&m_publishMutex);
        auto id = takeIdLocked();
        if (!id)
            return PublishResult::failure(id.error());
        message.id = *id;
        EnvelopePtr envelope = makeEnvelope(std::move(message), target, exclude, stored);
        const bool fanout = fanoutWatch(*envelope) != nullptr;
        options->watch->deferred = true;
        options->watch->pending.fetch_add(1, std::memory_order_relaxed); // released by the group commit
        m_pipeline.push_back(PendingPublish{std::move(envelope), options->watch, fanout});
        if (!m_flushScheduled) {
            m_flushScheduled = true;
            QMetaObject::invokeMethod(
                options->flushOn, [this] { flushPipeline(); }, Qt::QueuedConnection);
        }
        return *id;
    }

    // Commit now. The id is taken under the publish lock; commit and dispatch happen under the commit lock,
    // which keeps commit order, id order and every worker's queue order the same: that is what makes a resume
    // gap-free (see Session::replay). Publishes already in the pipeline have lower ids and go first; those
    // that join it meanwhile have higher ones and wait for the next flush, which needs the commit lock.
    std::vector<PendingPublish> before;
    std::optional<StoreError> beforeFailure;
    // Runs after the unlock (the lock is given up below, or by its destructor first).
    const auto releaseBefore = qScopeGuard([&] {
        if (commitLock.owns_lock())
            commitLock.unlock();
        releaseCommitted(before, beforeFailure);
    });
    if (!commitLock.owns_lock())
        commitLock.lock();
    QMutexLocker lock(&m_publishMutex);
    before.swap(m_pipeline);
    auto id = takeIdLocked();
    lock.unlock();
    beforeFailure = commitAndDispatch(before);
    if (!id)
        return PublishResult::failure(id.error());
    message.id = *id;
    EnvelopePtr envelope = makeEnvelope(std::move(message), target, exclude, stored);
    if (stored || record) {
        auto committed = stored ? m_store->insert(envelope->message, envelope->json, record)
                                : m_store->records()->writeRecord(*record);
        if (!committed) {
            Metrics::add(m_metrics.storeErrors);
            return PublishResult::failure(committed.error());
        }
    }
    m_lastId.store(*id, std::memory_order_release);
    dispatch(envelope, fanoutWatch(*envelope));
    commitLock.unlock();
    Metrics::add(m_metrics.messagesPublished);
    Q_EMIT messagePublished(envelope->message);
    return *id;
}

void Hub::flushPipeline()
{
    std::vector<PendingPublish> batch;
    std::optional<StoreError> failure;
    {
        QMutexLocker commitLock(&m_commitMutex);
        {
            // Publishers keep joining the next group while this one is committed.
            QMutexLocker lock(&m_publishMutex);
            batch.swap(m_pipeline);
            m_flushScheduled = false;
        }
        failure = commitAndDispatch(batch);
    }
    releaseCommitted(batch, failure);
}

std::optional<StoreError> Hub::commitAndDispatch(const std::vector<PendingPublish> &batch)
{
    if (batch.empty())
        return std::nullopt;
    QList<Store::Insert> inserts;
    inserts.reserve(qsizetype(batch.size()));
    for (const PendingPublish &p : batch)
        inserts.append(Store::Insert{&p.envelope->message, &p.envelope->json});
    if (auto committed = m_store->insertBatch(inserts); !committed) {
        Metrics::add(m_metrics.storeErrors, qint64(batch.size()));
        return committed.error();
    }
    Metrics::add(m_metrics.groupCommits);
    Metrics::add(m_metrics.groupCommitted, qint64(batch.size()));
    for (const PendingPublish &p : batch) {
        m_lastId.store(p.envelope->message.id, std::memory_order_release);
        dispatch(p.envelope, p.fanout ? p.watch : nullptr);
    }
    Metrics::add(m_metrics.messagesPublished, qint64(batch.size()));
    for (const PendingPublish &p : batch)
        Q_EMIT messagePublished(p.envelope->message);
    return std::nullopt;
}

void Hub::releaseCommitted(const std::vector<PendingPublish> &batch, const std::optional<StoreError> &failure)
{
    // After the dispatch: a client that has its answer and then resumes finds the message.
    for (const PendingPublish &p : batch) {
        if (failure)
            p.watch->failure = failure;
        p.watch->release();
    }
}

PublishResult Hub::publishClustered(Message message, Envelope::Target target, const QString &exclude,
                                    const RecordWrite *record)
{
    // Redis orders publishes (one script takes the id, stores and puts the message on the bus), so no lock
    // here: the delivery, on every node and this one, comes back from the bus in id order.
    if (!message.timestamp.isValid())
        message.timestamp = QDateTime::currentDateTimeUtc();
    const bool stored = m_history->isPersistent(message.channel);
    // The record change goes into Redis in the same script as its event: both or neither, as in one SQLite
    // transaction on a single server.
    auto id = m_cluster->publish(message, target, exclude, stored, record);
    if (!id) {
        Metrics::add(m_metrics.storeErrors);
        return PublishResult::failure(id.error());
    }
    raiseLastId(*id);
    Metrics::add(m_metrics.messagesPublished);
    return *id;
}

void Hub::raiseLastId(qint64 id)
{
    // Publishing threads and the bus both move it, in any order: only ever up.
    qint64 seen = m_lastId.load(std::memory_order_acquire);
    while (seen < id && !m_lastId.compare_exchange_weak(seen, id, std::memory_order_acq_rel))
        ;
}

void Hub::deliverFromCluster(Message message, Envelope::Target target, const QString &excludeClientId,
                             bool stored)
{
    const qint64 id = message.id;
    EnvelopePtr envelope = makeEnvelope(std::move(message), target, excludeClientId, stored);
    raiseLastId(id);
    dispatch(envelope);
    Q_EMIT messagePublished(envelope->message);
}

PublishResult Hub::publish(Message message, const QString &excludeClientId, const RecordWrite *record,
                           const PublishOptions *options)
{
    const Envelope::Target target =
        message.channel == Channels::Broadcast ? Envelope::Target::Everyone : Envelope::Target::Channel;
    return publishLocked(std::move(message), target, excludeClientId, record, options);
}

qint64 Hub::readConsistent(const std::function<void()> &read)
{
    QMutexLocker commitLock(&m_commitMutex); // no batch half dispatched
    QMutexLocker lock(&m_publishMutex);
    read();
    return m_lastId.load(std::memory_order_acquire);
}

Result<QList<QJsonObject>, StoreError> Hub::listRecords(const QString &model, int limit, int offset,
                                                        const QString &filterField,
                                                        const QJsonValue &filterValue, qint64 *lastId)
{
    if (m_cluster) {
        // Every change is committed by the script that gives its event an id (RedisHistory::append), and one
        // script reads the records with the cluster's sequence: the list is exactly the state after that id,
        // whichever node made which change. This node's lastId() would not do: the bus may not have brought
        // it a change the list already shows (?since= would repeat it), or may bring one between the read and
        // lastId() (?since= would skip it).
        return m_clusterRecords->recordsAt(lastId, model, limit, offset, filterField, filterValue);
    }
    if (!m_store)
        return Result<QList<QJsonObject>, StoreError>::failure(
            {StoreError::Kind::Unavailable, u"the hub has no store"_s});
    Result<QList<QJsonObject>, StoreError> records = QList<QJsonObject>();
    *lastId = readConsistent(
        [&] { records = m_store->records()->records(model, limit, offset, filterField, filterValue); });
    return records;
}

PublishResult Hub::broadcastToAll(Message message)
{
    if (message.channel.isEmpty())
        message.channel = Channels::Broadcast.toString();
    return publishLocked(std::move(message), Envelope::Target::Everyone, {});
}

PublishResult Hub::sendToClient(const QString &clientId, Message message)
{
    message.channel = clientChannel(clientId);
    return publishLocked(std::move(message), Envelope::Target::Channel, {});
}

int Hub::disconnectClient(const QString &clientId, quint16 closeCode, const QString &reason)
{
    if (m_cluster)
        m_cluster->kickElsewhere(clientId, closeCode, reason);
    return disconnectLocal(clientId, closeCode, reason);
}

int Hub::disconnectLocal(const QString &clientId, quint16 closeCode, const QString &reason)
{
    QList<quint64> ids;
    {
        QMutexLocker lock(&m_mutex);
        for (auto it = m_sessions.cbegin(); it != m_sessions.cend(); ++it) {
            if (it->clientId == clientId)
                ids.append(it.key());
        }
    }
    // The lock keeps the workers alive while they are asked (Server::stopThreads); closeSession() only posts,
    // so no session finishes under it: its admin event would take the lock again (Hub::dispatch).
    QMutexLocker lock(&m_workersMutex);
    for (Worker *w : std::as_const(m_workers)) {
        for (quint64 id : std::as_const(ids))
            w->closeSession(id, closeCode, reason);
    }
    return int(ids.size());
}

bool Hub::mayHaveRecipients(const Envelope &envelope) const
{
    if (envelope.target != Envelope::Target::Channel ||
        envelope.message.channel.startsWith(Channels::ClientPrefix))
        return true;
    QMutexLocker lock(&m_mutex);
    return m_channelCounts.contains(envelope.message.channel);
}

void Hub::dispatch(const EnvelopePtr &envelope, const FanoutWatchPtr &watch)
{
    QMutexLocker lock(&m_workersMutex);
    m_queued.fetch_add(m_workers.size(), std::memory_order_relaxed);
    if (watch) {
        watch->used = true;
        watch->pending.fetch_add(int(m_workers.size()), std::memory_order_relaxed);
    }
    for (Worker *w : std::as_const(m_workers))
        w->post(envelope, watch);
}

void Hub::adminEvent(const QJsonObject &event)
{
    QJsonObject e = event;
    e.insert("timestamp"_L1, nowTimestamp());
    dispatch(makeControlEnvelope(compactJson(e), Envelope::Target::Admin));
}

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
