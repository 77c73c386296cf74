#pragma once

#include "history.h"
#include "idempotencykeys.h"
#include "message.h"
#include "result.h"

#include <QByteArray>
#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <chrono>
#include <optional>

namespace Herald {

// A publish kept for later (docs/protocol.md, "Scheduled delivery"): the message as published, without an id
// (it takes one when it is delivered), and when.
struct ScheduledEntry
{
    QString handle; // random, 16 hex digits: whoever knows it may have been told it, nobody can guess it
    QDateTime at;
    Message message;
    QString excludeClientId; // X-Client-Id of the publisher: not delivered to it, as a publish now

    // What GET /api/scheduled answers: {"handle","at","channel","message":{…}} (the message without id and
    // timestamp, which it gets when delivered).
    QJsonObject toJson() const;
    // The stored form, and back (nothing for bytes that do not decode).
    QByteArray encode() const;
    static std::optional<ScheduledEntry> decode(const QByteArray &bytes);
    // A new unguessable handle.
    static QString newHandle();
};

// Where scheduled publishes wait: SQLite on one server (SqliteSchedule), Redis on a cluster (RedisSchedule).
// Thread-safe. Delivery removes an entry in the same commit as the message it becomes (Store::insert,
// RedisHistory::append, given the handle): that commit is refused when the entry is gone, so an entry is
// published at most once, and since it stays until then, at least once.
class ScheduleStore
{
public:
    virtual ~ScheduleStore() = default;

    // With `keyed`, the publish's idempotency key: its answer (the handle and time) is written in the same
    // commit as the entry, so a crash leaves both or neither.
    virtual Result<bool, StoreError> add(const ScheduledEntry &entry, const KeyedCommit *keyed = nullptr) = 0;
    virtual Result<std::optional<ScheduledEntry>, StoreError> entry(const QString &handle) = 0;
    // In due order, `limit` from `offset` on.
    virtual Result<QList<ScheduledEntry>, StoreError> entries(int offset, int limit) = 0;
    // False if there was no such entry (unknown, delivered, cancelled).
    virtual Result<bool, StoreError> remove(const QString &handle) = 0;
    // The entries due at `nowMs`, earliest first, at most `max`. On a cluster each is leased to the caller
    // for `lease`: other nodes skip it until then, and take it over if this node dies before delivering it.
    virtual Result<QList<ScheduledEntry>, StoreError> claimDue(qint64 nowMs, int max,
                                                               std::chrono::milliseconds lease) = 0;
    // When the earliest entry is due (or its lease runs out), in ms since the epoch; nothing if none waits.
    virtual Result<std::optional<qint64>, StoreError> nextDue() = 0;
};

} // namespace Herald
