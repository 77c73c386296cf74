#include "message.h"
#include "recordstest.h"
#include "redisaddress.h"
#include "redishistory.h"
#include "redisnode.h"
#include "redisrecords.h"
#include "redisserver.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QMutex>
#include <QTest>
#include <QThread>

#include <atomic>
#include <memory>
#include <vector>

using namespace Qt::StringLiterals;
using namespace Herald;
using namespace HeraldTest;

namespace {

using namespace std::chrono_literals;

Message modelEvent(const QString &model, const QString &type, const QJsonObject &data)
{
    Message m;
    m.channel = model;
    m.type = type;
    m.data = data;
    m.timestamp = QDateTime::currentDateTimeUtc();
    return m;
}

} // namespace

// RedisRecords: seed 004's model records in Redis, for a cluster. What every RecordStore answers, Store's
// answers, is the RecordStore contract (tst_recordscontract_redis); here what a cluster adds: the answers
// across RedisHistory objects on one Redis (two objects are two nodes), the lock that serialises model
// changes across nodes, the write that carries an event, and the keys it all takes.
class tst_RedisRecords : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanupTestCase();

    void idsSharedByNodes();

    void uniqueEmailAnyCaseAcrossNodes();
    void referencesCountedForDelete();
    void keysBoundedAndPrefixed();

    void appendCarriesRecord();
    void listReadWithSequence();

    void lockIsExclusiveAcrossNodes();
    void lockWaitsForRelease();
    void expiredLockRefusesWrite();
    void expiredLockNotReleasedByOldHolder();
    void concurrentCreatesOfOneEmail();

private:
    std::unique_ptr<RedisHistory> openNode()
    {
        ServerConfig c;
        c.pruneInterval = std::chrono::hours(1);
        return openRedisNode(*m_redis, c, m_prefix);
    }
    // How many of this test's keys match the pattern (after the prefix).
    qint64 keyCount(const QString &pattern) const
    {
        return m_redis
            ->command({"EVAL", "return #redis.call('KEYS', ARGV[1])", "0", (m_prefix + pattern).toUtf8()})
            .value_or("-1")
            .toLongLong();
    }
    std::unique_ptr<RedisServer> m_redis;
    QString m_prefix;
    int m_serial = 0;
};

void tst_RedisRecords::initTestCase()
{
    m_redis = std::make_unique<RedisServer>();
    QVERIFY2(m_redis->start(), qPrintable(m_redis->errorString()));
}

void tst_RedisRecords::init()
{
    m_prefix = u"rec:%1:"_s.arg(++m_serial);
}

void tst_RedisRecords::cleanupTestCase()
{
    m_redis.reset();
}

// Each model's sequence is one for the cluster: what one node allocated, another never hands out. (That
// ids are not reused after a delete or a restart is the RecordStore contract's idsPerModelNeverReused.)
void tst_RedisRecords::idsSharedByNodes()
{
    auto one = openNode();
    auto two = openNode();
    QVERIFY(one && two);
    QCOMPARE(*one->records()->allocateRecordId(u"users"_s), 1);
    QCOMPARE(*two->records()->allocateRecordId(u"users"_s), 2);
    QCOMPARE(*two->records()->allocateRecordId(u"posts"_s), 1);
    QCOMPARE(*one->records()->allocateRecordId(u"users"_s), 3);
}

void tst_RedisRecords::uniqueEmailAnyCaseAcrossNodes()
{
    auto one = openNode();
    auto two = openNode();
    QVERIFY(one && two);
    QVERIFY(write(*one->records(), userWrite(1, u"Ann@Example.com"_s)));
    // What ModelApi asks before a create on node two: taken, in any case.
    for (const QString &spelling : {u"ann@example.com"_s, u"ANN@EXAMPLE.COM"_s, u"Ann@Example.com"_s}) {
        auto taken = two->records()->countRecords(u"users"_s, u"email"_s, spelling, true);
        QVERIFY2(taken, why(taken).constData());
        QVERIFY2(*taken == 1, qPrintable(spelling));
    }
    // Before a patch of user 1 itself: its own address is not a conflict.
    auto own = two->records()->countRecords(u"users"_s, u"email"_s, u"ANN@example.com"_s, true, 1);
    QVERIFY2(own, why(own).constData());
    QCOMPARE(*own, 0);
    auto other = two->records()->countRecords(u"users"_s, u"email"_s, u"bob@example.com"_s, true);
    QVERIFY2(other, why(other).constData());
    QCOMPARE(*other, 0);
}

