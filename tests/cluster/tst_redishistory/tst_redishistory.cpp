#include "channelname.h"
#include "historytest.h"
#include "message.h"
#include "redisaddress.h"
#include "redishistory.h"
#include "redisnode.h"
#include "redisserver.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QMutex>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

using namespace Qt::StringLiterals;
using namespace Herald;
using HeraldTest::busId;
using HeraldTest::BusReader;
using HeraldTest::idsOf;
using HeraldTest::makeMessage;
using HeraldTest::nextBusId;
using HeraldTest::range;
using HeraldTest::RedisServer;
using HeraldTest::why;

using namespace std::chrono_literals;

class tst_RedisHistory : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanupTestCase();

    void parseAddress_data();
    void parseAddress();

    void openFailsWhenNothingListens();
    void openWithPasswordAndDb();
    void openWithAclUser();
    void wrongPasswordFails();

    void sequence();
    void ephemeralNotStored();
    void busPayloadIsBinarySafe();

    void twoNodesShareHistory();
    void epochSharedPerPrefix();
    void prefixesAreIsolated();

    void restartedRedisHeals();
    void stoppedRedisUnavailable();
    void hungRedisTimesOut();
    void lostAnswerIsRetriedWithItsKey_data();
    void lostAnswerIsRetriedWithItsKey();
    void maxmemoryGivesFull();
    void closedHistoryOpensAgain();

private:
    ServerConfig config() const
    {
        ServerConfig c;
        // Retention runs when a test calls prune(), not on its own halfway through.
        c.pruneInterval = std::chrono::hours(1);
        return c;
    }
    // A history on the shared Redis under this test's own prefix (or `prefix`), opened.
    std::unique_ptr<RedisHistory> openHistory(const ServerConfig &c, const QString &prefix = {},
                                              const RedisServer *redis = nullptr)
    {
        return HeraldTest::openRedisNode(redis ? *redis : *m_redis, c, prefix.isEmpty() ? m_prefix : prefix);
    }
    static qint64 append(RedisHistory &h, const Message &m, const QByteArray &bus = "{}")
    {
        auto r = h.append(m, h.isPersistent(m.channel), bus);
        if (!r)
            qWarning().noquote() << "append failed:" << r.error().message;
        return r ? *r : -1;
    }
    // `redis` started and a history on it (under this test's prefix, adjusted by `beforeOpen`) that holds one
    // message, id 1 on "chat": for the tests that then stop, pause or fill that Redis. Null, with the reason
    // logged, where any of that fails.
    std::unique_ptr<RedisHistory>
    startWithOneMessage(RedisServer &redis, const std::function<void(RedisHistory &)> &beforeOpen = {})
    {
        if (!redis.start()) {
            qWarning().noquote() << "redis-server did not start:" << redis.errorString();
            return nullptr;
        }
        auto h = HeraldTest::openRedisNode(redis, config(), m_prefix, beforeOpen);
        if (!h || append(*h, makeMessage(u"chat"_s)) != 1)
            return nullptr;
        return h;
    }
    // A history at `url` (a Redis of the test's own, with its password, user or database) under this test's
    // prefix, opened; null, with the reason logged, if the URL does not parse or it does not open.
    std::unique_ptr<RedisHistory> openAt(const QString &url) const
    {
        const auto address = RedisAddress::parse(url);
        if (!address) {
            qWarning().noquote() << "not a Redis URL:" << url;
            return nullptr;
        }
        auto h = std::make_unique<RedisHistory>(config(), *address, m_prefix);
        if (!h->open()) {
            qWarning().noquote() << "RedisHistory did not open:" << h->errorString();
            return nullptr;
        }
        return h;
    }
    // 500 ms to connect, 300 ms for a command: a hung Redis is given up on soon.
    static void shortTimeouts(RedisHistory &h) { h.setTimeouts({500ms, 300ms}); }
    // The size of one of this test's keys, straight from Redis (ZCARD, HLEN, …).
    qint64 count(const char *command, const QString &key) const
    {
        return m_redis->command({command, (m_prefix + key).toUtf8()}).value_or("-1").toLongLong();
    }

    std::unique_ptr<RedisServer> m_redis;
    QString m_prefix;
    int m_serial = 0;
};

