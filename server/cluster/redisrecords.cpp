#include "redisrecords.h"

#include "logging.h"
#include "redisconnection.h"

#include <QDeadlineTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRandomGenerator>
#include <QThread>

#include <hiredis/hiredis.h>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
using Error = StoreError;

// Shared by every script here and by RedisHistory's append script.
constexpr char RecordLua[] = R"lua(
-- A field's value as the index keys spell it: typed, so 1 and "1" differ (as in SQLite), and lower-cased
-- when folded (string.lower: ASCII letters only, as SQLite's lower()). nil for null, absent, arrays and
-- objects: not indexed, and equal to nothing.
local function indexValue(v, fold)
  local t = type(v)
  if t == 'string' then
    if fold then
      v = string.lower(v)
    end
    return 's:' .. v
  elseif t == 'number' then
    if v == math.floor(v) and math.abs(v) < 9007199254740992 then
      return 'n:' .. string.format('%d', v)
    end
    return 'n:' .. string.format('%.17g', v)
  elseif t == 'boolean' then
    return v and 'b:1' or 'b:0'
  end
  return nil
end

-- A stored record's fields; a record that does not decode has none (it is still listed and deleted).
local function storedFields(json)
  local ok, o = pcall(cjson.decode, json)
  if ok and type(o) == 'table' then
    return o
  end
  return {}
end

-- Reads and checks what a record write needs, writing nothing: a script that fails must fail before its first
-- write, since Redis does not roll a script back. The write is args[i]…: op ('u' upsert, 'd' delete), prefix,
-- model, id, the record's JSON (upsert), the fence ('' for none), the number of indexed fields, then each
-- one's name and '1' if it is folded. Returns the plan, or nil and why.
local function planRecord(args, i)
  local p = {op = args[i], prefix = args[i + 1], model = args[i + 2], id = args[i + 3], json = args[i + 4]}
  local fence = args[i + 5]
  -- The writer checked its constraints under a lock that has since expired: another node may have checked
  -- and written in between, so this write could break a constraint.
  if fence ~= '' and redis.call('GET', p.prefix .. 'lock:records') ~= fence then
    return nil, 'LOCKLOST the lock on model changes expired before this change was written; try again'
  end
  p.key = p.prefix .. 'rec:' .. p.model
  local old = redis.call('HGET', p.key, p.id)
  local before = old and storedFields(old) or {}
  local after = {}
  if p.op == 'u' then
    after = cjson.decode(p.json)
  end
  p.remove, p.add = {}, {}
  for k = 0, tonumber(args[i + 6]) - 1 do
    local field, fold = args[i + 7 + 2 * k], args[i + 8 + 2 * k] == '1'
    local was, is = indexValue(before[field], fold), indexValue(after[field], fold)
    if was ~= is then
      local base = p.prefix .. 'idx:' .. p.model .. ':' .. field .. ':'
      if was then
        p.remove[#p.remove + 1] = base .. was
      end
      if is then
        p.add[#p.add + 1] = base .. is
      end
    end
  end
  return p
end

local function applyRecord(p)
  for _, k in ipairs(p.remove) do
    redis.call('ZREM', k, p.id)
  end
  for _, k in ipairs(p.add) do
    redis.call('ZADD', k, p.id, p.id)
  end
  local ids = p.prefix .. 'recids:' .. p.model
  if p.op == 'u' then
    redis.call('HSET', p.key, p.id, p.json)
    redis.call('ZADD', ids, p.id, p.id)
  else
    redis.call('HDEL', p.key, p.id)
    redis.call('ZREM', ids, p.id)
  end
end
)lua";

// ARGV: a record write (planRecord).
constexpr char WriteLua[] = R"lua(
local plan, why = planRecord(ARGV, 1)
if not plan then
  return redis.error_reply(why)
end
applyRecord(plan)
return 1
)lua";

// ARGV: prefix, model, offset, limit (negative: no limit), and with a filter: its field, its value as JSON
// ("[v]"), '1' if the field has an index. Returns the message sequence, then the records' JSON, oldest first:
// read in one go, so the list is exactly the state after that id.
constexpr char ListLua[] = R"lua(
local prefix, model = ARGV[1], ARGV[2]
local offset, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {redis.call('GET', prefix .. 'seq') or '0'}
if limit == 0 then
  return out
end
local stop = -1
if limit > 0 then
  stop = offset + limit - 1
end
local key = prefix .. 'rec:' .. model
local ids
if not ARGV[5] then
  ids = redis.call('ZRANGE', prefix .. 'recids:' .. model, offset, stop)
else
  local want = indexValue(cjson.decode(ARGV[6])[1], false)
  if not want then
    return out
  end
  if ARGV[7] == '1' then
    ids = redis.call('ZRANGE', prefix .. 'idx:' .. model .. ':' .. ARGV[5] .. ':' .. want, offset, stop)
  else
    -- A field without an index: every record is read (the REST API filters by references, which have one).
    local skip = offset
    for _, id in ipairs(redis.call('ZRANGE', prefix .. 'recids:' .. model, 0, -1)) do
      local json = redis.call('HGET', key, id)
      if json and indexValue(storedFields(json)[ARGV[5]], false) == want then
        if skip > 0 then
          skip = skip - 1
        else
          out[#out + 1] = json
          if limit > 0 and #out > limit then
            break
          end
        end
      end
    end
    return out
  end
end
-- In slices: unpack() of a long list would overflow Lua's stack.
for first = 1, #ids, 500 do
  local values = redis.call('HMGET', key, unpack(ids, first, math.min(first + 499, #ids)))
  for _, json in ipairs(values) do
    if json then
      out[#out + 1] = json
    end
  end
end
return out
)lua";

// ARGV: prefix, model, field, '1' to fold case, the value as JSON ("[v]"), the id left out ('0': none), '1'
// if the field has an index with that folding.
constexpr char CountLua[] = R"lua(
local prefix, model, field, fold, except = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1', ARGV[6]
local want = indexValue(cjson.decode(ARGV[5])[1], fold)
if not want then
  return 0
end
if ARGV[7] == '1' then
  local k = prefix .. 'idx:' .. model .. ':' .. field .. ':' .. want
  local n = redis.call('ZCARD', k)
  if except ~= '0' and redis.call('ZSCORE', k, except) then
    n = n - 1
  end
  return n
end
local n = 0
local all = redis.call('HGETALL', prefix .. 'rec:' .. model)
for i = 1, #all, 2 do
  if all[i] ~= except and indexValue(storedFields(all[i + 1])[field], fold) == want then
    n = n + 1
  end
end
return n
)lua";

// KEYS: the lock. ARGV: the token. Deletes the lock only while it is this holder's: one whose lease ran out
// must not release its successor's.
constexpr char UnlockLua[] = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua";

// A value as a script reads it: JSON, in an array so that any value (a bare string, null) is a document.
QByteArray valueArgument(const QJsonValue &value)
{
    return QJsonDocument(QJsonArray{value}).toJson(QJsonDocument::Compact);
}

std::optional<QJsonObject> decodeRecord(const redisReply *r)
{
    const QJsonDocument doc = QJsonDocument::fromJson(redisBytes(r));
    if (!doc.isObject()) {
        qCWarning(lcRedis) << "skipping an unreadable stored record";
        return std::nullopt;
    }
    return doc.object();
}
} // namespace

RedisRecords::RedisRecords(RedisConnection &redis, QByteArray prefix, const QList<ModelSpec> &models)
    : m_redis(redis)
    , m_prefix(std::move(prefix))
{
    for (const ModelSpec &model : models) {
        QList<Index> &indexes = m_indexes[model.name];
        for (const FieldSpec &f : model.fields) {
            // The fields ModelApi counts (uniqueness, references to a record being deleted) and filters by.
            if (f.unique || f.type == FieldSpec::Type::Reference)
                indexes.append({f.name.toUtf8(), f.type == FieldSpec::Type::Email});
        }
    }
}

void RedisRecords::setLockTiming(std::chrono::milliseconds lease, std::chrono::milliseconds wait)
{
    m_lockLeaseMs.store(std::max<qint64>(1, lease.count()));
    m_lockWaitMs.store(std::max<qint64>(0, wait.count()));
}

QList<const RedisScript *> RedisRecords::scripts()
{
    return {&redisScript<RecordLua, WriteLua>(), &redisScript<RecordLua, ListLua>(),
            &redisScript<RecordLua, CountLua>(), &redisScript<UnlockLua>()};
}

QByteArray RedisRecords::lua()
{
    return QByteArray(RecordLua);
}

QByteArray RedisRecords::key(const char *kind, const QString &model) const
{
    return m_prefix + kind + model.toUtf8();
}

bool RedisRecords::indexed(const QString &model, const QString &field, bool fold) const
{
    const QByteArray name = field.toUtf8();
    const QList<Index> indexes = m_indexes.value(model);
    return std::any_of(indexes.begin(), indexes.end(),
                       [&](const Index &i) { return i.field == name && i.fold == fold; });
}

QByteArrayList RedisRecords::writeArgs(const RecordWrite &record) const
{
    const bool upsert = record.op == RecordWrite::Op::Upsert;
    const QList<Index> indexes = m_indexes.value(record.model);
    QByteArrayList args{upsert ? "u" : "d",
                        m_prefix,
                        record.model.toUtf8(),
                        QByteArray::number(record.id),
                        upsert ? compactJson(record.data) : QByteArray(),
                        record.fence,
                        QByteArray::number(indexes.size())};
    for (const Index &i : indexes)
        args << i.field << (i.fold ? "1" : "0");
    return args;
}

Result<qint64, StoreError> RedisRecords::allocateRecordId(const QString &model)
{
    using R = Result<qint64, StoreError>;
    auto reply = m_redis.command({"INCR", key("recseq:", model)});
    if (!reply)
        return R::failure(reply.error());
    const auto id = redisInteger(reply->get());
    if (!id || *id <= 0)
        return R::failure(unexpectedRedisReply("INCR recseq"));
    return *id;
}

Result<bool, StoreError> RedisRecords::writeRecord(const RecordWrite &record)
{
    using R = Result<bool, StoreError>;
    auto reply = m_redis.eval(redisScript<RecordLua, WriteLua>(), {}, writeArgs(record));
    if (!reply)
        return R::failure(reply.error());
    return true;
}

Result<std::optional<QJsonObject>, StoreError> RedisRecords::record(const QString &model, qint64 id)
{
    using R = Result<std::optional<QJsonObject>, StoreError>;
    auto reply = m_redis.command({"HGET", key("rec:", model), QByteArray::number(id)});
    if (!reply)
        return R::failure(reply.error());
    const redisReply *r = reply->get();
    if (r->type == REDIS_REPLY_NIL)
        return std::optional<QJsonObject>();
    if (r->type != REDIS_REPLY_STRING)
        return R::failure(unexpectedRedisReply("HGET rec"));
    return decodeRecord(r);
}

Result<QList<QJsonObject>, StoreError> RedisRecords::records(const QString &model, int limit, int offset,
                                                             const QString &filterField,
                                                             const QJsonValue &filterValue)
{
    return recordsAt(nullptr, model, limit, offset, filterField, filterValue);
}

Result<QList<QJsonObject>, StoreError> RedisRecords::recordsAt(qint64 *sequence, const QString &model,
                                                               int limit, int offset,
                                                               const QString &filterField,
                                                               const QJsonValue &filterValue)
{
    using R = Result<QList<QJsonObject>, StoreError>;
    QByteArrayList args{m_prefix, model.toUtf8(), QByteArray::number(std::max(0, offset)),
                        QByteArray::number(limit)};
    if (!filterField.isEmpty())
        args << filterField.toUtf8() << valueArgument(filterValue)
             << (indexed(model, filterField, false) ? "1" : "0");
    auto reply = m_redis.eval(redisScript<RecordLua, ListLua>(), {}, args);
    if (!reply)
        return R::failure(reply.error());
    const redisReply *r = reply->get();
    const auto seq = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 ? redisInteger(r->element[0])
                                                                      : std::optional<qint64>();
    if (!seq)
        return R::failure(unexpectedRedisReply("the list of records"));
    if (sequence)
        *sequence = *seq;
    QList<QJsonObject> list;
    list.reserve(qsizetype(r->elements) - 1);
    for (size_t i = 1; i < r->elements; ++i) {
        if (auto o = decodeRecord(r->element[i]))
            list.append(std::move(*o));
    }
    return list;
}

Result<qint64, StoreError> RedisRecords::countRecords(const QString &model, const QString &field,
                                                      const QJsonValue &value, bool ignoreCase,
                                                      qint64 exceptId)
{
    using R = Result<qint64, StoreError>;
    auto reply =
        m_redis.eval(redisScript<RecordLua, CountLua>(), {},
                     {m_prefix, model.toUtf8(), field.toUtf8(), ignoreCase ? "1" : "0", valueArgument(value),
                      QByteArray::number(exceptId), indexed(model, field, ignoreCase) ? "1" : "0"});
    if (!reply)
        return R::failure(reply.error());
    const auto n = redisInteger(reply->get());
    if (!n)
        return R::failure(unexpectedRedisReply("the count of records"));
    return *n;
}

Result<RecordLock, StoreError> RedisRecords::lockChanges()
{
    using R = Result<RecordLock, StoreError>;
    const QByteArray lock = m_prefix + "lock:records";
    // Random, so that the token names this one holding: a holder whose lease ran out can neither release
    // nor write under its successor's.
    quint32 random[4];
    QRandomGenerator::system()->fillRange(random);
    const QByteArray token = QByteArray(reinterpret_cast<const char *>(random), sizeof(random)).toHex();
    const QByteArray lease = QByteArray::number(m_lockLeaseMs.load());
    const qint64 waitMs = m_lockWaitMs.load();
    const QDeadlineTimer deadline(waitMs);
    qint64 pauseMs = 1;
    for (;;) {
        auto reply = m_redis.command({"SET", lock, token, "NX", "PX", lease});
        if (!reply)
            return R::failure(reply.error());
        // "OK", or nil while another node's change holds it.
        if (reply->get()->type == REDIS_REPLY_STATUS)
            return RecordLock(token, [this](const QByteArray &t) { unlock(t); });
        const qint64 left = deadline.remainingTime();
        if (left <= 0)
            return R::failure(
                {Error::Kind::Unavailable,
                 u"another node's change to the model records held their lock for over %1 ms; try again"_s
                     .arg(waitMs)});
        // A changing pause, so that nodes waiting together do not retry in step.
        QThread::msleep(
            quint64(std::min(left, pauseMs + qint64(QRandomGenerator::global()->bounded(int(pauseMs))))));
        pauseMs = std::min<qint64>(pauseMs * 2, 16);
    }
}

void RedisRecords::unlock(const QByteArray &token)
{
    // Best effort: if Redis cannot be told, the lease ends the lock.
    if (auto reply = m_redis.eval(redisScript<UnlockLua>(), {m_prefix + "lock:records"}, {token}); !reply)
        qCWarning(lcRedis).noquote() << "cannot release the lock on model changes:" << reply.error().message;
}

} // namespace Herald
