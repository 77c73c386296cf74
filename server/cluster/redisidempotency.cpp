#include "redisidempotency.h"

#include "message.h"
#include "redisconnection.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QUrl>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {

// KEYS[1] the key; ARGV[1] the pending value, ARGV[2] its TTL in ms. Returns what holds the key, or '' when
// it was free and is now claimed.
constexpr char ClaimLua[] = R"lua(
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ''
)lua";

// KEYS[1] the key; ARGV[1] this node's pending value, ARGV[2] the outcome ('' to release), ARGV[3] its TTL
// in ms. Only a claim still this node's is changed (a claim past InFlightTtl may be another's by now); a
// claim that expired meanwhile is set all the same, as the publish did happen.
constexpr char SettleLua[] = R"lua(
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  if held then redis.call('DEL', KEYS[1]) end
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
)lua";

constexpr QByteArrayView PendingMark = "pending ";

} // namespace

RedisIdempotency::RedisIdempotency(RedisConnection &redis, QByteArray prefix, std::chrono::seconds window)
    : m_redis(redis)
    , m_prefix(std::move(prefix))
    , m_windowMs(qint64(std::chrono::milliseconds(window).count()))
    , m_token(QByteArray::number(QRandomGenerator::system()->generate64(), 16))
{}

QList<const RedisScript *> RedisIdempotency::scripts()
{
    return {&redisScript<ClaimLua>(), &redisScript<SettleLua>()};
}

QByteArray RedisIdempotency::key(const QString &scope, const QString &key) const
{
    return m_prefix + "idem:" + QUrl::toPercentEncoding(scope) + ':' + key.toUtf8();
}

QByteArray RedisIdempotency::pendingValue() const
{
    return PendingMark.toByteArray() + m_token;
}

Result<IdempotencyKeys::Claim, StoreError> RedisIdempotency::claim(const QString &scope, const QString &key)
{
    using R = Result<Claim, StoreError>;
    const auto reply = m_redis.eval(redisScript<ClaimLua>(), {this->key(scope, key)},
                                    {pendingValue(), QByteArray::number(InFlightTtl.count())});
    if (!reply)
        return R::failure(reply.error());
    const QByteArray held = redisBytes(reply->get());
    if (held.isEmpty())
        return Claim{State::Claimed, {}};
    if (held.startsWith(PendingMark))
        return Claim{State::InFlight, {}};
    const QJsonObject o = QJsonDocument::fromJson(held).object();
    if (o.isEmpty())
        return R::failure(unexpectedRedisReply("idempotency claim"));
    KeyedOutcome outcome;
    outcome.id = o.value("id"_L1).toInteger();
    outcome.scheduled = o.value("scheduled"_L1).toString();
    if (o.contains("at"_L1))
        outcome.deliverAt = QDateTime::fromMSecsSinceEpoch(o.value("at"_L1).toInteger(), Qt::UTC);
    return Claim{State::Done, outcome};
}

Result<bool, StoreError> RedisIdempotency::remember(const QString &scope, const QString &key,
                                                    const KeyedOutcome &outcome)
{
    QJsonObject o{{"id"_L1, outcome.id}};
    if (!outcome.scheduled.isEmpty())
        o.insert("scheduled"_L1, outcome.scheduled);
    if (outcome.deliverAt.isValid())
        o.insert("at"_L1, outcome.deliverAt.toMSecsSinceEpoch());
    const auto reply = m_redis.eval(redisScript<SettleLua>(), {this->key(scope, key)},
                                    {pendingValue(), compactJson(o), QByteArray::number(m_windowMs)});
    if (!reply)
        return Result<bool, StoreError>::failure(reply.error());
    return true;
}

void RedisIdempotency::release(const QString &scope, const QString &key)
{
    // A release that fails leaves the claim to expire after InFlightTtl: until then a retry is told 409.
    m_redis.eval(redisScript<SettleLua>(), {this->key(scope, key)}, {pendingValue(), QByteArray(), "0"});
}

} // namespace Herald
