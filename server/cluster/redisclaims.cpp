#include "redisclaims.h"

#include "redisconnection.h"

using namespace Qt::StringLiterals;

namespace Herald {

namespace {

// KEYS[1] the claim; ARGV[1] the user, ARGV[2] the TTL in ms, ARGV[3] the user it may be taken from ('').
constexpr char ClaimLua[] = R"lua(
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and holder ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua";

// KEYS the claims; ARGV[1] the TTL in ms (0: release at once), ARGV[1 + i] the user of KEYS[i]. A key another
// user holds is left alone (Redis lost the claims and someone else came first); a missing one is set again.
constexpr char RenewLua[] = R"lua(
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if ttl <= 0 then
    if holder == ARGV[i + 1] then redis.call('DEL', key) end
  elseif not holder or holder == ARGV[i + 1] then
    redis.call('SET', key, ARGV[i + 1], 'PX', ttl)
  end
end
return #KEYS
)lua";

QByteArray ttlArg(std::chrono::milliseconds ttl)
{
    return QByteArray::number(std::max<qint64>(0, ttl.count()));
}

} // namespace

RedisClaims::RedisClaims(RedisConnection &redis, QByteArray prefix)
    : m_redis(redis)
    , m_prefix(std::move(prefix))
{}

QList<const RedisScript *> RedisClaims::scripts()
{
    return {&redisScript<ClaimLua>()};
}

QByteArray RedisClaims::key(const QString &clientId) const
{
    return m_prefix + "claim:" + clientId.toUtf8();
}

Result<bool, StoreError> RedisClaims::claim(const QString &clientId, const QString &userId,
                                            const QString &replacing, std::chrono::milliseconds ttl)
{
    // A TTL of 0 would make SET fail: a claim lasts at least as long as it takes to be renewed.
    const auto reply = m_redis.eval(
        redisScript<ClaimLua>(), {key(clientId)},
        {userId.toUtf8(), ttlArg(std::max(ttl, std::chrono::milliseconds(1))), replacing.toUtf8()});
    using R = Result<bool, StoreError>;
    if (!reply)
        return R::failure(reply.error());
    const auto granted = redisInteger(reply->get());
    if (!granted)
        return R::failure(unexpectedRedisReply("claim"));
    return *granted == 1;
}

QByteArrayList RedisClaims::renewCommand(const QList<std::pair<QString, QString>> &claims,
                                         std::chrono::milliseconds ttl) const
{
    QByteArrayList command{"EVAL", QByteArray(RenewLua), QByteArray::number(claims.size())};
    command.reserve(3 + 2 * claims.size() + 1);
    for (const auto &[clientId, userId] : claims)
        command.append(key(clientId));
    command.append(ttlArg(ttl));
    for (const auto &[clientId, userId] : claims)
        command.append(userId.toUtf8());
    return command;
}

} // namespace Herald
