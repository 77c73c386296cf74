#pragma once

// A RedisHistory on a test's redis-server (redisserver.h) under a key prefix, opened: one node of a test
// cluster (two objects with one prefix are two nodes); and a test's own subscription to its bus.

#include "redisaddress.h"
#include "redishistory.h"
#include "redisserver.h"

#include <QByteArray>
#include <QDebug>

#include <functional>
#include <memory>
#include <optional>

namespace HeraldTest {

// Null, with a warning, if it does not open. `beforeOpen`, where given, adjusts it first (setTimeouts …).
inline std::unique_ptr<Herald::RedisHistory>
openRedisNode(const RedisServer &redis, const Herald::ServerConfig &config, const QString &prefix,
              const std::function<void(Herald::RedisHistory &)> &beforeOpen = {})
{
    const auto address = Herald::RedisAddress::parse(redis.url());
    if (!address)
        return nullptr;
    auto node = std::make_unique<Herald::RedisHistory>(config, *address, prefix);
    if (beforeOpen)
        beforeOpen(*node);
    if (!node->open()) {
        qWarning().noquote() << "RedisHistory did not open:" << node->errorString();
        return nullptr;
    }
    return node;
}

// A test's own subscription to a bus channel, on a blocking hiredis connection.
class BusReader
{
public:
    BusReader(const RedisServer &redis, const QByteArray &channel)
        : m_context(redis.connect(10000))
    {
        if (!m_context)
            return;
        const auto reply = RedisServer::commandOn(m_context.get(), {"SUBSCRIBE", channel});
        m_subscribed = reply.has_value(); // SUBSCRIBE's confirmation: from here on, nothing is missed
    }
    bool isSubscribed() const { return m_subscribed; }
    // The next message's payload; nullopt when none comes within the connection's timeout (10 s).
    std::optional<QByteArray> next()
    {
        void *raw = nullptr;
        if (!m_context || redisGetReply(m_context.get(), &raw) != REDIS_OK || !raw)
            return std::nullopt;
        std::unique_ptr<redisReply, Herald::RedisReplyDeleter> reply(static_cast<redisReply *>(raw));
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
            return std::nullopt;
        const redisReply *payload = reply->element[2];
        return QByteArray(payload->str, qsizetype(payload->len));
    }

private:
    RedisContext m_context;
    bool m_subscribed = false;
};

// The id of a bus message ("<id> <payload>").
inline qint64 busId(const QByteArray &message)
{
    return message.left(message.indexOf(' ')).toLongLong();
}

// The next bus message's id; 0 if none came.
inline qint64 nextBusId(BusReader &bus)
{
    const auto message = bus.next();
    return message ? busId(*message) : 0;
}

} // namespace HeraldTest
