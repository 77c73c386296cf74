// The RecordStore contract (recordscontract.h) against RedisRecords, the records of a RedisHistory: one
// redis-server for the run (a free loopback port, tests/common/redisserver.h), a key prefix of each test's
// own.

#include "recordscontract.h"

#include "onredis.h"
#include "redisnode.h"

#include <QTest>

using namespace Qt::StringLiterals;
using namespace Herald;
using HeraldTest::RedisServer;

namespace {

class RedisRecordsBackend : public HeraldTest::OnRedis<HeraldTest::RecordsBackend>
{
public:
    RedisRecordsBackend()
        : OnRedis(u"records"_s)
    {}
    std::unique_ptr<HeraldTest::OpenRecords> open() override
    {
        return HeraldTest::openedRecords(
            HeraldTest::openRedisNode(*m_redis, HeraldTest::recordsConfig(), m_prefix));
    }
    bool sharedLock() const override { return true; }
    // One index key a value, none left for a value no record has.
    void checkEmailIndex(qint64 values) override
    {
        const auto keys = m_redis->command({"EVAL", "return #redis.call('KEYS', ARGV[1])", "0",
                                            (m_prefix + u"idx:users:email:*"_s).toUtf8()});
        QCOMPARE(keys.value_or("-1").toLongLong(), values);
    }
};

} // namespace

int main(int argc, char **argv)
{
    return runRecordsContract(std::make_unique<RedisRecordsBackend>(), argc, argv);
}
