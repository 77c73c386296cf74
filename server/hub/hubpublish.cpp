// The hub's publish pipeline: one id sequence, commits (grouped on the keep-alive path), cluster publishes,
// in id order to the workers.
#include "hub.h"

#include "channelname.h"
#include "cluster.h"
#include "redishistory.h"
#include "worker.h"

#include <QScopeGuard>
#include <QTimer>

#include <mutex>

using namespace Qt::StringLiterals;

namespace Herald {

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
    const QString scheduled = options ? options->scheduled : QString();
    const KeyedCommit *keyed = options && !options->keyed.key.isEmpty() ? &options->keyed : nullptr;
    if (m_cluster)
        return publishClustered(std::move(message), target, exclude, record, scheduled, keyed);
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
    // An update or a withdrawal commits at once: the next one of its chain resolves against the store
    // (Publisher::resolveReplaces), and a stale one must fail alone, not with a group.
    const bool supersedes = message.notification.replaces || message.notification.withdraws;
    const bool deferrable =
        stored && !record && !supersedes && !keyed && options && options->watch && options->flushOn;
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
    if (stored || record || ((!scheduled.isEmpty() || keyed) && m_store)) {
        // A scheduled message on an unstored channel is taken from the schedule before it is sent: such a
        // channel keeps nothing across a crash, this message no more than the others. A keyed one's answer
        // is written before it is sent, for the same reason.
        Result<bool, StoreError> committed = true;
        if (stored)
            committed = m_store->insert(envelope->message, envelope->json, record, scheduled, keyed);
        else if (record)
            committed = m_store->records()->writeRecord(*record);
        else if (!scheduled.isEmpty()) {
            if (auto taken = m_store->schedule()->remove(scheduled); !taken)
                committed = taken;
            else if (!*taken)
                committed = Result<bool, StoreError>::failure(
                    {StoreError::Kind::Gone, u"scheduled publish %1 was cancelled"_s.arg(scheduled)});
        }
        if (committed && !stored && keyed) {
            const KeyedOutcome outcome{envelope->message.id, {}, {}};
            committed = m_store->idempotency()->remember(keyed->scope, keyed->key, outcome);
        }
        if (!committed) {
            // A stale update is the publisher's to resolve again (Publisher::publishResolved), and a
            // scheduled publish that is gone was cancelled or delivered: neither is a store error.
            if (committed.error().kind != StoreError::Kind::Stale &&
                committed.error().kind != StoreError::Kind::Gone)
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
                                    const RecordWrite *record, const QString &scheduled,
                                    const KeyedCommit *keyed)
{
    // Redis orders publishes (one script takes the id, stores and puts the message on the bus), so no lock
    // here: the delivery, on every node and this one, comes back from the bus in id order.
    if (!message.timestamp.isValid())
        message.timestamp = QDateTime::currentDateTimeUtc();
    const bool stored = m_history->isPersistent(message.channel);
    // The record change goes into Redis in the same script as its event: both or neither, as in one SQLite
    // transaction on a single server.
    auto id = m_cluster->publish(message, target, exclude, stored, record, scheduled, keyed);
    if (!id) {
        if (id.error().kind != StoreError::Kind::Stale && id.error().kind != StoreError::Kind::Gone &&
            id.error().kind != StoreError::Kind::Claimed) // as in publishLocked
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

} // namespace Herald
