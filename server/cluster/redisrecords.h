#pragma once

#include "modelspec.h"
#include "recordstore.h"
#include "result.h"

#include <QByteArray>
#include <QByteArrayList>
#include <QHash>
#include <QList>

#include <atomic>
#include <chrono>

namespace Herald {

class RedisConnection;
class RedisScript;

// Seed 004's model records in Redis (--redis), shared by every node of a cluster with Store's semantics.
// Part of RedisHistory: the same connections and key prefix. Keys, for a prefix P, a model M, a field F and
// a value V:
//   P rec:M         hash    id -> the record's JSON (what the REST API returns)
//   P recids:M      zset    score id, member id: M's records, oldest first (lists and their paging)
//   P recseq:M      string  M's last record id (INCR): a deleted record's id is never handed out again
//   P idx:M:F:V     zset    score id, member id: the records of M whose F is V, for each unique and
//                           reference field of M's spec. V is typed, "s:" text (emails lower-cased, ASCII
//                           letters only as SQLite's lower()), "n:" number, "b:" boolean: 1 and "1" differ,
//                           as in SQLite. countRecords and filtered lists read these, not every record.
//   P lock:records  string  the token of the node whose model change is in progress (lockChanges)
// Every write (writeRecord, or RedisHistory::append carrying one) changes the record, its id and its index
// entries in one script, so they never disagree; an index key empties (and Redis deletes it) with the
// records it lists, so memory is bounded by the records kept. Like RedisHistory's, the scripts derive these
// keys from the prefix: a single Redis (or a primary with replicas), not Redis Cluster.
class RedisRecords : public RecordStore
{
public:
    RedisRecords(RedisConnection &redis, QByteArray prefix, const QList<ModelSpec> &models);

    static constexpr std::chrono::milliseconds DefaultLockLease{5000};
    static constexpr std::chrono::milliseconds DefaultLockWait{3000};
    // lease: how long a lock outlives a node that died holding it (a live holder whose lease runs out loses
    // its write, see RecordWrite::fence). wait: how long lockChanges() waits for another node's change.
    void setLockTiming(std::chrono::milliseconds lease, std::chrono::milliseconds wait);

    // The scripts, for RedisHistory::open() to load up front.
    static QList<const RedisScript *> scripts();
    // The Lua functions planRecord() (reads and checks a write, writing nothing) and applyRecord(), for
    // RedisHistory's append script, which commits a record with its event.
    static QByteArray lua();
    // The arguments those functions read for a write, from argument `first` on (see lua()).
    QByteArrayList writeArgs(const RecordWrite &record) const;

    // records(), and the message sequence (P seq) read in the same script: the list is exactly the state
    // after that id (X-Herald-Last-Id), whichever nodes made the changes.
    Result<QList<QJsonObject>, StoreError> recordsAt(qint64 *sequence, const QString &model, int limit,
                                                     int offset, const QString &filterField = {},
                                                     const QJsonValue &filterValue = {});

    Result<qint64, StoreError> allocateRecordId(const QString &model) override;
    Result<bool, StoreError> writeRecord(const RecordWrite &record) override;
    Result<std::optional<QJsonObject>, StoreError> record(const QString &model, qint64 id) override;
    Result<QList<QJsonObject>, StoreError> records(const QString &model, int limit, int offset,
                                                   const QString &filterField = {},
                                                   const QJsonValue &filterValue = {}) override;
    Result<qint64, StoreError> countRecords(const QString &model, const QString &field,
                                            const QJsonValue &value, bool ignoreCase = false,
                                            qint64 exceptId = 0) override;
    // SET P lock:records <random token> NX PX <lease>, retried with a short backoff for at most the wait;
    // released by a script that deletes the key only while it still holds this token.
    Result<RecordLock, StoreError> lockChanges() override;

private:
    struct Index
    {
        QByteArray field;
        bool fold = false; // emails: compared lower-cased
    };
    // The index of the field, if the model's spec has one with this folding.
    bool indexed(const QString &model, const QString &field, bool fold) const;
    QByteArray key(const char *kind, const QString &model) const;
    void unlock(const QByteArray &token);

    RedisConnection &m_redis;
    const QByteArray m_prefix;
    QHash<QString, QList<Index>> m_indexes; // per model: its unique and reference fields
    std::atomic<qint64> m_lockLeaseMs{DefaultLockLease.count()};
    std::atomic<qint64> m_lockWaitMs{DefaultLockWait.count()};
};

} // namespace Herald
