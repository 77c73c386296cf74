#pragma once

#include "history.h"
#include "result.h"

#include <QByteArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QList>
#include <QString>

#include <functional>
#include <optional>

namespace Herald {

// A change to a model record (seed 004's CRUD), committed together with the event announcing it.
struct RecordWrite
{
    enum class Op
    {
        Upsert,
        Delete,
    };
    Op op = Op::Upsert;
    QString model;
    qint64 id = 0;
    QJsonObject data; // the whole record, id and timestamps included (Upsert)
    // The token of the RecordLock the change was checked under. Redis refuses the write if that lock is no
    // longer held (its lease ran out and another node may have checked and written since). Empty: no check
    // (one server, whose in-process mutex cannot expire, or a write made without checking anything).
    QByteArray fence = {};
};

// Held while alive: the model changes of every node of a cluster wait for it. Empty (no token, nothing to
// release) on a single server, where the in-process mutex of ModelApi already serialises changes.
class RecordLock
{
public:
    using Release = std::function<void(const QByteArray &token)>;

    RecordLock() = default;
    RecordLock(QByteArray token, Release release);
    ~RecordLock();
    RecordLock(RecordLock &&other) noexcept;
    RecordLock &operator=(RecordLock &&other) noexcept;
    RecordLock(const RecordLock &) = delete;
    RecordLock &operator=(const RecordLock &) = delete;

    // Goes into RecordWrite::fence of the writes made under the lock.
    const QByteArray &token() const { return m_token; }
    // Early; the destructor does it otherwise. Twice is harmless.
    void release();

private:
    QByteArray m_token;
    Release m_release;
};

// Seed 004's model records, kept by Store (SQLite, one server) or RedisRecords (a cluster, --redis): ModelApi
// and the hub only see this. Thread-safe: workers call in from their own threads.
//
// Values of unique fields are compared case-insensitively for emails (ASCII letters only, as SQLite's
// lower() does).
class RecordStore
{
public:
    virtual ~RecordStore() = default;

    // The next id of the model's own sequence; a deleted record's id is never handed out again.
    virtual Result<qint64, StoreError> allocateRecordId(const QString &model) = 0;
    // Without an event (?broadcast=false). With one, Hub::publish commits both together.
    virtual Result<bool, StoreError> writeRecord(const RecordWrite &record) = 0;
    virtual Result<std::optional<QJsonObject>, StoreError> record(const QString &model, qint64 id) = 0;
    // Oldest first; with a filter field, only records whose field equals the value. A negative limit is no
    // limit.
    virtual Result<QList<QJsonObject>, StoreError> records(const QString &model, int limit, int offset,
                                                           const QString &filterField = {},
                                                           const QJsonValue &filterValue = {}) = 0;
    // How many records of the model have this value in the field, other than exceptId.
    virtual Result<qint64, StoreError> countRecords(const QString &model, const QString &field,
                                                    const QJsonValue &value, bool ignoreCase = false,
                                                    qint64 exceptId = 0) = 0;

    // Serialises model changes with those of other processes sharing the records: a check (unique email,
    // existing author) and the write that follows it, made while the lock is held, are not interleaved with
    // another node's. Waits a bounded time; Unavailable if the lock cannot be had (or the store is down).
    virtual Result<RecordLock, StoreError> lockChanges() = 0;
};

} // namespace Herald
