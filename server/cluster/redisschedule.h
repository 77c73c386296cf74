#pragma once

#include "redisconnection.h"
#include "redisidempotency.h"
#include "schedulestore.h"

#include <QByteArray>
#include <QByteArrayList>

namespace Herald {

// Scheduled publishes of a cluster (--redis), shared by every node. Keys, for a prefix P:
//   P scheduled          zset  score the time (ms) a node should next look at the entry, member its handle:
//                              its due time, or while a node holds it (claimDue) the end of that lease
//   P scheduled:entries  hash  handle -> the entry (ScheduledEntry::encode)
// Exactly once: a node claims due entries with one script (each leased to it, so the others skip them), then
// publishes each through RedisHistory::append with its handle, whose script deletes the entry in the same
// step as it takes the id and publishes, and publishes nothing if the entry is gone. So a node that dies
// after its claim leaves the entry to another node once the lease ends, one that dies after the append has
// published it and left nothing, and a slow node whose lease ran out while another published it publishes
// nothing: no state in between can publish twice or lose it, whatever the timing. Both keys empty (and
// Redis deletes them) once every entry is delivered or cancelled. Part of RedisHistory: the same connections
// and key prefix.
class RedisSchedule : public ScheduleStore
{
public:
    // `keys`: where a keyed publish's answer goes, in the script that adds its entry (part of RedisHistory).
    RedisSchedule(RedisConnection &redis, QByteArray prefix, RedisIdempotency &keys);

    // The scripts, for RedisHistory::open() to load up front.
    static QList<const RedisScript *> scripts();
    // The keys and the argument RedisHistory::append's script needs to consume an entry: KEYS 9 and 10, and
    // the handle as its last argument.
    QByteArrayList consumeKeys() const { return {dueKey(), entriesKey()}; }

    Result<bool, StoreError> add(const ScheduledEntry &entry, const KeyedCommit *keyed = nullptr) override;
    Result<std::optional<ScheduledEntry>, StoreError> entry(const QString &handle) override;
    Result<QList<ScheduledEntry>, StoreError> entries(int offset, int limit) override;
    Result<bool, StoreError> remove(const QString &handle) override;
    Result<QList<ScheduledEntry>, StoreError> claimDue(qint64 nowMs, int max,
                                                       std::chrono::milliseconds lease) override;
    Result<std::optional<qint64>, StoreError> nextDue() override;

private:
    QByteArray dueKey() const { return m_prefix + "scheduled"; }
    QByteArray entriesKey() const { return m_prefix + "scheduled:entries"; }
    // The entries of a script's array reply (bulk strings), decoded.
    static Result<QList<ScheduledEntry>, StoreError> decodeAll(Result<RedisReply, StoreError> reply,
                                                               const char *what);

    RedisConnection &m_redis;
    const QByteArray m_prefix;
    RedisIdempotency &m_keys;
};

} // namespace Herald