void tst_RedisHistory::initTestCase()
{
    m_redis = std::make_unique<RedisServer>();
    QVERIFY2(m_redis->start(), qPrintable(m_redis->errorString()));
}

void tst_RedisHistory::init()
{
    // Every test on the shared Redis has keys of its own.
    m_prefix = u"tst:%1:"_s.arg(++m_serial);
}

void tst_RedisHistory::cleanupTestCase()
{
    m_redis.reset();
}

void tst_RedisHistory::parseAddress_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::addColumn<int>("db");
    QTest::addColumn<QString>("user");
    QTest::addColumn<QString>("password");
    QTest::addColumn<QString>("text");

    QTest::newRow("host and port") << u"redis://127.0.0.1:6390"_s << true << u"127.0.0.1"_s << 6390 << 0
                                   << QString() << QString() << u"redis://127.0.0.1:6390"_s;
    QTest::newRow("default port") << u"redis://redis.internal"_s << true << u"redis.internal"_s << 6379 << 0
                                  << QString() << QString() << u"redis://redis.internal:6379"_s;
    QTest::newRow("trailing slash") << u"redis://host:7000/"_s << true << u"host"_s << 7000 << 0 << QString()
                                    << QString() << u"redis://host:7000"_s;
    QTest::newRow("password and db") << u"redis://:s3cret@host:6380/2"_s << true << u"host"_s << 6380 << 2
                                     << QString() << u"s3cret"_s << u"redis://host:6380/2"_s;
    QTest::newRow("acl user") << u"redis://alice:pw@host:6381"_s << true << u"host"_s << 6381 << 0
                              << u"alice"_s << u"pw"_s << u"redis://alice@host:6381"_s;
    QTest::newRow("encoded password") << u"redis://:p%40ss%3Aword@host"_s << true << u"host"_s << 6379 << 0
                                      << QString() << u"p@ss:word"_s << u"redis://host:6379"_s;
    QTest::newRow("ipv6") << u"redis://[::1]:6379/1"_s << true << u"::1"_s << 6379 << 1 << QString()
                          << QString() << u"redis://[::1]:6379/1"_s;
    QTest::newRow("surrounding spaces") << u"  redis://host:1  "_s << true << u"host"_s << 1 << 0 << QString()
                                        << QString() << u"redis://host:1"_s;

    const auto invalid = [](const char *name, const QString &url) {
        QTest::newRow(name) << url << false << QString() << 0 << 0 << QString() << QString() << QString();
    };
    invalid("empty", QString());
    invalid("wrong scheme", u"http://host:6379"_s);
    invalid("tls scheme", u"rediss://host:6379"_s);
    invalid("no scheme", u"host:6379"_s);
    invalid("empty host", u"redis://:6379"_s);
    invalid("empty host with db", u"redis:///0"_s);
    invalid("port zero", u"redis://host:0"_s);
    invalid("port too big", u"redis://host:65536"_s);
    invalid("port not a number", u"redis://host:abc"_s);
    invalid("db not a number", u"redis://host:6379/zero"_s);
    invalid("db negative", u"redis://host:6379/-1"_s);
    invalid("db with sign", u"redis://host:6379/+1"_s);
    invalid("db too big", u"redis://host:6379/99999999999"_s);
    invalid("two path segments", u"redis://host:6379/1/2"_s);
    invalid("user without password", u"redis://alice@host:6379"_s);
    invalid("query", u"redis://host:6379?db=1"_s);
    invalid("fragment", u"redis://host:6379#x"_s);
}

void tst_RedisHistory::parseAddress()
{
    QFETCH(QString, url);
    QFETCH(bool, valid);
    const auto a = RedisAddress::parse(url);
    QCOMPARE(a.has_value(), valid);
    if (!valid)
        return;
    QTEST(a->host, "host");
    QTEST(int(a->port), "port");
    QTEST(a->db, "db");
    QTEST(a->user, "user");
    QTEST(a->password, "password");
    QTEST(a->toString(), "text");
    if (!a->password.isEmpty())
        QVERIFY(!a->toString().contains(a->password));
}

