// The hub as a whole: its wiring (store, cluster, workers), the per-address connection limit, dispatch to the
// workers and kicks. The registry, the publish pipeline and the figures are in hubregistry.cpp,
// hubpublish.cpp and hubcounts.cpp.
#include "hub.h"

#include "channelname.h"
#include "cluster.h"
#include "publisher.h"
#include "redishistory.h"
#include "worker.h"

using namespace Qt::StringLiterals;

namespace Herald {

Hub::Hub(QObject *parent)
    : QObject(parent)
    , m_publisher(std::make_unique<Publisher>(this))
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

} // namespace Herald
