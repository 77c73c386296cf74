#pragma once

// A contract backend's fixture on Redis: one redis-server for the run (a free loopback port,
// tests/common/redisserver.h), and a key prefix of each test's own, "<name>:<n>:".

#include "redisserver.h"

#include <QString>
#include <QTest>

#include <memory>
#include <utility>

namespace HeraldTest {

template<class Backend>
class OnRedis : public Backend
{
public:
    explicit OnRedis(QString name)
        : m_name(std::move(name))
    {}
    void initTestCase() override
    {
        m_redis = std::make_unique<RedisServer>();
        QVERIFY2(m_redis->start(), qPrintable(m_redis->errorString()));
    }
    void cleanupTestCase() override { m_redis.reset(); }
    void init() override { m_prefix = QStringLiteral("%1:%2:").arg(m_name).arg(++m_serial); }

protected:
    std::unique_ptr<RedisServer> m_redis;
    QString m_prefix;

private:
    QString m_name;
    int m_serial = 0;
};

} // namespace HeraldTest