void tst_RedisHistory::openFailsWhenNothingListens()
{
    quint16 port = 0;
    {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        port = probe.serverPort();
    }
    const auto address = RedisAddress::parse(u"redis://127.0.0.1:%1"_s.arg(port));
    QVERIFY(address);
    RedisHistory h(config(), *address, m_prefix);
    QVERIFY(!h.open());
    const QString expected = u"cannot reach Redis at redis://127.0.0.1:%1: "_s.arg(port);
    QVERIFY2(h.errorString().startsWith(expected), qPrintable(h.errorString()));
    QVERIFY2(h.errorString().contains(u"refused"_s), qPrintable(h.errorString()));
    QVERIFY(!h.errorString().contains(u'\n'));
    auto r = h.lastId();
    QVERIFY(!r);
    QCOMPARE(r.error().kind, StoreError::Kind::Unavailable);
}

void tst_RedisHistory::openWithPasswordAndDb()
{
    RedisServer redis({u"--requirepass"_s, u"s3cret"_s});
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    auto h = openAt(u"redis://:s3cret@127.0.0.1:%1/3"_s.arg(redis.port()));
    QVERIFY(h);
    QCOMPARE(append(*h, makeMessage(u"chat"_s)), 1);

    // The keys are in database 3, not 0.
    HeraldTest::RedisContext raw = redis.connect();
    QVERIFY(raw);
    QCOMPARE(RedisServer::commandOn(raw.get(), {"AUTH", "s3cret"}).value_or(""), "OK");
    const QByteArray seq = (m_prefix + u"seq"_s).toUtf8();
    QCOMPARE(RedisServer::commandOn(raw.get(), {"EXISTS", seq}).value_or(""), "0");
    QCOMPARE(RedisServer::commandOn(raw.get(), {"SELECT", "3"}).value_or(""), "OK");
    QCOMPARE(RedisServer::commandOn(raw.get(), {"GET", seq}).value_or(""), "1");
}

void tst_RedisHistory::openWithAclUser()
{
    RedisServer redis({u"--user"_s, u"herald"_s, u"on"_s, u">pw"_s, u"~*"_s, u"&*"_s, u"+@all"_s});
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    auto h = openAt(u"redis://herald:pw@127.0.0.1:%1"_s.arg(redis.port()));
    QVERIFY(h);
    QCOMPARE(append(*h, makeMessage(u"chat"_s)), 1);

    const auto wrong = RedisAddress::parse(u"redis://herald:nope@127.0.0.1:%1"_s.arg(redis.port()));
    QVERIFY(wrong);
    RedisHistory refused(config(), *wrong, m_prefix);
    QVERIFY(!refused.open());
    QVERIFY2(refused.errorString().contains(u"refused the credentials"_s), qPrintable(refused.errorString()));
}

void tst_RedisHistory::wrongPasswordFails()
{
    RedisServer redis({u"--requirepass"_s, u"s3cret"_s});
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    for (const QString &url : {u"redis://:hunter2@127.0.0.1:%1"_s, u"redis://127.0.0.1:%1"_s}) {
        const auto address = RedisAddress::parse(url.arg(redis.port()));
        QVERIFY(address);
        RedisHistory h(config(), *address, m_prefix);
        QVERIFY(!h.open());
        // One line, naming the server and never the password.
        QVERIFY2(h.errorString().contains(u"redis://127.0.0.1:%1"_s.arg(redis.port())),
                 qPrintable(h.errorString()));
        QVERIFY(!h.errorString().contains(u"hunter2"_s));
        QVERIFY(!h.errorString().contains(u'\n'));
    }
}

