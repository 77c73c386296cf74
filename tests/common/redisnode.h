#pragma once

// A RedisHistory on a test's redis-server (redisserver.h) under a key prefix, opened: one node of a test
// cluster (two objects with one prefix are two nodes).

#include "redisaddress.h"
#include "redishistory.h"
#include "redisserver.h"

#include <QDebug>

#include <memory>

namespace HeraldTest {

// Null, with a warning, if it does not open.
inline std::unique_ptr<Herald::RedisHistory>
openRedisNode(const RedisServer &redis, const Herald::ServerConfig &config, const QString &prefix)
{
    const auto address = Herald::RedisAddress::parse(redis.url());
    if (!address)
        return nullptr;
    auto node = std::make_unique<Herald::RedisHistory>(config, *address, prefix);
    if (!node->open()) {
        qWarning().noquote() << "RedisHistory did not open:" << node->errorString();
        return nullptr;
    }
    return node;
}

} // namespace HeraldTest