void tst_RedisRecords::referencesCountedForDelete()
{
    auto one = openNode();
    auto two = openNode();
    QVERIFY(one && two);
    QVERIFY(write(*one->records(), userWrite(1, u"ann@example.com"_s)));
    QVERIFY(write(*one->records(), userWrite(2, u"bob@example.com"_s)));
    QVERIFY(write(*one->records(), postWrite(1, 1)));
    QVERIFY(write(*two->records(), postWrite(2, 1)));
    // What ModelApi asks before deleting a user, on either node.
    auto refs = [&](RedisHistory &node, qint64 user) {
        return node.records()->countRecords(u"posts"_s, u"user_id"_s, QJsonValue(user)).value();
    };
    QCOMPARE(refs(*one, 1), 2);
    QCOMPARE(refs(*two, 1), 2);
    QCOMPARE(refs(*two, 2), 0);
    // A post moved to another author moves its reference.
    QVERIFY(write(*two->records(), postWrite(2, 2)));
    QCOMPARE(refs(*one, 1), 1);
    QCOMPARE(refs(*one, 2), 1);
    QVERIFY(write(*one->records(), deleteWrite(u"posts"_s, 1)));
    QCOMPARE(refs(*two, 1), 0);
}

void tst_RedisRecords::keysBoundedAndPrefixed()
{
    auto node = openNode();
    QVERIFY(node);
    RecordStore &records = *node->records();
    for (qint64 id = 1; id <= 20; ++id) {
        QCOMPARE(*records.allocateRecordId(u"users"_s), id);
        QVERIFY(write(records, userWrite(id, u"u%1@example.com"_s.arg(id))));
        QCOMPARE(*records.allocateRecordId(u"posts"_s), id);
        QVERIFY(write(records, postWrite(id, id)));
    }
    // One index key per value: 20 emails, 20 authors.
    QCOMPARE(keyCount(u"idx:*"_s), 40);
    for (qint64 id = 1; id <= 20; ++id) {
        QVERIFY(write(records, deleteWrite(u"posts"_s, id)));
        QVERIFY(write(records, deleteWrite(u"users"_s, id)));
    }
    // With the records gone, only the two id sequences are left, beside the history's epoch.
    QCOMPARE(keyCount(u"*"_s), 3);
    QCOMPARE(keyCount(u"epoch"_s), 1);
    QCOMPARE(keyCount(u"recseq:*"_s), 2);
    // Nothing outside the prefix.
    const auto all = m_redis->command({"EVAL", "return #redis.call('KEYS', '*')", "0"});
    const auto ours = m_redis->command({"EVAL", "return #redis.call('KEYS', ARGV[1])", "0", "rec:*"});
    QVERIFY(all && ours);
    QCOMPARE(*all, *ours);
}

void tst_RedisRecords::appendCarriesRecord()
{
    auto node = openNode();
    QVERIFY(node);
    auto bus = m_redis->connect(10000);
    QVERIFY(bus);
    QVERIFY(RedisServer::commandOn(bus.get(), {"SUBSCRIBE", node->busChannel()}));

    const RecordWrite ann = userWrite(1, u"ann@example.com"_s);
    auto id = node->append(modelEvent(u"users"_s, u"created"_s, ann.data), true, "created ann", &ann);
    QVERIFY2(id, why(id).constData());
    auto got = node->records()->record(u"users"_s, 1);
    QVERIFY2(got, why(got).constData());
    QCOMPARE(got->value_or(QJsonObject()), ann.data);
    auto page = node->history(u"users"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->messages.size(), 1);
    QCOMPARE(page->messages.constFirst().id, *id);
    QCOMPARE(page->messages.constFirst().data, ann.data);
    void *raw = nullptr;
    QCOMPARE(redisGetReply(bus.get(), &raw), REDIS_OK);
    const RedisReply message(static_cast<redisReply *>(raw));
    QVERIFY(message && message->type == REDIS_REPLY_ARRAY && message->elements == 3);
    QCOMPARE(redisBytes(message->element[2]), QByteArray::number(*id) + " created ann");

    // A delete with its event, on an unstored channel: the record goes all the same.
    const RecordWrite gone = deleteWrite(u"users"_s, 1);
    auto second = node->append(modelEvent(u"users"_s, u"deleted"_s, {{"id"_L1, 1}}), false, "{}", &gone);
    QVERIFY2(second, why(second).constData());
    QCOMPARE(*second, *id + 1);
    got = node->records()->record(u"users"_s, 1);
    QVERIFY2(got, why(got).constData());
    QVERIFY(!got->has_value());
    QCOMPARE(node->records()->countRecords(u"users"_s, u"email"_s, u"ann@example.com"_s, true).value(), 0);
}