void tst_RedisHistory::sequence()
{
    auto h = openHistory(config());
    QVERIFY(h);
    auto last = h->lastId();
    QVERIFY2(last, why(last).constData());
    QCOMPARE(*last, 0);
    QCOMPARE(append(*h, makeMessage(u"a"_s)), 1);

    // A node handed out ids up to 100 on its own while Redis was away.
    auto raised = h->raiseSequence(100);
    QVERIFY2(raised, why(raised).constData());
    QVERIFY(*raised);
    last = h->lastId();
    QVERIFY2(last, why(last).constData());
    QCOMPARE(*last, 100);
    QCOMPARE(append(*h, makeMessage(u"a"_s)), 101);

    // Never lowered.
    raised = h->raiseSequence(50);
    QVERIFY2(raised, why(raised).constData());
    QVERIFY(!*raised);
    raised = h->raiseSequence(101);
    QVERIFY2(raised, why(raised).constData());
    QVERIFY(!*raised);
    last = h->lastId();
    QVERIFY2(last, why(last).constData());
    QCOMPARE(*last, 101);

    // A publisher's floor (the last id its node saw) lifts the sequence in the same script; a lower one
    // does nothing.
    auto id = h->append(makeMessage(u"a"_s), true, "{}", nullptr, 500);
    QVERIFY2(id, why(id).constData());
    QCOMPARE(*id, 501);
    id = h->append(makeMessage(u"a"_s), true, "{}", nullptr, 10);
    QVERIFY2(id, why(id).constData());
    QCOMPARE(*id, 502);
}

