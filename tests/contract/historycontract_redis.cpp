// The History contract (historycontract.h) against RedisHistory: one redis-server for the run (a free
// loopback port, tests/common/redisserver.h), a key prefix of each test's own.

#include "historycontract.h"

#include "channelname.h"
#include "onredis.h"
#include "redisnode.h"

#include <QTest>

using namespace Qt::StringLiterals;
using namespace Herald;
using HeraldTest::RedisServer;

namespace {

class RedisBackend : public HeraldTest::OnRedis<HeraldTest::HistoryBackend>
{
public:
    RedisBackend()
        : OnRedis(u"contract"_s)
    {}
    void cleanup() override { m_bus.reset(); }
    std::unique_ptr<History> open(const ServerConfig &config) override
    {
        return HeraldTest::openRedisNode(*m_redis, config, m_prefix);
    }
    // The id comes from the cluster's sequence in Redis; the hub publishes what is not stored too.
    Result<qint64, StoreError> store(History &history, const Message &message) override
    {
        auto &h = static_cast<RedisHistory &>(history);
        return h.append(message, h.isPersistent(message.channel), message.message.toUtf8());
    }
    void close(History &history) override { static_cast<RedisHistory &>(history).close(); }
    void releaseThreadConnection(History &history) override
    {
        static_cast<RedisHistory &>(history).releaseThreadConnection();
    }
    int connectionCount(History &history) override
    {
        return static_cast<RedisHistory &>(history).threadConnectionCount();
    }
    void watchDeliveries(History &history) override
    {
        m_bus = std::make_unique<HeraldTest::BusReader>(*m_redis,
                                                        static_cast<RedisHistory &>(history).busChannel());
        QVERIFY(m_bus->isSubscribed());
    }
    void checkDeliveries(const QList<Message> &stored) override
    {
        QVERIFY(m_bus);
        for (const Message &m : stored) {
            const auto message = m_bus->next();
            QVERIFY2(message, "a bus message is missing");
            QCOMPARE(HeraldTest::busId(*message), m.id);
            QCOMPARE(message->mid(message->indexOf(' ') + 1), m.message.toUtf8());
        }
    }
    bool countRetentionOnStore() const override { return true; }
    bool sharedSequence() const override { return true; }
    // Memory stays bounded: a deleted message leaves no entry in the channel's indexes or the id map.
    void checkEntries(const QString &channel, qint64 onChannel, qint64 inAll) override
    {
        QCOMPARE(count("ZCARD", u"msgs:"_s + channel), onChannel);
        QCOMPARE(count("ZCARD", u"times:"_s + channel), onChannel);
        if (isUserChannel(channel))
            QCOMPARE(count("ZCARD", u"unread:"_s + channel), onChannel);
        QCOMPARE(count("HLEN", u"ids"_s), inAll);
    }

private:
    // The size of one of this test's keys, straight from Redis (ZCARD, HLEN, …).
    qint64 count(const char *command, const QString &key) const
    {
        return m_redis->command({command, (m_prefix + key).toUtf8()}).value_or("-1").toLongLong();
    }

    std::unique_ptr<HeraldTest::BusReader> m_bus;
};

} // namespace

int main(int argc, char **argv)
{
    return runHistoryContract(std::make_unique<RedisBackend>(), argc, argv);
}
