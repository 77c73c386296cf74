#include "redisschedule.h"

#include "redisconnection.h"

#include <hiredis/hiredis.h>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// KEYS: due, entries, and for a keyed publish its idempotency key. ARGV: handle, due ms, entry, and for a
// keyed publish this node's pending mark on the key and the window in ms: the key's answer is set in the same
// step, unless the key is no longer this node's claim (RedisHistory's append script does the same for a
// message).
constexpr char AddLua[] = R"lua(
if KEYS[3] then
  local held = redis.call('GET', KEYS[3])
  if held and held ~= ARGV[4] then
    return redis.error_reply('CLAIMED idempotency key held by another publish')
  end
  redis.call('SET', KEYS[3], '{"id":0,"scheduled":"' .. ARGV[1] .. '","at":' .. ARGV[2] .. '}', 'PX', ARGV[5])
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
)lua";

// KEYS: due, entries. ARGV: handle. 1 if it was there. RedisHistory's append script removes a delivered
// entry the same way (HDEL decides): a cancel and a delivery racing each other, exactly one of them wins.
constexpr char RemoveLua[] = R"lua(
local n = redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
return n
)lua";

// KEYS: due, entries. ARGV: now ms, the lease's end ms, at most this many. The due entries, each leased to
// the caller by moving its score to the lease's end: the other nodes skip it until then. An index member
// without its entry (cannot happen through these scripts; a hand-edited key) is dropped.
constexpr char ClaimLua[] = R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, h in ipairs(due) do
  local entry = redis.call('HGET', KEYS[2], h)
  if entry then
    redis.call('ZADD', KEYS[1], ARGV[2], h)
    out[#out + 1] = entry
  else
    redis.call('ZREM', KEYS[1], h)
  end
end
return out
)lua";

// KEYS: due, entries. ARGV: first rank, last rank. The entries in due order.
constexpr char ListLua[] = R"lua(
local handles = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2])
local out = {}
for _, h in ipairs(handles) do
  local entry = redis.call('HGET', KEYS[2], h)
  if entry then
    out[#out + 1] = entry
  end
end
return out
)lua";
} // namespace

RedisSchedule::RedisSchedule(RedisConnection &redis, QByteArray prefix, RedisIdempotency &keys)
    : m_redis(redis)
    , m_prefix(std::move(prefix))
    , m_keys(keys)
{}

QList<const RedisScript *> RedisSchedule::scripts()
{
    return {&redisScript<AddLua>(), &redisScript<RemoveLua>(), &redisScript<ClaimLua>(),
            &redisScript<ListLua>()};
}

Result<bool, StoreError> RedisSchedule::add(const ScheduledEntry &entry, const KeyedCommit *keyed)
{
    QByteArrayList keys{dueKey(), entriesKey()};
    QByteArrayList args{entry.handle.toUtf8(), QByteArray::number(entry.at.toMSecsSinceEpoch()),
                        entry.encode()};
    if (keyed && !keyed->key.isEmpty()) {
        keys.append(m_keys.key(keyed->scope, keyed->key));
        args << m_keys.pendingValue() << QByteArray::number(m_keys.windowMs());
    }
    auto reply = m_redis.eval(redisScript<AddLua>(), keys, args);
    if (!reply) {
        StoreError e = reply.error();
        if (e.message.contains(u"CLAIMED"_s))
            e.kind = StoreError::Kind::Claimed; // nothing was added
        else if (e.answerLost)
            e.kind = StoreError::Kind::Unknown; // the entry and its key's answer may have been written
        return Result<bool, StoreError>::failure(e);
    }
    return true;
}

Result<std::optional<ScheduledEntry>, StoreError> RedisSchedule::entry(const QString &handle)
{
    using R = Result<std::optional<ScheduledEntry>, StoreError>;
    auto reply = m_redis.command({"HGET", entriesKey(), handle.toUtf8()});
    if (!reply)
        return R::failure(reply.error());
    const redisReply *r = reply->get();
    if (r->type == REDIS_REPLY_NIL)
        return std::optional<ScheduledEntry>();
    if (r->type != REDIS_REPLY_STRING)
        return R::failure(unexpectedRedisReply("HGET scheduled"));
    return ScheduledEntry::decode(redisBytes(r));
}

Result<QList<ScheduledEntry>, StoreError> RedisSchedule::decodeAll(Result<RedisReply, StoreError> reply,
                                                                   const char *what)
{
    using R = Result<QList<ScheduledEntry>, StoreError>;
    if (!reply)
        return R::failure(reply.error());
    const redisReply *r = reply->get();
    if (r->type != REDIS_REPLY_ARRAY)
        return R::failure(unexpectedRedisReply(what));
    QList<ScheduledEntry> list;
    for (size_t i = 0; i < r->elements; ++i) {
        if (auto e = ScheduledEntry::decode(redisBytes(r->element[i])))
            list.append(std::move(*e));
    }
    return list;
}

Result<QList<ScheduledEntry>, StoreError> RedisSchedule::entries(int offset, int limit)
{
    return decodeAll(
        m_redis.eval(redisScript<ListLua>(), {dueKey(), entriesKey()},
                     {QByteArray::number(offset), QByteArray::number(qint64(offset) + limit - 1)}),
        "scheduled list");
}

Result<bool, StoreError> RedisSchedule::remove(const QString &handle)
{
    auto reply = m_redis.eval(redisScript<RemoveLua>(), {dueKey(), entriesKey()}, {handle.toUtf8()});
    if (!reply)
        return Result<bool, StoreError>::failure(reply.error());
    return redisInteger(reply->get()).value_or(0) == 1;
}

Result<QList<ScheduledEntry>, StoreError> RedisSchedule::claimDue(qint64 nowMs, int max,
                                                                  std::chrono::milliseconds lease)
{
    return decodeAll(m_redis.eval(redisScript<ClaimLua>(), {dueKey(), entriesKey()},
                                  {QByteArray::number(nowMs), QByteArray::number(nowMs + lease.count()),
                                   QByteArray::number(max)}),
                     "scheduled claim");
}

Result<std::optional<qint64>, StoreError> RedisSchedule::nextDue()
{
    using R = Result<std::optional<qint64>, StoreError>;
    auto reply = m_redis.command({"ZRANGE", dueKey(), "0", "0", "WITHSCORES"});
    if (!reply)
        return R::failure(reply.error());
    const redisReply *r = reply->get();
    if (r->type != REDIS_REPLY_ARRAY)
        return R::failure(unexpectedRedisReply("ZRANGE scheduled"));
    if (r->elements < 2)
        return std::optional<qint64>();
    bool ok = false;
    const qint64 ms = qint64(redisBytes(r->element[1]).toDouble(&ok));
    if (!ok)
        return R::failure(unexpectedRedisReply("ZRANGE scheduled"));
    return std::optional<qint64>(ms);
}

} // namespace Herald