void tst_RedisRecords::listReadWithSequence()
{
    auto one = openNode();
    auto two = openNode();
    QVERIFY(one && two);
    qint64 sequence = -1;
    auto list = two->records()->recordsAt(&sequence, u"users"_s, 10, 0);
    QVERIFY2(list, why(list).constData());
    QCOMPARE(sequence, 0);
    QVERIFY(list->isEmpty());

    // Changes with events from node one; a message on another channel moves the sequence too.
    for (qint64 id = 1; id <= 3; ++id) {
        const RecordWrite w = userWrite(id, u"u%1@example.com"_s.arg(id));
        QVERIFY(one->append(modelEvent(u"users"_s, u"created"_s, w.data), true, "{}", &w));
        QVERIFY(one->append(modelEvent(u"news"_s, u"note"_s, {}), true, "{}"));
    }
    list = two->records()->recordsAt(&sequence, u"users"_s, 10, 0);
    QVERIFY2(list, why(list).constData());
    QCOMPARE(sequence, 6);
    QCOMPARE(idsOf(*list), (QList<qint64>{1, 2, 3}));
    list = two->records()->recordsAt(&sequence, u"posts"_s, 10, 0, u"user_id"_s, 1);
    QVERIFY2(list, why(list).constData());
    QCOMPARE(sequence, 6);
    QVERIFY(list->isEmpty());
    // The events after the sequence read with a list are exactly the changes the list does not show.
    const RecordWrite w = userWrite(4, u"u4@example.com"_s);
    QVERIFY(one->append(modelEvent(u"users"_s, u"created"_s, w.data), true, "{}", &w));
    auto after = two->replay({u"users"_s}, sequence, 0);
    QVERIFY2(after, why(after).constData());
    QVERIFY(after->recovered);
    QCOMPARE(after->messages.size(), 1);
    QCOMPARE(after->messages.constFirst().data, w.data);
}

void tst_RedisRecords::lockIsExclusiveAcrossNodes()
{
    auto one = openNode();
    auto two = openNode();
    QVERIFY(one && two);
    two->records()->setLockTiming(RedisRecords::DefaultLockLease, 100ms);
    auto held = one->records()->lockChanges();
    QVERIFY2(held, why(held).constData());
    QVERIFY(!held->token().isEmpty());

    auto refused = two->records()->lockChanges();
    QVERIFY(!refused);
    QCOMPARE(refused.error().kind, StoreError::Kind::Unavailable);
    QVERIFY2(refused.error().message.contains(u"try again"_s), qPrintable(refused.error().message));

    RecordLock lock = std::move(held).value();
    const QByteArray first = lock.token();
    lock.release();
    QCOMPARE(keyCount(u"lock:records"_s), 0);
    auto next = two->records()->lockChanges();
    QVERIFY2(next, why(next).constData());
    QVERIFY(!next->token().isEmpty());
    QVERIFY(next->token() != first);
}

void tst_RedisRecords::lockWaitsForRelease()
{
    auto one = openNode();
    auto two = openNode();
    QVERIFY(one && two);
    two->records()->setLockTiming(RedisRecords::DefaultLockLease, 10s);
    auto held = one->records()->lockChanges();
    QVERIFY2(held, why(held).constData());
    std::atomic<bool> got{false};
    QByteArray error;
    std::unique_ptr<QThread> waiter(QThread::create([&] {
        auto lock = two->records()->lockChanges();
        error = why(lock);
        got = bool(lock);
        two->releaseThreadConnection();
    }));
    waiter->start();
    // Node two waits while one holds it…
    QTest::qWait(100);
    QVERIFY(!got.load());
    // …and has it once one lets go, well before its wait is over.
    RecordLock(std::move(held).value()).release();
    QVERIFY(waiter->wait(5000));
    QVERIFY2(got.load(), error.constData());
}

void tst_RedisRecords::expiredLockRefusesWrite()
{
    auto one = openNode();
    auto two = openNode();
    QVERIFY(one && two);
    one->records()->setLockTiming(50ms, 1s);
    auto stale = one->records()->lockChanges();
    QVERIFY2(stale, why(stale).constData());
    // Node one is slow: its lease runs out, node two takes the lock and makes a change of its own.
    QTRY_COMPARE(keyCount(u"lock:records"_s), 0);
    auto fresh = two->records()->lockChanges();
    QVERIFY2(fresh, why(fresh).constData());
    RecordWrite mine = userWrite(1, u"same@example.com"_s, u"Two"_s);
    mine.fence = fresh->token();
    QVERIFY(two->append(modelEvent(u"users"_s, u"created"_s, mine.data), true, "{}", &mine));

    // Node one's checks are stale: what it writes under its old fence is refused, with nothing done.
    RecordWrite late = userWrite(2, u"same@example.com"_s, u"One"_s);
    late.fence = stale->token();
    auto written = one->records()->writeRecord(late);
    QVERIFY(!written);
    QCOMPARE(written.error().kind, StoreError::Kind::Unavailable);
    auto published = one->append(modelEvent(u"users"_s, u"created"_s, late.data), true, "{}", &late);
    QVERIFY(!published);
    QCOMPARE(published.error().kind, StoreError::Kind::Unavailable);
    QCOMPARE(one->lastId().value(), 1); // no id taken, no event stored or sent
    auto page = one->history(u"users"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->messages.size(), 1);
    auto list = one->records()->records(u"users"_s, 10, 0);
    QVERIFY2(list, why(list).constData());
    QCOMPARE(idsOf(*list), QList<qint64>{1});
    QCOMPARE(one->records()->countRecords(u"users"_s, u"email"_s, u"same@example.com"_s, true).value(), 1);
}