void tst_RedisHistory::ephemeralNotStored()
{
    auto h = openHistory(config());
    QVERIFY(h);
    BusReader bus(*m_redis, h->busChannel());
    QVERIFY(bus.isSubscribed());

    const QString channel = clientChannel(u"c1");
    QVERIFY(!h->isPersistent(channel));
    auto id = h->append(makeMessage(channel), false, "live only");
    QVERIFY2(id, why(id).constData());
    QCOMPARE(*id, 1);
    // Delivered live, with an id of the one sequence…
    QCOMPARE(bus.next().value_or("none"), "1 live only");
    // …but stored nowhere.
    auto page = h->history(channel, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QVERIFY(page->messages.isEmpty());
    auto known = h->knows(channel);
    QVERIFY2(known, why(known).constData());
    QVERIFY(!*known);
    auto owner = h->channelOf(1);
    QVERIFY2(owner, why(owner).constData());
    QVERIFY(!owner->has_value());
    auto list = h->channels();
    QVERIFY2(list, why(list).constData());
    QVERIFY(list->isEmpty());
    QCOMPARE(count("EXISTS", u"msgs:"_s + channel), 0);
    QCOMPARE(count("EXISTS", u"times:"_s + channel), 0);
    QCOMPARE(append(*h, makeMessage(u"chat"_s)), 2);
    QCOMPARE(nextBusId(bus), 2);
}

void tst_RedisHistory::busPayloadIsBinarySafe()
{
    auto h = openHistory(config());
    QVERIFY(h);
    QCOMPARE(h->busChannel(), (m_prefix + u"bus"_s).toUtf8());
    BusReader bus(*m_redis, h->busChannel());
    QVERIFY(bus.isSubscribed());
    const QByteArray payload("\x00\xff{\"x\": 1}\r\n \x01", 14);
    for (bool persist : {true, false}) {
        auto id = h->append(makeMessage(u"chat"_s), persist, payload);
        QVERIFY2(id, why(id).constData());
        QCOMPARE(bus.next().value_or("none"), QByteArray::number(*id) + ' ' + payload);
    }
    // An empty payload still has the id and the space.
    auto id = h->append(makeMessage(u"chat"_s), true, QByteArray());
    QVERIFY2(id, why(id).constData());
    QCOMPARE(bus.next().value_or("none"), QByteArray::number(*id) + ' ');
}

void tst_RedisHistory::twoNodesShareHistory()
{
    auto one = openHistory(config());
    QVERIFY(one);
    auto two = openHistory(config());
    QVERIFY(two);
    BusReader bus(*m_redis, one->busChannel());
    QVERIFY(bus.isSubscribed());
    QCOMPARE(one->busChannel(), two->busChannel());

    const QString alice = userChannel(u"alice");
    for (qint64 id = 1; id <= 6; ++id) {
        RedisHistory &node = id % 2 ? *one : *two;
        QCOMPARE(append(node, makeMessage(id <= 3 ? u"chat"_s : alice)), id);
    }
    for (qint64 id = 1; id <= 6; ++id)
        QCOMPARE(nextBusId(bus), id);

    // A client that saw id 2 on node one resumes on node two.
    auto resumed = two->replay({u"chat"_s, alice}, 2, 0);
    QVERIFY2(resumed, why(resumed).constData());
    QCOMPARE(idsOf(resumed->messages), range(3, 6));
    QVERIFY(resumed->recovered);
    auto fromOne = one->history(u"chat"_s, 0, 0, 10);
    auto fromTwo = two->history(u"chat"_s, 0, 0, 10);
    QVERIFY2(fromOne, why(fromOne).constData());
    QVERIFY2(fromTwo, why(fromTwo).constData());
    QCOMPARE(idsOf(fromOne->messages), range(1, 3));
    QCOMPARE(idsOf(fromTwo->messages), idsOf(fromOne->messages));

    // Read marks too.
    auto marked = one->markRead(5);
    QVERIFY2(marked, why(marked).constData());
    QVERIFY(*marked);
    auto unread = two->unreadCount(alice);
    QVERIFY2(unread, why(unread).constData());
    QCOMPARE(*unread, 2);
    auto last = two->lastId();
    QVERIFY2(last, why(last).constData());
    QCOMPARE(*last, 6);
}

void tst_RedisHistory::epochSharedPerPrefix()
{
    auto one = openHistory(config());
    auto two = openHistory(config());
    QVERIFY(one && two);
    QCOMPARE(one->epoch().size(), 16);
    QCOMPARE(two->epoch(), one->epoch());
    auto other = openHistory(config(), m_prefix + u"other:"_s);
    QVERIFY(other);
    QVERIFY(other->epoch() != one->epoch());

    // Redis without the key (it lost its data): the first to look makes a new one, the other adopts it.
    QVERIFY(m_redis->command({"DEL", (m_prefix + u"epoch"_s).toUtf8()}));
    const QString before = one->epoch();
    auto changed = two->ensureEpoch();
    QVERIFY2(changed, why(changed).constData());
    QVERIFY(*changed);
    QVERIFY(two->epoch() != before);
    auto adopted = one->ensureEpoch();
    QVERIFY2(adopted, why(adopted).constData());
    QVERIFY(*adopted);
    QCOMPARE(one->epoch(), two->epoch());
    auto unchanged = one->ensureEpoch();
    QVERIFY2(unchanged, why(unchanged).constData());
    QVERIFY(!*unchanged);
}

void tst_RedisHistory::prefixesAreIsolated()
{
    auto mine = openHistory(config());
    QVERIFY(mine);
    auto theirs = openHistory(config(), m_prefix.chopped(1) + u"-other:"_s);
    QVERIFY(theirs);
    QCOMPARE(append(*mine, makeMessage(u"chat"_s)), 1);
    QCOMPARE(append(*mine, makeMessage(userChannel(u"alice"))), 2);

    // Another cluster on the same Redis: its own sequence, its own history.
    auto last = theirs->lastId();
    QVERIFY2(last, why(last).constData());
    QCOMPARE(*last, 0);
    QCOMPARE(append(*theirs, makeMessage(u"chat"_s)), 1);
    auto page = theirs->history(u"chat"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->messages.size(), 1);
    auto known = theirs->knows(userChannel(u"alice"));
    QVERIFY2(known, why(known).constData());
    QVERIFY(!*known);
    auto owner = theirs->channelOf(2);
    QVERIFY2(owner, why(owner).constData());
    QVERIFY(!owner->has_value());
    QVERIFY(theirs->busChannel() != mine->busChannel());

    // Every key either wrote starts with its prefix.
    const auto keys = m_redis->command({"EVAL", "return #redis.call('KEYS', '*')", "0"});
    const auto prefixed = m_redis->command({"EVAL", "return #redis.call('KEYS', ARGV[1])", "0", "tst:*"});
    QVERIFY(keys && prefixed);
    QCOMPARE(*keys, *prefixed);
}

void tst_RedisHistory::restartedRedisHeals()
{
    // With an append-only file, so the data outlives the restart (as a production Redis would).
    RedisServer redis({u"--appendonly"_s, u"yes"_s, u"--appendfsync"_s, u"always"_s});
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    auto h = openHistory(config(), {}, &redis);
    QVERIFY(h);
    for (qint64 id = 1; id <= 3; ++id)
        QCOMPARE(append(*h, makeMessage(u"chat"_s)), id);
    QString worker = u"not run"_s;
    std::unique_ptr<QThread> before(
        QThread::create([&] { worker = QString::fromUtf8(why(h->history(u"chat"_s, 0, 0, 10))); }));
    before->start();
    before->wait();
    QCOMPARE(worker, u"ok"_s);

    QVERIFY2(redis.restart(), qPrintable(redis.errorString()));

    // The very next call works: the dead connection is noticed before use, and the scripts Redis forgot are
    // loaded again.
    QTest::ignoreMessage(QtInfoMsg, QRegularExpression(u"closed the connection; reconnecting"_s));
    QTest::ignoreMessage(QtInfoMsg, QRegularExpression(u"lost its scripts"_s));
    QCOMPARE(append(*h, makeMessage(u"chat"_s)), 4);
    auto page = h->history(u"chat"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(idsOf(page->messages), range(1, 4));

    // So does another thread's.
    std::unique_ptr<QThread> after(QThread::create([&] {
        worker = QString::fromUtf8(why(h->replay({u"chat"_s}, 2, 0)));
        h->releaseThreadConnection();
    }));
    after->start();
    after->wait();
    QCOMPARE(worker, u"ok"_s);
}

void tst_RedisHistory::stoppedRedisUnavailable()
{
    RedisServer redis;
    auto h = startWithOneMessage(redis);
    QVERIFY(h);

    redis.stop();
    auto appended = h->append(makeMessage(u"chat"_s), true, "{}");
    QVERIFY(!appended);
    QCOMPARE(appended.error().kind, StoreError::Kind::Unavailable);
    QVERIFY2(appended.error().message.contains(redis.url()), qPrintable(appended.error().message));
    auto page = h->history(u"chat"_s, 0, 0, 10);
    QVERIFY(!page);
    QCOMPARE(page.error().kind, StoreError::Kind::Unavailable);
    auto replay = h->replay({u"chat"_s}, 0, 1);
    QVERIFY(!replay);
    QCOMPARE(replay.error().kind, StoreError::Kind::Unavailable);
    auto pruned = h->prune();
    QVERIFY(!pruned);
    QCOMPARE(pruned.error().kind, StoreError::Kind::Unavailable);
    QCOMPARE(h->threadConnectionCount(), 0);

    // Back (empty: no persistence here): Herald carries on without being restarted.
    QVERIFY2(redis.restart(), qPrintable(redis.errorString()));
    auto raised = h->raiseSequence(1);
    QVERIFY2(raised, why(raised).constData());
    QCOMPARE(append(*h, makeMessage(u"chat"_s)), 2);
}

void tst_RedisHistory::hungRedisTimesOut()
{
    RedisServer redis;
    auto h = startWithOneMessage(redis, shortTimeouts);
    QVERIFY(h);

    // Redis still holds its socket but answers nothing: calls give up after the command timeout.
    QVERIFY(redis.pause());
    auto last = h->lastId();
    QVERIFY(!last);
    QCOMPARE(last.error().kind, StoreError::Kind::Unavailable);
    QVERIFY2(last.error().message.contains(u"did not answer within 300 ms"_s),
             qPrintable(last.error().message));
    // A new connection too (connecting succeeds: the kernel accepts for it).
    auto page = h->history(u"chat"_s, 0, 0, 10);
    QVERIFY(!page);
    QCOMPARE(page.error().kind, StoreError::Kind::Unavailable);

    redis.resume();
    last = h->lastId();
    QVERIFY2(last, why(last).constData());
    QCOMPARE(*last, 1);
}

void tst_RedisHistory::lostAnswerIsRetriedWithItsKey_data()
{
    QTest::addColumn<int>("hungMs"); // how long Redis answers nothing, from the publish on
    QTest::addColumn<bool>("answered");
    QTest::newRow("back during the retry") << 450 << true;
    QTest::newRow("away past the retry") << 1500 << false;
}

// A publish whose answer is lost (Redis hung past the command timeout) may have run: it is sent once more on
// a new connection with its own key. Back in time, Redis stores it once and the publisher gets its id; away
// for longer, the publisher is told the outcome is unknown, and when Redis comes back the tries queued in it
// store the message once, not once per try.
void tst_RedisHistory::lostAnswerIsRetriedWithItsKey()
{
    QFETCH(int, hungMs);
    QFETCH(bool, answered);
    RedisServer redis;
    auto h = startWithOneMessage(redis, shortTimeouts);
    QVERIFY(h);

    QVERIFY(redis.pause());
    const pid_t pid = pid_t(redis.processId());
    std::thread waker([pid, hungMs] {
        std::this_thread::sleep_for(std::chrono::milliseconds(hungMs));
        ::kill(pid, SIGCONT);
    });
    auto r = h->append(makeMessage(u"chat"_s), true, "{}");
    waker.join();
    redis.resume();
    if (answered) {
        QVERIFY2(r, why(r).constData());
        QCOMPARE(*r, 2);
    } else {
        QVERIFY(!r);
        QCOMPARE(r.error().kind, StoreError::Kind::Unknown);
        QVERIFY2(r.error().message.contains(u"may have been published"_s), qPrintable(r.error().message));
    }
    // Either way it is stored once: every try that reached Redis ran, and all but the first found its key.
    const auto lastId = [&h] {
        auto last = h->lastId();
        return last ? *last : qint64(-1);
    };
    QTRY_COMPARE(lastId(), 2);
    auto page = h->history(u"chat"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->messages.size(), 2);
    QCOMPARE(append(*h, makeMessage(u"chat"_s)), 3);
}

void tst_RedisHistory::maxmemoryGivesFull()
{
    RedisServer redis;
    auto h = startWithOneMessage(redis);
    QVERIFY(h);

    QCOMPARE(redis.command({"CONFIG", "SET", "maxmemory", "1"}).value_or(""), "OK");
    for (bool persist : {true, false}) {
        auto r = h->append(makeMessage(u"chat"_s), persist, "{}");
        QVERIFY(!r);
        QCOMPARE(r.error().kind, StoreError::Kind::Full);
    }
    // Refused whole: no id was used up, and reads still work.
    auto last = h->lastId();
    QVERIFY2(last, why(last).constData());
    QCOMPARE(*last, 1);
    auto page = h->history(u"chat"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(idsOf(page->messages), (QList<qint64>{1}));

    QCOMPARE(redis.command({"CONFIG", "SET", "maxmemory", "0"}).value_or(""), "OK");
    QCOMPARE(append(*h, makeMessage(u"chat"_s)), 2);
}

// A closed history refuses everything and, opened again as a new object, finds its data: the History
// contract's closeRefuses. Here the rest: the sequence is refused too, and the same object opens again.
void tst_RedisHistory::closedHistoryOpensAgain()
{
    auto h = openHistory(config());
    QVERIFY(h);
    QCOMPARE(append(*h, makeMessage(u"a"_s)), 1);
    h->close();
    QVERIFY(!h->lastId());
    QCOMPARE(h->threadConnectionCount(), 0);

    QVERIFY2(h->open(), qPrintable(h->errorString()));
    auto again = h->history(u"a"_s, 0, 0, 100);
    QVERIFY2(again, why(again).constData());
    QCOMPARE(idsOf(again->messages), (QList<qint64>{1}));
    QCOMPARE(append(*h, makeMessage(u"a"_s)), 2);
}

QTEST_GUILESS_MAIN(tst_RedisHistory)
#include "tst_redishistory.moc"
