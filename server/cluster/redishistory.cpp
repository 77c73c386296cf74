#include "redishistory.h"

#include "channelname.h"
#include "logging.h"
#include "pagelimit.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QRandomGenerator>
#include <QTimer>

#include <hiredis/hiredis.h>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
using Error = StoreError;

// Shared by the scripts that delete: retention as Store applies it, over every key a message has, and expiry.
// A channel's keys come as a block of seven (RedisHistory::channelKeys): msgs, times, unread, meta (chan:),
// exp, sup and wd.
constexpr char RetentionLua[] = R"lua(
local function channelAt(base)
  return {msgs = KEYS[base], times = KEYS[base + 1], unread = KEYS[base + 2], meta = KEYS[base + 3],
          exp = KEYS[base + 4], sup = KEYS[base + 5], wd = KEYS[base + 6]}
end

local function idsOf(members, list)
  for i = 1, #members do
    list[#list + 1] = string.match(members[i], '^%d+')
  end
  return list
end

-- Removes these ids from the keys that index messages by id, in slices: unpack() of a long list would
-- overflow Lua's stack.
local function forget(c, ids, list)
  for first = 1, #list, 500 do
    local last = math.min(first + 499, #list)
    redis.call('ZREM', c.times, unpack(list, first, last))
    redis.call('ZREM', c.unread, unpack(list, first, last))
    redis.call('ZREM', c.exp, unpack(list, first, last))
    redis.call('HDEL', ids, unpack(list, first, last))
  end
end

-- Deletes a channel's messages with id <= upTo (a decimal string) from every key that holds them: shown,
-- withdrawn events and superseded ones. Keeps the highest such point: covers() and replay() must know that
-- history before it is gone.
local function removeUpTo(c, ids, upTo)
  local list = idsOf(redis.call('ZRANGEBYSCORE', c.msgs, '-inf', upTo), {})
  idsOf(redis.call('ZRANGEBYSCORE', c.wd, '-inf', upTo), list)
  idsOf(redis.call('ZRANGEBYSCORE', c.sup, '-inf', upTo), list)
  forget(c, ids, list)
  redis.call('ZREMRANGEBYSCORE', c.msgs, '-inf', upTo)
  redis.call('ZREMRANGEBYSCORE', c.wd, '-inf', upTo)
  redis.call('ZREMRANGEBYSCORE', c.sup, '-inf', upTo)
  local before = redis.call('HGET', c.meta, 'pruned_up_to')
  if not before or tonumber(before) < tonumber(upTo) then
    redis.call('HSET', c.meta, 'pruned_up_to', upTo)
  end
  return #list
end

-- Deletes the channel's messages whose expiry is at or before now (ms). No gap is recorded: an expired
-- message is gone for everyone, a resume has nothing to miss. Every read of a channel runs this first, so
-- that what it reads is exact; a channel without expiring messages costs one lookup.
local function purgeExpired(c, ids, now)
  local gone = redis.call('ZRANGEBYSCORE', c.exp, '-inf', now)
  if #gone == 0 then
    return 0
  end
  for i = 1, #gone do
    redis.call('ZREMRANGEBYSCORE', c.msgs, gone[i], gone[i])
  end
  forget(c, ids, gone)
  return #gone
end

-- The newest maxCount messages stay (0: no limit); every message up to the newest one timed before the
-- cutoff (ms, '' for no age limit) goes.
local function prune(c, ids, maxCount, cutoff)
  local upTo = nil
  if maxCount > 0 then
    local next = redis.call('ZREVRANGE', c.msgs, maxCount, maxCount)
    if next[1] then
      upTo = string.match(next[1], '^%d+')
    end
  end
  if cutoff ~= '' then
    local old = redis.call('ZRANGEBYSCORE', c.times, '-inf', '(' .. cutoff)
    for i = 1, #old do
      if not upTo or tonumber(old[i]) > tonumber(upTo) then
        upTo = old[i]
      end
    end
  end
  if not upTo then
    return 0
  end
  return removeUpTo(c, ids, upTo)
end
)lua";

// KEYS: seq, ids, channels, the publish's own key (see below), then the channel's block (RetentionLua), for
// a scheduled publish the schedule's two keys (RedisSchedule::consumeKeys), and for a keyed publish its
// idempotency key (RedisIdempotency::key) last.
// ARGV: bus channel, bus payload, persist, channel, JSON, timestamp ms, user queue, maxCount, floor, expires
// ms or '', the id it supersedes or '', '1' for a withdrawn event, the idempotency key's pending mark (this
// node's claim) or '', the window in ms, then a record write (RedisRecords::writeArgs) or '', and for a
// scheduled publish its handle last.
constexpr char AppendLua[] = R"lua(
-- INCR, store and PUBLISH in one script: Redis runs one script at a time, so every node receives the bus
-- messages in id order, and a client that resumes on another node from the last id it saw misses nothing.
-- A model record changes in the same script as its event takes its id: a list read with the sequence
-- (RedisRecords::recordsAt) holds exactly the changes up to that id.
-- KEYS[4] is this publish's own key: a retry whose first try ran (its answer was lost) gets the id that try
-- took and publishes nothing. Checked first, before a record's plan, which the first try changed.
local done = redis.call('GET', KEYS[4])
if done then
  return tonumber(done)
end
local c = channelAt(5)
-- A keyed publish commits its idempotency key's answer with the message (below). Its key must still hold
-- this node's claim: one that expired (a slow Redis, a node that stalled) may have been claimed by a retry,
-- or answered, and then this publish is the second one.
local idem = nil
if ARGV[13] ~= '' then
  idem = KEYS[#KEYS]
  local held = redis.call('GET', idem)
  if held and held ~= ARGV[13] then
    return redis.error_reply('CLAIMED idempotency key held by another publish')
  end
end
-- An update or a withdrawal supersedes its chain's latest message: still shown, or another update came
-- first (RedisHistory::append answers Stale, the publisher resolves again). Checked before anything is done.
local head = ARGV[11]
if head ~= '' then
  local expires = redis.call('ZSCORE', c.exp, head)
  if #redis.call('ZRANGEBYSCORE', c.msgs, head, head) == 0 or
     (expires and tonumber(expires) <= tonumber(ARGV[6])) then
    return redis.error_reply('STALE message ' .. head .. ' is no longer the latest of its chain')
  end
end
local plan = nil
if ARGV[15] ~= '' then
  local why
  plan, why = planRecord(ARGV, 15)
  if not plan then
    return redis.error_reply(why)
  end
end
-- A scheduled publish is delivered by deleting its entry in this same step: gone already (cancelled, or
-- delivered by another node whose lease this one outlived), nothing is published (0). (A keyed publish's
-- key is KEYS[12] without a schedule, KEYS[14] with one.)
if KEYS[13] then
  if redis.call('HDEL', KEYS[13], ARGV[#ARGV]) == 0 then
    return 0
  end
  redis.call('ZREM', KEYS[12], ARGV[#ARGV])
end
-- The floor: an id the caller has already seen. A Redis that lost its data (restarted without persistence)
-- must not hand out that id again.
local floor = tonumber(ARGV[9])
if floor > 0 and tonumber(redis.call('GET', KEYS[1]) or '0') < floor then
  redis.call('SET', KEYS[1], ARGV[9])
end
local n = redis.call('INCR', KEYS[1])
local id = string.format('%d', n)
redis.call('SET', KEYS[4], id, 'EX', 600)
if idem then
  redis.call('SET', idem, '{"id":' .. id .. '}', 'PX', ARGV[14])
end
if ARGV[3] == '1' then
  -- A withdrawn event is kept apart (wd): listings without since never show it, reads with since merge it.
  if ARGV[12] == '1' then
    redis.call('ZADD', c.wd, id, id .. ' ' .. ARGV[5])
  else
    redis.call('ZADD', c.msgs, id, id .. ' ' .. ARGV[5])
    if ARGV[7] == '1' then
      redis.call('ZADD', c.unread, id, id)
    end
  end
  redis.call('ZADD', c.times, ARGV[6], id)
  redis.call('HSET', KEYS[2], id, ARGV[4])
  redis.call('SADD', KEYS[3], ARGV[4])
  if ARGV[10] ~= '' then
    redis.call('ZADD', c.exp, ARGV[10], id)
  end
  if head ~= '' then
    -- Hidden from every listing; the link (sup) resolves the chain from any of its ids (ChainLua).
    redis.call('ZREMRANGEBYSCORE', c.msgs, head, head)
    redis.call('ZREM', c.times, head)
    redis.call('ZREM', c.unread, head)
    redis.call('ZREM', c.exp, head)
    redis.call('ZADD', c.sup, head, head .. ' ' .. id)
  end
  prune(c, KEYS[2], tonumber(ARGV[8]), '')
end
if plan then
  applyRecord(plan)
end
redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[2])
return n
)lua";

// Appends to `out` the members of sorted WITHSCORES lists (member, score, …), merged in id order, newest
// first when `descending`, until `max` have been appended: the merge both replay scripts share.
constexpr char MergeLua[] = R"lua(
local function mergeLists(lists, out, max, descending)
  local pos, first = {}, #out
  for i = 1, #lists do
    pos[i] = 1
  end
  while #out - first < max do
    local best, bestId = nil, nil
    for i = 1, #lists do
      local score = lists[i][pos[i] + 1]
      if score then
        local id = tonumber(score)
        if not best or (descending and id > bestId) or (not descending and id < bestId) then
          best, bestId = i, id
        end
      end
    end
    if not best then
      break
    end
    out[#out + 1] = lists[best][pos[best]]
    pos[best] = pos[best] + 2
  end
  return out
end
)lua";

// KEYS: seq, ids, then each channel's block (RetentionLua). ARGV: since, fetch (the replay limit + 1,
// PageLimit), now (ms). Returns the sequence, the highest pruned point of the channels, then at most `fetch`
// messages (withdrawn events among them), newest first: all read in one go, so "from the future" and
// "recovered" are judged on the same state. From the future (since beyond the sequence) the ids are another
// history's: no messages, they could not be matched.
constexpr char ReplayLua[] = R"lua(
local since, fetch = ARGV[1], tonumber(ARGV[2])
local seq = redis.call('GET', KEYS[1]) or '0'
if tonumber(since) > tonumber(seq) then
  return {seq, '0'}
end
local lists = {}
local pruned = '0'
for base = 3, #KEYS, 7 do
  local c = channelAt(base)
  purgeExpired(c, KEYS[2], ARGV[3])
  lists[#lists + 1] = redis.call('ZREVRANGEBYSCORE', c.msgs, '+inf', '(' .. since, 'WITHSCORES', 'LIMIT', 0, fetch)
  lists[#lists + 1] = redis.call('ZREVRANGEBYSCORE', c.wd, '+inf', '(' .. since, 'WITHSCORES', 'LIMIT', 0, fetch)
  local p = redis.call('HGET', c.meta, 'pruned_up_to')
  if p and tonumber(p) > tonumber(pruned) then
    pruned = p
  end
end
return mergeLists(lists, {seq, pruned}, fetch, true)
)lua";

// replay() without the messages. KEYS and ARGV as ReplayLua's, the second ARGV being the limit. Returns the
// sequence, the highest pruned_up_to, how many there are (at most the limit) and the id the replay starts
// after.
constexpr char PlanLua[] = R"lua(
local since, limit = ARGV[1], tonumber(ARGV[2])
local seq = redis.call('GET', KEYS[1]) or '0'
if tonumber(since) > tonumber(seq) then
  return {seq, '0', 0, since}
end
local ids, pruned = {}, '0'
for base = 3, #KEYS, 7 do
  local c = channelAt(base)
  purgeExpired(c, KEYS[2], ARGV[3])
  for _, key in ipairs({c.msgs, c.wd}) do
    local l = redis.call('ZREVRANGEBYSCORE', key, '+inf', '(' .. since, 'WITHSCORES', 'LIMIT', 0, limit + 1)
    for j = 2, #l, 2 do
      ids[#ids + 1] = tonumber(l[j])
    end
  end
  local p = redis.call('HGET', c.meta, 'pruned_up_to')
  if p and tonumber(p) > tonumber(pruned) then
    pruned = p
  end
end
if #ids > limit then
  table.sort(ids, function(a, b) return a > b end)
  return {seq, pruned, limit, ids[limit + 1]}
end
return {seq, pruned, #ids, since}
)lua";

// One page of a paced replay. KEYS: seq, ids, then each channel's block (RetentionLua). ARGV: after
// (exclusive), at most this many, now (ms). Returns the stored members (withdrawn events among them), oldest
// first.
constexpr char PageLua[] = R"lua(
local after, max = ARGV[1], tonumber(ARGV[2])
local lists = {}
for base = 3, #KEYS, 7 do
  local c = channelAt(base)
  purgeExpired(c, KEYS[2], ARGV[3])
  lists[#lists + 1] = redis.call('ZRANGEBYSCORE', c.msgs, '(' .. after, '+inf', 'WITHSCORES', 'LIMIT', 0, max)
  lists[#lists + 1] = redis.call('ZRANGEBYSCORE', c.wd, '(' .. after, '+inf', 'WITHSCORES', 'LIMIT', 0, max)
end
return mergeLists(lists, {}, max, false)
)lua";

// KEYS: seq, ids, then the channel's block (RetentionLua). ARGV: 'f' (oldest after the bound) or 'b' (newest
// before it), bound, count, user queue, now (ms). Returns message, read flag, message, read flag, … in the
// order of the query. Forward (a read with since) merges the withdrawn events in; backward shows none.
constexpr char HistoryLua[] = R"lua(
local c = channelAt(3)
purgeExpired(c, KEYS[2], ARGV[5])
local list
if ARGV[1] == 'f' then
  local count = tonumber(ARGV[3])
  local lists = {redis.call('ZRANGEBYSCORE', c.msgs, ARGV[2], '+inf', 'WITHSCORES', 'LIMIT', 0, count),
                 redis.call('ZRANGEBYSCORE', c.wd, ARGV[2], '+inf', 'WITHSCORES', 'LIMIT', 0, count)}
  list = mergeLists(lists, {}, count, false)
else
  list = redis.call('ZREVRANGEBYSCORE', c.msgs, ARGV[2], '-inf', 'LIMIT', 0, ARGV[3])
end
local out = {}
for i = 1, #list do
  out[#out + 1] = list[i]
  local read = '0'
  if ARGV[4] == '1' and not redis.call('ZSCORE', c.unread, string.match(list[i], '^%d+')) then
    read = '1'
  end
  out[#out + 1] = read
end
return out
)lua";

// KEYS: seq, ids, then the channel's block (RetentionLua). ARGV: user queue, now (ms). As Store counts: a
// user queue's unread messages; any other channel's messages are never marked read.
constexpr char UnreadLua[] = R"lua(
local c = channelAt(3)
purgeExpired(c, KEYS[2], ARGV[2])
if ARGV[1] == '1' then
  return redis.call('ZCARD', c.unread)
end
return redis.call('ZCARD', c.msgs)
)lua";

// KEYS: ids. ARGV: prefix, id, now (ms). Follows the chain's links (sup) from the id to its latest message:
// returns {id, channel} if that one is still shown, {} when the id is unknown or the chain ended withdrawn
// (a wd entry), expired or pruned. Derives the channel's keys from the prefix: the channel is known only
// here.
constexpr char ChainLua[] = R"lua(
local prefix, id = ARGV[1], ARGV[2]
local channel = redis.call('HGET', KEYS[1], id)
if not channel then
  return {}
end
local sup = prefix .. 'sup:' .. channel
while true do
  local link = redis.call('ZRANGEBYSCORE', sup, id, id)
  if #link == 0 then
    break
  end
  id = string.match(link[1], ' (%d+)$')
end
local stored = redis.call('ZRANGEBYSCORE', prefix .. 'msgs:' .. channel, id, id)
if #stored == 0 then
  return {}
end
local expires = redis.call('ZSCORE', prefix .. 'exp:' .. channel, id)
if expires and tonumber(expires) <= tonumber(ARGV[3]) then
  return {}
end
return {id, channel, stored[1]}
)lua";

// Appends a channel's name, message count, last id and last timestamp (ms) to `out`, if it has messages: one
// row of both channel listings below.
constexpr char ChannelRowLua[] = R"lua(
local function channelRow(prefix, name, out)
  local msgs = prefix .. 'msgs:' .. name
  local count = redis.call('ZCARD', msgs)
  if count > 0 then
    local last = redis.call('ZREVRANGE', msgs, 0, 0)
    local time = redis.call('ZREVRANGE', prefix .. 'times:' .. name, 0, 0, 'WITHSCORES')
    out[#out + 1] = name
    out[#out + 1] = count
    out[#out + 1] = string.match(last[1], '^%d+')
    out[#out + 1] = time[2] or '0'
  end
end
)lua";

// KEYS: channels. ARGV: prefix. Returns a row (ChannelRowLua) of each channel with messages.
constexpr char ChannelsLua[] = R"lua(
local out = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  channelRow(ARGV[1], name, out)
end
return out
)lua";

// ARGV: prefix, then channel names. The same as ChannelsLua for just these channels (a page of
// /api/channels).
constexpr char ChannelStatsLua[] = R"lua(
local out = {}
for i = 2, #ARGV do
  channelRow(ARGV[1], ARGV[i], out)
end
return out
)lua";

// KEYS: ids, then each channel's block (RetentionLua). ARGV: now (ms), then maxCount and cutoff of each
// channel. Expired messages go first, then what retention deletes.
constexpr char PruneLua[] = R"lua(
local deleted = 0
for i = 0, (#KEYS - 1) / 7 - 1 do
  local c = channelAt(2 + 7 * i)
  deleted = deleted + purgeExpired(c, KEYS[1], ARGV[1])
  deleted = deleted + prune(c, KEYS[1], tonumber(ARGV[2 * i + 2]), ARGV[2 * i + 3])
end
return deleted
)lua";

// KEYS: seq. ARGV: at least.
constexpr char RaiseLua[] = R"lua(
local current = redis.call('GET', KEYS[1])
if not current or tonumber(current) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
)lua";

// KEYS: ids, unread. ARGV: channel, '1' to mark read or '0' unread, then the ids. Returns the ids stored on
// the channel, in the order given (each once).
constexpr char SetReadLua[] = R"lua(
local out, seen = {}, {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if not seen[id] and redis.call('HGET', KEYS[1], id) == ARGV[1] then
    seen[id] = true
    if ARGV[2] == '1' then
      redis.call('ZREM', KEYS[2], id)
    else
      redis.call('ZADD', KEYS[2], id, id)
    end
    out[#out + 1] = id
  end
end
return out
)lua";

// KEYS: ids, msgs, times, unread. ARGV: channel, then the ids. Deletes those stored on the channel from every
// key that holds them; returns them, in the order given (each once).
constexpr char RemoveLua[] = R"lua(
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[1], id) == ARGV[1] then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], id, id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZREM', KEYS[4], id)
    redis.call('HDEL', KEYS[1], id)
    out[#out + 1] = id
  end
end
return out
)lua";

// The ids of a script's answer (SetReadLua, RemoveLua), or nothing if it is not a list of them.
std::optional<QList<qint64>> idsFromReply(const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return std::nullopt;
    QList<qint64> ids;
    for (size_t i = 0; i < r->elements; ++i) {
        const auto id = redisInteger(r->element[i]);
        if (!id)
            return std::nullopt;
        ids.append(*id);
    }
    return ids;
}

const RedisScript &appendScript()
{
    static const RedisScript script(QByteArray(RetentionLua) + RedisRecords::lua() + AppendLua);
    return script;
}

// The rows ChannelRowLua appends (name, count, last id, last timestamp ms), as both channel listings read
// them.
void appendChannelRows(const redisReply *rows, QList<StoredChannel> &out)
{
    for (size_t i = 0; i + 3 < rows->elements; i += 4) {
        StoredChannel c;
        c.name = QString::fromUtf8(redisBytes(rows->element[i]));
        c.messages = redisInteger(rows->element[i + 1]).value_or(0);
        c.lastId = redisInteger(rows->element[i + 2]).value_or(0);
        c.lastMessageAt =
            QDateTime::fromMSecsSinceEpoch(redisInteger(rows->element[i + 3]).value_or(0), Qt::UTC);
        out.append(c);
    }
}

// Channels per prune script: each run blocks Redis, so many short ones rather than one long one.
constexpr qsizetype PruneBatch = 100;

// A stored member, "<id> <JSON without the id>", back to a message.
std::optional<Message> decodeStored(const QByteArray &member)
{
    const qsizetype space = member.indexOf(' ');
    bool ok = false;
    const qint64 id = space > 0 ? member.left(space).toLongLong(&ok) : 0;
    if (ok) {
        const QJsonDocument doc = QJsonDocument::fromJson(member.mid(space + 1));
        if (doc.isObject()) {
            if (auto m = Message::fromJson(doc.object())) {
                Message message = std::move(m).value();
                message.id = id;
                return message;
            }
        }
    }
    qCWarning(lcRedis) << "skipping an unreadable stored message"
                       << member.left(std::max<qsizetype>(space, 20));
    return std::nullopt;
}
} // namespace

RedisHistory::RedisHistory(const ServerConfig &config, RedisAddress address, QString keyPrefix,
                           QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_prefix(keyPrefix.toUtf8())
    , m_redis(std::move(address))
    , m_records(m_redis, m_prefix, config.models)
    , m_claims(m_redis, m_prefix)
    , m_idempotency(m_redis, m_prefix, config.idempotencyWindow)
    , m_schedule(m_redis, m_prefix, m_idempotency)
{}

RedisHistory::~RedisHistory()
{
    close();
}

void RedisHistory::setTimeouts(RedisTimeouts timeouts)
{
    m_redis.setTimeouts(timeouts);
}

QByteArray RedisHistory::key(const char *kind, const QString &channel) const
{
    return m_prefix + kind + channel.toUtf8();
}

bool RedisHistory::open()
{
    m_error.clear();
    auto fail = [this](const StoreError &e) {
        m_error = e.message;
        m_redis.close();
        return false;
    };
    if (auto ok = m_redis.open(); !ok)
        return fail(ok.error());
    QList<const RedisScript *> scripts{&appendScript(),
                                       &redisScript<RetentionLua, MergeLua, ReplayLua>(),
                                       &redisScript<RetentionLua, MergeLua, HistoryLua>(),
                                       &redisScript<ChannelRowLua, ChannelsLua>(),
                                       &redisScript<RetentionLua, PruneLua>(),
                                       &redisScript<RaiseLua>(),
                                       &redisScript<RetentionLua, PlanLua>(),
                                       &redisScript<RetentionLua, MergeLua, PageLua>(),
                                       &redisScript<ChannelRowLua, ChannelStatsLua>(),
                                       &redisScript<RetentionLua, UnreadLua>(),
                                       &redisScript<ChainLua>(),
                                       &redisScript<SetReadLua>(),
                                       &redisScript<RemoveLua>()};
    scripts += RedisRecords::scripts();
    scripts += RedisClaims::scripts();
    scripts += RedisIdempotency::scripts();
    scripts += RedisSchedule::scripts();
    for (const RedisScript *script : std::as_const(scripts)) {
        if (auto loaded = m_redis.load(*script); !loaded)
            return fail(loaded.error());
    }
    auto last = lastId();
    if (!last)
        return fail(last.error());
    if (auto epoch = ensureEpoch(); !epoch)
        return fail(epoch.error());

    if (!m_pruneTimer) {
        m_pruneTimer = new QTimer(this);
        connect(m_pruneTimer, &QTimer::timeout, this, [this] { prune(); });
    }
    m_pruneTimer->setInterval(m_config.pruneInterval);
    m_pruneTimer->start();
    prune();
    qCInfo(lcRedis).noquote() << "history in Redis at" << m_redis.address().toString() << "prefix"
                              << keyPrefix() << "epoch" << epoch() << "last id" << *last;
    return true;
}

void RedisHistory::close()
{
    if (m_pruneTimer)
        m_pruneTimer->stop();
    m_redis.close();
}

void RedisHistory::releaseThreadConnection()
{
    m_redis.releaseThreadConnection();
}

bool RedisHistory::isPersistent(const QString &channel) const
{
    return isPersistentChannel(m_config, channel);
}

QString RedisHistory::epoch() const
{
    QMutexLocker lock(&m_epochMutex);
    return m_epoch;
}

Result<bool, StoreError> RedisHistory::ensureEpoch()
{
    using R = Result<bool, StoreError>;
    // The same form as Store's: 8 random bytes in hex.
    const QByteArray fresh =
        QByteArray::number(QRandomGenerator::system()->generate64(), 16).rightJustified(16, '0');
    if (auto set = m_redis.command({"SET", key("epoch"), fresh, "NX"}); !set)
        return R::failure(set.error());
    auto reply = m_redis.command({"GET", key("epoch")});
    if (!reply)
        return R::failure(reply.error());
    const QString current = QString::fromUtf8(redisBytes(reply->get()));
    if (current.isEmpty())
        return R::failure(unexpectedRedisReply("GET epoch"));
    QMutexLocker lock(&m_epochMutex);
    const bool changed = !m_epoch.isEmpty() && m_epoch != current;
    m_epoch = current;
    return changed;
}

RetentionRule RedisHistory::retentionFor(const QString &channel) const
{
    return retentionRuleFor(m_config, channel);
}

Result<qint64, StoreError> RedisHistory::append(const Message &message, bool persist,
                                                const QByteArray &busPayload, const RecordWrite *record,
                                                qint64 floor, const QString &scheduled,
                                                const KeyedCommit *keyed)
{
    using R = Result<qint64, StoreError>;
    const QString &channel = message.channel;
    QByteArray json;
    if (persist) {
        Message stored = message;
        stored.id = 0; // the script's id goes in front of the JSON, not in it
        json = stored.toJsonBytes();
    }
    const qint64 createdMs = message.timestamp.isValid() ? message.timestamp.toMSecsSinceEpoch()
                                                         : QDateTime::currentMSecsSinceEpoch();
    const RetentionRule rule = retentionFor(channel);
    QByteArrayList args{busChannel(),
                        busPayload,
                        persist ? "1" : "0",
                        channel.toUtf8(),
                        json,
                        QByteArray::number(createdMs),
                        isUserChannel(channel) ? "1" : "0",
                        QByteArray::number(std::max(0, rule.maxCount)),
                        QByteArray::number(std::max<qint64>(0, floor))};
    // Expiry and supersession (docs/protocol.md, "Expiry", "Updates and withdrawals"): empty for a plain
    // message, which the script then handles as before.
    const NotificationFields &fields = message.notification;
    const qint64 head = fields.replaces ? fields.replaces : fields.withdraws;
    const bool withdrawn = fields.withdraws && message.type == WithdrawnType;
    args << (fields.expires.isValid() ? QByteArray::number(fields.expires.toMSecsSinceEpoch()) : QByteArray())
         << (head ? QByteArray::number(head) : QByteArray()) << (withdrawn ? "1" : "0");
    const bool isKeyed = keyed && !keyed->key.isEmpty();
    args << (isKeyed ? m_idempotency.pendingValue() : QByteArray())
         << QByteArray::number(m_idempotency.windowMs());
    if (record)
        args += m_records.writeArgs(*record);
    else
        args.append(QByteArray());
    // The publish's own key makes a retry safe: a first try that ran but whose answer was lost is not run
    // again (AppendLua). Kept 10 minutes, far longer than any retry.
    const QByteArray once =
        key("publish:") + QByteArray::number(QRandomGenerator::system()->generate64(), 16);
    QByteArrayList keys =
        QByteArrayList{key("seq"), key("ids"), key("channels"), once} + channelKeys(channel);
    if (!scheduled.isEmpty()) {
        keys += m_schedule.consumeKeys(); // KEYS[12] and KEYS[13] (AppendLua)
        args.append(scheduled.toUtf8());
    }
    if (isKeyed)
        keys.append(m_idempotency.key(keyed->scope, keyed->key)); // KEYS[#KEYS] (AppendLua)
    auto reply = m_redis.eval(appendScript(), keys, args);
    if (!reply && reply.error().answerLost) {
        // A timeout or a dropped connection: the script may or may not have run. Once more, on a new
        // connection, with the same key, so the outcome is known after a blip or a failover.
        reply = m_redis.eval(appendScript(), keys, args);
        if (!reply && reply.error().answerLost) {
            StoreError unknown = reply.error();
            unknown.kind = StoreError::Kind::Unknown;
            unknown.message = u"the message may have been published: %1"_s.arg(unknown.message);
            return R::failure(unknown);
        }
    }
    if (!reply) {
        StoreError e = reply.error();
        if (e.message.contains(u"STALE"_s))
            e.kind = StoreError::Kind::Stale; // nothing was done (AppendLua)
        else if (e.message.contains(u"CLAIMED"_s))
            e.kind = StoreError::Kind::Claimed; // nothing was done either
        return R::failure(e);
    }
    const auto id = redisInteger(reply->get());
    if (id && *id == 0 && !scheduled.isEmpty())
        return R::failure({StoreError::Kind::Gone,
                           u"scheduled publish %1 was cancelled or delivered already"_s.arg(scheduled)});
    if (!id || *id <= 0)
        return R::failure(unexpectedRedisReply("append"));
    return *id;
}

Result<qint64, StoreError> RedisHistory::lastId()
{
    using R = Result<qint64, StoreError>;
    auto reply = m_redis.command({"GET", key("seq")});
    if (!reply)
        return R::failure(reply.error());
    const auto id = redisInteger(reply->get());
    if (!id)
        return R::failure(unexpectedRedisReply("GET seq"));
    return *id;
}

Result<bool, StoreError> RedisHistory::raiseSequence(qint64 atLeast)
{
    using R = Result<bool, StoreError>;
    auto reply = m_redis.eval(redisScript<RaiseLua>(), {key("seq")}, {QByteArray::number(atLeast)});
    if (!reply)
        return R::failure(reply.error());
    return redisInteger(reply->get()).value_or(0) == 1;
}

Result<Replay, StoreError> RedisHistory::replay(const QStringList &channels, qint64 since,
                                                qint64 currentLastId)
{
    using R = Result<Replay, StoreError>;
    Q_UNUSED(currentLastId); // see the header: the cluster's sequence decides
    QStringList names = channels;
    names.removeDuplicates();
    PageLimit limit(m_config.replayLimit);
    QByteArrayList keys{key("seq"), key("ids")};
    for (const QString &c : std::as_const(names))
        keys += channelKeys(c);
    auto reply = m_redis.eval(redisScript<RetentionLua, MergeLua, ReplayLua>(), keys,
                              {QByteArray::number(since), QByteArray::number(limit.fetch()), nowArg()});
    if (!reply)
        return R::failure(reply.error());
    const redisReply *r = reply->get();
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2)
        return R::failure(unexpectedRedisReply("replay"));
    const auto sequence = redisInteger(r->element[0]);
    const auto pruned = redisInteger(r->element[1]);
    if (!sequence || !pruned)
        return R::failure(unexpectedRedisReply("replay"));
    Replay out;
    // An id the cluster never handed out: its history was reset (the script read nothing).
    if (since > *sequence)
        out.lose(ReplayGap::Reset);
    else if (*pruned > since)
        out.lose(ReplayGap::Expired);
    for (size_t i = 2; i < r->elements && limit.admit(); ++i) {
        if (auto m = decodeStored(redisBytes(r->element[i])))
            out.messages.append(std::move(*m));
    }
    // One past the limit came back: the oldest are not sent.
    if (limit.more())
        out.lose(ReplayGap::Limit);
    oldestFirst(out.messages);
    return out;
}

Result<Replay, StoreError> RedisHistory::planReplay(const QStringList &channels, qint64 since,
                                                    qint64 currentLastId)
{
    using R = Result<Replay, StoreError>;
    Q_UNUSED(currentLastId); // as in replay()
    QStringList names = channels;
    names.removeDuplicates();
    const int limit = std::max(1, m_config.replayLimit);
    QByteArrayList keys{key("seq"), key("ids")};
    for (const QString &c : std::as_const(names))
        keys += channelKeys(c);
    auto reply = m_redis.eval(redisScript<RetentionLua, PlanLua>(), keys,
                              {QByteArray::number(since), QByteArray::number(limit), nowArg()});
    if (!reply)
        return R::failure(reply.error());
    const redisReply *r = reply->get();
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4)
        return R::failure(unexpectedRedisReply("replay"));
    const auto sequence = redisInteger(r->element[0]);
    const auto pruned = redisInteger(r->element[1]);
    const auto count = redisInteger(r->element[2]);
    const auto after = redisInteger(r->element[3]);
    if (!sequence || !pruned || !count || !after)
        return R::failure(unexpectedRedisReply("replay"));
    Replay out;
    out.count = *count;
    out.after = *after;
    if (since > *sequence)
        out.lose(ReplayGap::Reset);
    else if (*pruned > since)
        out.lose(ReplayGap::Expired);
    if (*after > since)
        out.lose(ReplayGap::Limit);
    return out;
}

Result<FramePage, StoreError> RedisHistory::replayPage(const QStringList &channels, qint64 after,
                                                       int maxMessages, qint64 maxBytes)
{
    using R = Result<FramePage, StoreError>;
    FramePage page;
    QStringList names = channels;
    names.removeDuplicates();
    if (names.isEmpty())
        return page;
    PageLimit limit(maxMessages, maxBytes);
    QByteArrayList keys{key("seq"), key("ids")};
    for (const QString &c : std::as_const(names))
        keys += channelKeys(c);
    auto reply = m_redis.eval(redisScript<RetentionLua, MergeLua, PageLua>(), keys,
                              {QByteArray::number(after), QByteArray::number(limit.fetch()), nowArg()});
    if (!reply)
        return R::failure(reply.error());
    const redisReply *r = reply->get();
    if (r->type != REDIS_REPLY_ARRAY)
        return R::failure(unexpectedRedisReply("replay"));
    for (size_t i = 0; i < r->elements; ++i) {
        const QByteArray member = redisBytes(r->element[i]);
        if (!limit.admit(member.size()))
            break;
        // The member holds the JSON without its id (the script assigns it): encoded again with it.
        if (auto m = decodeStored(member))
            page.frames.append({m->id, m->channel, m->type, m->toJsonBytes()});
    }
    page.hasMore = limit.more();
    return page;
}

Result<StoredPage, StoreError> RedisHistory::history(const QString &channel, qint64 since, qint64 before,
                                                     int limit)
{
    using R = Result<StoredPage, StoreError>;
    PageLimit rows(limit);
    const bool forward = since >= 0;
    // Exclusive bounds: "(" before the id.
    QByteArray bound = "+inf";
    if (forward)
        bound = QByteArray("(") + QByteArray::number(since);
    else if (before > 0)
        bound = QByteArray("(") + QByteArray::number(before);
    auto reply = m_redis.eval(redisScript<RetentionLua, MergeLua, HistoryLua>(),
                              QByteArrayList{key("seq"), key("ids")} + channelKeys(channel),
                              {forward ? "f" : "b", bound, QByteArray::number(rows.fetch()),
                               isUserChannel(channel) ? "1" : "0", nowArg()});
    if (!reply)
        return R::failure(reply.error());
    const redisReply *r = reply->get();
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
        return R::failure(unexpectedRedisReply("history"));
    StoredPage page;
    for (size_t i = 0; i + 1 < r->elements && rows.admit(); i += 2) {
        if (auto m = decodeStored(redisBytes(r->element[i]))) {
            page.messages.append(std::move(*m));
            page.read.append(redisBytes(r->element[i + 1]) == "1");
        }
    }
    page.hasMore = rows.more();
    if (!forward)
        oldestFirst(page.messages, page.read);
    return page;
}

Result<bool, StoreError> RedisHistory::covers(const QString &channel, qint64 since)
{
    using R = Result<bool, StoreError>;
    auto reply = m_redis.command({"HGET", key("chan:", channel), "pruned_up_to"});
    if (!reply)
        return R::failure(reply.error());
    const auto pruned = redisInteger(reply->get());
    if (!pruned)
        return R::failure(unexpectedRedisReply("HGET pruned_up_to"));
    return *pruned <= since;
}

Result<qint64, StoreError> RedisHistory::unreadCount(const QString &channel)
{
    using R = Result<qint64, StoreError>;
    auto reply = m_redis.eval(redisScript<RetentionLua, UnreadLua>(),
                              QByteArrayList{key("seq"), key("ids")} + channelKeys(channel),
                              {isUserChannel(channel) ? "1" : "0", nowArg()});
    if (!reply)
        return R::failure(reply.error());
    const auto n = redisInteger(reply->get());
    if (!n)
        return R::failure(unexpectedRedisReply("unread"));
    return *n;
}

Result<std::optional<QString>, StoreError> RedisHistory::channelOf(qint64 id)
{
    using R = Result<std::optional<QString>, StoreError>;
    auto reply = m_redis.command({"HGET", key("ids"), QByteArray::number(id)});
    if (!reply)
        return R::failure(reply.error());
    const redisReply *r = reply->get();
    if (r->type == REDIS_REPLY_NIL)
        return std::optional<QString>();
    if (r->type != REDIS_REPLY_STRING)
        return R::failure(unexpectedRedisReply("HGET ids"));
    return std::optional<QString>(QString::fromUtf8(redisBytes(r)));
}

Result<bool, StoreError> RedisHistory::markStoredRead(qint64 id, const QString &channel)
{
    using R = Result<bool, StoreError>;
    auto reply = m_redis.command({"ZREM", key("unread:", channel), QByteArray::number(id)});
    if (!reply)
        return R::failure(reply.error());
    return true;
}

Result<qint64, StoreError> RedisHistory::markAllRead(const QString &channel)
{
    using R = Result<qint64, StoreError>;
    if (!isUserChannel(channel))
        return qint64(0); // read state belongs to user queues only
    // Removes and counts in one command.
    auto reply = m_redis.command({"ZREMRANGEBYRANK", key("unread:", channel), "0", "-1"});
    if (!reply)
        return R::failure(reply.error());
    const auto n = redisInteger(reply->get());
    if (!n)
        return R::failure(unexpectedRedisReply("ZREMRANGEBYRANK"));
    return *n;
}

Result<qint64, StoreError> RedisHistory::markReadUpTo(const QString &channel, qint64 upTo)
{
    using R = Result<qint64, StoreError>;
    if (!isUserChannel(channel))
        return qint64(0);
    auto reply =
        m_redis.command({"ZREMRANGEBYSCORE", key("unread:", channel), "-inf", QByteArray::number(upTo)});
    if (!reply)
        return R::failure(reply.error());
    const auto n = redisInteger(reply->get());
    if (!n)
        return R::failure(unexpectedRedisReply("ZREMRANGEBYSCORE"));
    return *n;
}

Result<QList<qint64>, StoreError> RedisHistory::setRead(const QString &channel, const QList<qint64> &ids,
                                                        bool read)
{
    using R = Result<QList<qint64>, StoreError>;
    if (!isUserChannel(channel) || ids.isEmpty())
        return QList<qint64>();
    QByteArrayList args{channel.toUtf8(), read ? "1" : "0"};
    for (qint64 id : ids)
        args.append(QByteArray::number(id));
    auto reply = m_redis.eval(redisScript<SetReadLua>(), {key("ids"), key("unread:", channel)}, args);
    if (!reply)
        return R::failure(reply.error());
    const auto marked = idsFromReply(reply->get());
    if (!marked)
        return R::failure(unexpectedRedisReply("set read"));
    return *marked;
}

Result<QList<qint64>, StoreError> RedisHistory::removeFromQueue(const QString &channel,
                                                                const QList<qint64> &ids)
{
    using R = Result<QList<qint64>, StoreError>;
    if (!isUserChannel(channel) || ids.isEmpty())
        return QList<qint64>();
    QByteArrayList args{channel.toUtf8()};
    for (qint64 id : ids)
        args.append(QByteArray::number(id));
    auto reply = m_redis.eval(
        redisScript<RemoveLua>(),
        {key("ids"), key("msgs:", channel), key("times:", channel), key("unread:", channel)}, args);
    if (!reply)
        return R::failure(reply.error());
    const auto removed = idsFromReply(reply->get());
    if (!removed)
        return R::failure(unexpectedRedisReply("remove"));
    return *removed;
}

Result<QByteArray, StoreError> RedisHistory::userSettings(const QString &userId)
{
    using R = Result<QByteArray, StoreError>;
    auto reply = m_redis.command({"HGET", key("settings"), userId.toUtf8()});
    if (!reply)
        return R::failure(reply.error());
    return redisBytes(reply->get()); // nil: empty
}

Result<bool, StoreError> RedisHistory::saveUserSettings(const QString &userId, const QByteArray &json)
{
    using R = Result<bool, StoreError>;
    auto reply = m_redis.command({"HSET", key("settings"), userId.toUtf8(), json});
    if (!reply)
        return R::failure(reply.error());
    return true;
}

Result<QList<StoredChannel>, StoreError> RedisHistory::channels()
{
    using R = Result<QList<StoredChannel>, StoreError>;
    auto reply = m_redis.eval(redisScript<ChannelRowLua, ChannelsLua>(), {key("channels")}, {m_prefix});
    if (!reply)
        return R::failure(reply.error());
    const redisReply *r = reply->get();
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 4 != 0)
        return R::failure(unexpectedRedisReply("channels"));
    QList<StoredChannel> list;
    appendChannelRows(r, list);
    return list;
}

Result<QList<StoredChannel>, StoreError> RedisHistory::channels(const QString &after, int limit)
{
    using R = Result<QList<StoredChannel>, StoreError>;
    // The names only, sorted here (a set in Redis has no order), then the counts of the page's channels
    // alone: Redis does a page's work, not every channel's. A channel whose messages were all pruned is
    // skipped, so it reads on until the page is full.
    auto members = m_redis.command({"SMEMBERS", key("channels")});
    if (!members)
        return R::failure(members.error());
    const redisReply *m = members->get();
    if (m->type != REDIS_REPLY_ARRAY)
        return R::failure(unexpectedRedisReply("SMEMBERS"));
    QStringList names;
    for (size_t i = 0; i < m->elements; ++i) {
        QString name = QString::fromUtf8(redisBytes(m->element[i]));
        if (name > after)
            names.append(std::move(name));
    }
    std::sort(names.begin(), names.end());
    QList<StoredChannel> list;
    qsizetype next = 0;
    while (list.size() < limit && next < names.size()) {
        const qsizetype take = std::min<qsizetype>(limit - list.size(), names.size() - next);
        QByteArrayList args{m_prefix};
        for (qsizetype i = next; i < next + take; ++i)
            args.append(names.at(i).toUtf8());
        next += take;
        auto reply = m_redis.eval(redisScript<ChannelRowLua, ChannelStatsLua>(), {}, args);
        if (!reply)
            return R::failure(reply.error());
        const redisReply *r = reply->get();
        if (r->type != REDIS_REPLY_ARRAY || r->elements % 4 != 0)
            return R::failure(unexpectedRedisReply("channel stats"));
        appendChannelRows(r, list);
    }
    return list;
}

Result<bool, StoreError> RedisHistory::knows(const QString &channel)
{
    using R = Result<bool, StoreError>;
    auto reply = m_redis.command({"SISMEMBER", key("channels"), channel.toUtf8()});
    if (!reply)
        return R::failure(reply.error());
    return redisInteger(reply->get()).value_or(0) == 1;
}

Result<qint64, StoreError> RedisHistory::prune()
{
    using R = Result<qint64, StoreError>;
    auto members = m_redis.command({"SMEMBERS", key("channels")});
    if (!members)
        return R::failure(members.error());
    const redisReply *r = members->get();
    if (r->type != REDIS_REPLY_ARRAY)
        return R::failure(unexpectedRedisReply("SMEMBERS"));
    QStringList names;
    for (size_t i = 0; i < r->elements; ++i)
        names.append(QString::fromUtf8(redisBytes(r->element[i])));

    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    qint64 deleted = 0;
    for (qsizetype first = 0; first < names.size(); first += PruneBatch) {
        QByteArrayList keys{key("ids")};
        QByteArrayList args{QByteArray::number(now)};
        for (const QString &c : names.mid(first, PruneBatch)) {
            const RetentionRule rule = retentionFor(c);
            keys += channelKeys(c);
            args << QByteArray::number(std::max(0, rule.maxCount))
                 << (rule.maxAge.count() > 0 ? QByteArray::number(now - qint64(rule.maxAge.count()) * 1000)
                                             : QByteArray());
        }
        auto reply = m_redis.eval(redisScript<RetentionLua, PruneLua>(), keys, args);
        if (!reply)
            return R::failure(reply.error());
        deleted += redisInteger(reply->get()).value_or(0);
    }
    if (deleted > 0) {
        qCDebug(lcRedis) << "retention deleted" << deleted << "messages";
        Q_EMIT pruned(deleted);
    }
    return deleted;
}

Result<std::optional<ChainHead>, StoreError> RedisHistory::chainHead(qint64 id)
{
    using R = Result<std::optional<ChainHead>, StoreError>;
    auto reply =
        m_redis.eval(redisScript<ChainLua>(), {key("ids")}, {m_prefix, QByteArray::number(id), nowArg()});
    if (!reply)
        return R::failure(reply.error());
    const redisReply *r = reply->get();
    if (r->type != REDIS_REPLY_ARRAY || (r->elements != 0 && r->elements != 3))
        return R::failure(unexpectedRedisReply("chain"));
    if (r->elements == 0)
        return std::optional<ChainHead>();
    const auto head = redisBytes(r->element[0]).toLongLong();
    // An update stored its chain's first id; a message nothing replaced starts its own chain.
    const auto stored = decodeStored(redisBytes(r->element[2]));
    const qint64 chain = stored ? stored->notification.chain : 0;
    return std::optional<ChainHead>(
        ChainHead{head, QString::fromUtf8(redisBytes(r->element[1])), chain > 0 ? chain : head});
}

QByteArrayList RedisHistory::channelKeys(const QString &channel) const
{
    return {key("msgs:", channel), key("times:", channel), key("unread:", channel), key("chan:", channel),
            key("exp:", channel),  key("sup:", channel),   key("wd:", channel)};
}

QByteArray RedisHistory::nowArg()
{
    return QByteArray::number(QDateTime::currentMSecsSinceEpoch());
}

} // namespace Herald