void tst_RedisRecords::expiredLockNotReleasedByOldHolder()
{
    auto one = openNode();
    auto two = openNode();
    QVERIFY(one && two);
    one->records()->setLockTiming(50ms, 1s);
    two->records()->setLockTiming(RedisRecords::DefaultLockLease, 50ms);
    {
        auto stale = one->records()->lockChanges();
        QVERIFY2(stale, why(stale).constData());
        QTRY_COMPARE(keyCount(u"lock:records"_s), 0);
        auto fresh = two->records()->lockChanges();
        QVERIFY2(fresh, why(fresh).constData());
        // One's lock goes out of scope first: it must not release two's.
        RecordLock(std::move(stale).value()).release();
        QCOMPARE(m_redis->command({"GET", (m_prefix + u"lock:records"_s).toUtf8()}).value_or(QByteArray()),
                 fresh->token());
        QVERIFY(!one->records()->lockChanges());
    }
    // Two's went with its scope.
    QCOMPARE(keyCount(u"lock:records"_s), 0);
}

void tst_RedisRecords::concurrentCreatesOfOneEmail()
{
    // Four nodes, each on its own thread, each claiming one address (in different spellings) again and again,
    // the way ModelApi creates a user: lock, check, take an id, write with the event, release.
    constexpr int Nodes = 4;
    constexpr int Attempts = 25;
    std::vector<std::unique_ptr<RedisHistory>> nodes;
    for (int i = 0; i < Nodes; ++i) {
        nodes.push_back(openNode());
        QVERIFY(nodes.back());
        nodes.back()->records()->setLockTiming(RedisRecords::DefaultLockLease, 10s);
    }
    const QStringList spellings = {u"same@example.com"_s, u"SAME@example.com"_s, u"Same@Example.Com"_s};
    std::atomic<int> created{0};
    std::atomic<int> refused{0};
    QMutex mutex;
    QStringList failures;
    std::vector<std::unique_ptr<QThread>> threads;
    for (int n = 0; n < Nodes; ++n) {
        threads.emplace_back(QThread::create([&, n] {
            RedisHistory &node = *nodes.at(size_t(n));
            RedisRecords &records = *node.records();
            auto fail = [&](const QString &what) {
                QMutexLocker lock(&mutex);
                failures.append(what);
            };
            for (int i = 0; i < Attempts; ++i) {
                auto lock = records.lockChanges();
                if (!lock) {
                    fail(lock.error().message);
                    continue;
                }
                const QString email = spellings.at((n + i) % spellings.size());
                auto taken = records.countRecords(u"users"_s, u"email"_s, email, true);
                if (!taken) {
                    fail(taken.error().message);
                    continue;
                }
                if (*taken > 0) {
                    ++refused;
                    continue;
                }
                auto id = records.allocateRecordId(u"users"_s);
                if (!id) {
                    fail(id.error().message);
                    continue;
                }
                RecordWrite w = userWrite(*id, email, u"Node %1"_s.arg(n));
                w.fence = lock->token();
                auto published = node.append(modelEvent(u"users"_s, u"created"_s, w.data), true, "{}", &w);
                if (!published)
                    fail(published.error().message);
                else
                    ++created;
            }
            node.releaseThreadConnection();
        }));
    }
    for (auto &t : threads)
        t->start();
    for (auto &t : threads)
        QVERIFY(t->wait(60000));
    QVERIFY2(failures.isEmpty(), qPrintable(failures.join(u"; "_s)));
    QCOMPARE(created.load(), 1);
    QCOMPARE(refused.load(), Nodes * Attempts - 1);
    auto list = nodes.front()->records()->records(u"users"_s, 100, 0);
    QVERIFY2(list, why(list).constData());
    QCOMPARE(list->size(), 1);
    auto events = nodes.front()->history(u"users"_s, 0, 0, 100);
    QVERIFY2(events, why(events).constData());
    QCOMPARE(events->messages.size(), 1);
    QCOMPARE(keyCount(u"lock:records"_s), 0);
}

QTEST_GUILESS_MAIN(tst_RedisRecords)
#include "tst_redisrecords.moc"
