// Idempotent publish (docs/protocol.md, "Idempotent publish"): a retry with the same key within
// --idempotency-window is answered with the first publish's id, marked duplicate, and delivers nothing; per
// publisher, across a kill -9 of the real binary and across two cluster nodes.
#include "auth.h"
#include "cluster.h"
#include "hub.h"
#include "publisher.h"
#include "rawclient.h"
#include "redisserver.h"
#include "server.h"
#include "store.h"
#include "testclient.h"
#include "testserver.h"

#include <QFile>
#include <QProcess>
#include <QScopeGuard>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QUuid>

#include <atomic>
#include <csignal>

using namespace Qt::StringLiterals;
using namespace HeraldTest;

namespace {

const QByteArray Secret = "tst_idempotency: a test key for HS256, 0123456789";

// A publish on `channel` with the key as the header (`header`) or the body's idempotency_key.
HttpResult keyedPublish(quint16 port, const QString &channel, const QString &text, const QByteArray &key,
                        bool header = true, const QByteArray &token = {})
{
    QJsonObject body{{"channel"_L1, channel}, {"type"_L1, "note"_L1}, {"message"_L1, text}};
    QList<QPair<QByteArray, QByteArray>> headers;
    if (header)
        headers.append({"Idempotency-Key", key});
    else
        body.insert("idempotency_key"_L1, QString::fromLatin1(key));
    if (!token.isEmpty())
        headers.append({"Authorization", "Bearer " + token});
    return http("POST", port, u"/api/publish"_s, QJsonDocument(body).toJson(QJsonDocument::Compact), headers);
}

// The "note" frames `sub` got before a marker published after them (deliveries are in id order on one
// connection, so no sleep is needed): their ids.
QList<qint64> notesBeforeMarker(WsClient &sub, quint16 port, const QString &channel,
                                const QByteArray &token = {})
{
    QList<QPair<QByteArray, QByteArray>> headers;
    if (!token.isEmpty())
        headers.append({"Authorization", "Bearer " + token});
    const HttpResult marker =
        http("POST", port, u"/api/publish"_s,
             QJsonDocument(
                 QJsonObject{{"channel"_L1, channel}, {"type"_L1, "marker"_L1}, {"message"_L1, "marker"_L1}})
                 .toJson(QJsonDocument::Compact),
             headers);
    if (marker.status != 202 || !sub.waitFor(u"marker"_s))
        return {-1};
    QList<qint64> ids;
    for (const QJsonObject &f : std::as_const(sub.frames())) {
        if (f.value("type"_L1).toString() == u"note"_s)
            ids.append(f.value("id"_L1).toInteger());
    }
    sub.frames().clear();
    return ids;
}

bool ready(WsClient &c)
{
    c.send({{"type"_L1, "ping"_L1}, {"ref"_L1, "ready"_L1}});
    return c.waitFor(u"pong"_s).has_value();
}

} // namespace

class tst_Idempotency : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void retryIsDuplicate_data();
    void retryIsDuplicate();
    void keysArePerPublisher();
    void windowPassingFreesKey();
    void badKeys_data();
    void badKeys();
    void badKeyInFrame();
    void concurrentSameKeyDeliversOnce();
    void inFlightIsConflictAndFailureFreesKey();
    void answerCommitsWithMessage_data();
    void answerCommitsWithMessage();
    void survivesKillNine_data();
    void survivesKillNine();
    void retryToAnotherClusterNode();
    void outcomeUnknownRetryIsDuplicate();
    void expiredClaimTakenMeanwhilePublishesNothing();

private:
    bool start(const ConfigTweak &tweak = {});

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Herald::Server> m_server;
    quint16 m_port = 0;
};

void tst_Idempotency::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void tst_Idempotency::cleanup()
{
    QVERIFY(stopTestServer(m_server));
    m_dir.reset();
}

bool tst_Idempotency::start(const ConfigTweak &tweak)
{
    m_server = startTestServer(m_dir->filePath(u"data"_s), tweak);
    m_port = m_server ? m_server->port() : 0;
    return m_server != nullptr;
}

void tst_Idempotency::retryIsDuplicate_data()
{
    QTest::addColumn<QString>("how");
    QTest::newRow("REST header") << u"header"_s;
    QTest::newRow("REST field") << u"field"_s;
    QTest::newRow("WebSocket frame") << u"frame"_s;
}

void tst_Idempotency::retryIsDuplicate()
{
    QFETCH(QString, how);
    QVERIFY(start());
    WsClient sub;
    QVERIFY(sub.open(m_port, u"/ws?channels=news"_s));
    QVERIFY(ready(sub));

    QList<QJsonObject> answers;
    if (how == u"frame"_s) {
        WsClient publisher;
        QVERIFY(publisher.open(m_port, u"/ws"_s));
        for (int i = 0; i < 2; ++i) {
            publisher.send({{"action"_L1, "publish"_L1},
                            {"channel"_L1, "news"_L1},
                            {"type"_L1, "note"_L1},
                            {"message"_L1, u"try %1"_s.arg(i)},
                            {"idempotency_key"_L1, "order-17"_L1}});
            const auto published = publisher.waitFor(u"published"_s);
            QVERIFY(published);
            answers.append(*published);
        }
    } else {
        for (int i = 0; i < 2; ++i) {
            const HttpResult r =
                keyedPublish(m_port, u"news"_s, u"try %1"_s.arg(i), "order-17", how == u"header"_s);
            QCOMPARE(r.status, 202);
            answers.append(r.json());
        }
    }
    const qint64 id = answers.at(0).value("id"_L1).toInteger();
    QVERIFY(id > 0);
    QVERIFY(!answers.at(0).contains("duplicate"_L1));
    QCOMPARE(answers.at(1).value("id"_L1).toInteger(), id);
    QCOMPARE(answers.at(1).value("duplicate"_L1), QJsonValue(true));
    QCOMPARE(answers.at(1).value("channel"_L1).toString(), u"news"_s);
    // Delivered once: the first try's text, under the first id.
    QCOMPARE(notesBeforeMarker(sub, m_port, u"news"_s), QList<qint64>{id});

    // Another key publishes.
    const HttpResult other = keyedPublish(m_port, u"news"_s, u"other"_s, "order-18");
    QCOMPARE(other.status, 202);
    QVERIFY(other.json().value("id"_L1).toInteger() > id);
    QVERIFY(!other.json().contains("duplicate"_L1));
}

void tst_Idempotency::keysArePerPublisher()
{
    const QString secretFile = m_dir->filePath(u"jwt.secret"_s);
    {
        QFile f(secretFile);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(Secret + '\n');
    }
    QVERIFY(start([&](Herald::ServerConfig &c) {
        c.authMode = Herald::ServerConfig::AuthMode::Token;
        c.jwtSecretFile = secretFile;
    }));
    const Herald::TokenVerifier tokens(Secret);
    const QByteArray alice = tokens.mint(u"alice"_s, Herald::Role::Publisher, std::chrono::hours(1), {});
    const QByteArray bob = tokens.mint(u"bob"_s, Herald::Role::Publisher, std::chrono::hours(1), {});
    WsClient sub;
    QVERIFY(sub.open(m_port, u"/ws?channels=news&token="_s + QString::fromLatin1(alice)));
    QVERIFY(ready(sub));

    const HttpResult a = keyedPublish(m_port, u"news"_s, u"alice's"_s, "same-key", true, alice);
    const HttpResult b = keyedPublish(m_port, u"news"_s, u"bob's"_s, "same-key", true, bob);
    const HttpResult again = keyedPublish(m_port, u"news"_s, u"bob's again"_s, "same-key", true, bob);
    QCOMPARE(a.status, 202);
    QCOMPARE(b.status, 202);
    QCOMPARE(again.status, 202);
    const qint64 aliceId = a.json().value("id"_L1).toInteger();
    const qint64 bobId = b.json().value("id"_L1).toInteger();
    QVERIFY(bobId > aliceId);
    QVERIFY(!b.json().contains("duplicate"_L1));
    QCOMPARE(again.json().value("id"_L1).toInteger(), bobId);
    QCOMPARE(again.json().value("duplicate"_L1), QJsonValue(true));
    QCOMPARE(notesBeforeMarker(sub, m_port, u"news"_s, alice), (QList<qint64>{aliceId, bobId}));
}

void tst_Idempotency::windowPassingFreesKey()
{
    QVERIFY(start([](Herald::ServerConfig &c) { c.idempotencyWindow = std::chrono::seconds(1); }));
    const HttpResult first = keyedPublish(m_port, u"news"_s, u"first"_s, "k");
    QCOMPARE(first.status, 202);
    const HttpResult within = keyedPublish(m_port, u"news"_s, u"within"_s, "k");
    QCOMPARE(within.json().value("duplicate"_L1), QJsonValue(true));
    // Past the window (not a measurement: anything past one second will do).
    QTest::qWait(1200);
    const HttpResult after = keyedPublish(m_port, u"news"_s, u"after"_s, "k");
    QCOMPARE(after.status, 202);
    QVERIFY(!after.json().contains("duplicate"_L1));
    QVERIFY(after.json().value("id"_L1).toInteger() > first.json().value("id"_L1).toInteger());
    // The prune deletes the row of the first (the second's is within its window again).
    const auto pruned = m_server->store()->prune();
    QVERIFY(pruned.hasValue());
    QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, u"tst_idempotency_rows"_s);
    db.setDatabaseName(m_server->store()->databasePath());
    QVERIFY(db.open());
    {
        QSqlQuery q(db);
        QVERIFY(q.exec(u"SELECT id FROM idempotency"_s));
        QVERIFY(q.next());
        QCOMPARE(q.value(0).toLongLong(), after.json().value("id"_L1).toInteger());
        QVERIFY(!q.next());
    }
    db.close();
    db = QSqlDatabase();
    QSqlDatabase::removeDatabase(u"tst_idempotency_rows"_s);
}

void tst_Idempotency::badKeys_data()
{
    QTest::addColumn<QByteArray>("headers");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("detail");
    const QByteArray body = R"({"channel":"news","message":"m"})";
    QTest::newRow("header too long") << QByteArray("Idempotency-Key: " + QByteArray(129, 'k') + "\r\n")
                                     << body << u"Idempotency-Key"_s;
    QTest::newRow("header empty") << QByteArray("Idempotency-Key: \r\n") << body << u"Idempotency-Key"_s;
    QTest::newRow("header not ASCII")
        << QByteArray("Idempotency-Key: caf\xc3\xa9\r\n") << body << u"Idempotency-Key"_s;
    QTest::newRow("two headers") << QByteArray("Idempotency-Key: a\r\nIdempotency-Key: b\r\n") << body
                                 << u"Idempotency-Key"_s;
    QTest::newRow("field a number") << QByteArray()
                                    << QByteArray(R"({"channel":"news","message":"m","idempotency_key":7})")
                                    << u"idempotency_key"_s;
    QTest::newRow("field too long") << QByteArray()
                                    << QByteArray(R"({"channel":"news","message":"m","idempotency_key":")" +
                                                  QByteArray(129, 'k') + "\"}")
                                    << u"idempotency_key"_s;
    QTest::newRow("field with a newline")
        << QByteArray() << QByteArray(R"({"channel":"news","message":"m","idempotency_key":"a\nb"})")
        << u"idempotency_key"_s;
}

void tst_Idempotency::badKeys()
{
    QFETCH(QByteArray, headers);
    QFETCH(QByteArray, body);
    QFETCH(QString, detail);
    QVERIFY(start());
    const qint64 before = m_server->hub()->lastId();
    const QByteArray reply = rawExchange(m_port, httpRequest("POST", "/api/publish", headers, body));
    QVERIFY2(reply.startsWith("HTTP/1.1 422"), reply.constData());
    const QJsonObject error = parseObject(reply.mid(reply.indexOf("\r\n\r\n") + 4));
    QCOMPARE(error.value("error"_L1).toString(), u"bad_request"_s);
    QVERIFY2(error.value("detail"_L1).toString().contains(detail), reply.constData());
    QCOMPARE(m_server->hub()->lastId(), before);
}

void tst_Idempotency::badKeyInFrame()
{
    QVERIFY(start());
    WsClient publisher;
    QVERIFY(publisher.open(m_port, u"/ws"_s));
    publisher.send({{"action"_L1, "publish"_L1},
                    {"channel"_L1, "news"_L1},
                    {"ref"_L1, "r1"_L1},
                    {"idempotency_key"_L1, QString(129, u'k')}});
    const auto error = publisher.waitFor(u"error"_s);
    QVERIFY(error);
    QCOMPARE(error->value("code"_L1).toString(), u"bad_request"_s);
    QCOMPARE(error->value("ref"_L1).toString(), u"r1"_s);
    QVERIFY(publisher.isConnected());
}

void tst_Idempotency::concurrentSameKeyDeliversOnce()
{
    QVERIFY(start());
    WsClient sub;
    QVERIFY(sub.open(m_port, u"/ws?channels=news"_s));
    QVERIFY(ready(sub));
    QList<Flight> flights;
    for (int i = 0; i < 8; ++i) {
        const QJsonObject body{{"channel"_L1, "news"_L1},
                               {"type"_L1, "note"_L1},
                               {"message"_L1, u"n%1"_s.arg(i)},
                               {"idempotency_key"_L1, "once"_L1}};
        flights.append(Flight{"POST", u"/api/publish"_s, QJsonDocument(body).toJson(QJsonDocument::Compact)});
    }
    // The database is locked while they arrive and unlocked a moment later (well within the busy timeout), so
    // that the first holds its key while the others come: without the claim they would all publish.
    QSqlDatabase locker = QSqlDatabase::addDatabase(u"QSQLITE"_s, u"tst_idempotency_pause"_s);
    locker.setDatabaseName(m_server->store()->databasePath());
    QVERIFY(locker.open());
    QVERIFY(QSqlQuery(locker).exec(u"BEGIN EXCLUSIVE"_s));
    QTimer::singleShot(500, this, [&locker] { QSqlQuery(locker).exec(u"ROLLBACK"_s); });
    const QList<HttpResult> answers = sendConcurrently(flights, m_port);
    locker.close();
    locker = QSqlDatabase();
    QSqlDatabase::removeDatabase(u"tst_idempotency_pause"_s);
    int published = 0;
    QSet<qint64> ids;
    for (const HttpResult &r : answers) {
        // A duplicate, the one publish, or a retry told to come back (409 while the first is in flight).
        QVERIFY2(r.status == 202 || r.status == 409, r.body.constData());
        if (r.status == 202) {
            ids.insert(r.json().value("id"_L1).toInteger());
            if (!r.json().contains("duplicate"_L1))
                ++published;
        } else {
            QCOMPARE(r.json().value("error"_L1).toString(), u"conflict"_s);
        }
    }
    QCOMPARE(published, 1);
    QCOMPARE(ids.size(), 1);
    QCOMPARE(notesBeforeMarker(sub, m_port, u"news"_s), QList<qint64>(ids.begin(), ids.end()));
}

void tst_Idempotency::inFlightIsConflictAndFailureFreesKey()
{
    // The first publish is held in the store (another process holds the write lock) until it is refused:
    // a retry meanwhile is told 409; once refused, the key is free and a retry publishes.
    QVERIFY(start([](Herald::ServerConfig &c) { c.storeBusyTimeout = std::chrono::milliseconds(3000); }));
    QSqlDatabase locker = QSqlDatabase::addDatabase(u"QSQLITE"_s, u"tst_idempotency_locker"_s);
    locker.setDatabaseName(m_server->store()->databasePath());
    QVERIFY(locker.open());
    QVERIFY(QSqlQuery(locker).exec(u"BEGIN EXCLUSIVE"_s));
    // Two connections, accepted one after the other, so on the server's two I/O threads.
    const QByteArray body = R"({"channel":"news","type":"note","message":"m","idempotency_key":"held"})";
    const QList<HttpResult> pair =
        sendConcurrently({{"POST", u"/api/publish"_s, body}, {"POST", u"/api/publish"_s, body}}, m_port);
    QSqlQuery(locker).exec(u"ROLLBACK"_s);
    locker.close();
    locker = QSqlDatabase();
    QSqlDatabase::removeDatabase(u"tst_idempotency_locker"_s);
    QList<int> statuses{pair.at(0).status, pair.at(1).status};
    std::sort(statuses.begin(), statuses.end());
    QCOMPARE(statuses, (QList<int>{409, 503}));

    WsClient sub;
    QVERIFY(sub.open(m_port, u"/ws?channels=news"_s));
    QVERIFY(ready(sub));
    const HttpResult retry = keyedPublish(m_port, u"news"_s, u"m"_s, "held", false);
    QCOMPARE(retry.status, 202);
    QVERIFY(!retry.json().contains("duplicate"_L1));
    QCOMPARE(notesBeforeMarker(sub, m_port, u"news"_s),
             QList<qint64>{retry.json().value("id"_L1).toInteger()});
}

void tst_Idempotency::answerCommitsWithMessage_data()
{
    QTest::addColumn<bool>("clustered");
    QTest::addColumn<QString>("channel");
    QTest::newRow("SQLite, stored channel") << false << u"news"_s;
    QTest::newRow("SQLite, unstored channel") << false << u"live"_s;
    QTest::newRow("Redis, stored channel") << true << u"news"_s;
    QTest::newRow("Redis, unstored channel") << true << u"live"_s;
    // "scheduled": a publish with "delay", whose answer (the handle) commits with the schedule's entry.
    QTest::newRow("SQLite, scheduled") << false << u"scheduled"_s;
    QTest::newRow("Redis, scheduled") << true << u"scheduled"_s;
}

// The crash window of issue 20: a keyed publish that committed, and the process dying right after
// Hub::publish answered, before anything else runs. The hook stops there and reads the key through a
// connection of its own, as a restarted server would: it must already hold the message's id (it was written
// in the same commit), not be missing (SQLite) or still pending (Redis), which would let a retry publish a
// second time.
void tst_Idempotency::answerCommitsWithMessage()
{
    QFETCH(bool, clustered);
    QFETCH(QString, channel);
    RedisServer redis;
    const QString prefix = u"t%1:"_s.arg(QUuid::createUuid().toString(QUuid::Id128).left(8));
    if (clustered)
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    QVERIFY(start([&](Herald::ServerConfig &c) {
        c.ephemeralChannels.append(u"live"_s);
        if (clustered) {
            c.redisUrl = redis.url();
            c.redisPrefix = prefix;
        }
    }));
    const QString dbPath = m_server->store() ? m_server->store()->databasePath() : QString();
    std::atomic<int> calls{0};
    // What the key held when Hub::publish had answered: "id N", "none" or Redis's value. Written on the
    // publishing thread before `calls` counts it, read here after.
    QString seen;
    m_server->hub()->publisher().setKeyedHook(
        [&](Herald::Publisher::KeyedStep step, const Herald::PublishAnswer *) {
            if (step != Herald::Publisher::KeyedStep::Published)
                return;
            const auto counted = qScopeGuard([&] { ++calls; });
            if (clustered) {
                const auto held = redis.command({"GET", prefix.toUtf8() + "idem::window-1"});
                seen = held ? QString::fromUtf8(*held) : u"no answer"_s;
                return;
            }
            const QString name = u"tst_idempotency_reader"_s;
            {
                QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, name);
                db.setDatabaseName(dbPath);
                if (!db.open()) {
                    seen = u"cannot open"_s;
                } else {
                    QSqlQuery q(db);
                    q.exec(u"SELECT id, scheduled FROM idempotency WHERE scope = '' AND key = 'window-1'"_s);
                    if (!q.next())
                        seen = u"none"_s;
                    else if (q.value(1).isNull())
                        seen = u"id %1"_s.arg(q.value(0).toLongLong());
                    else
                        seen = u"scheduled %1"_s.arg(q.value(1).toString());
                }
            }
            QSqlDatabase::removeDatabase(name);
        });
    const bool scheduled = channel == u"scheduled"_s;
    const QByteArray later =
        R"({"channel":"news","message":"later","delay":"1h","idempotency_key":"window-1"})";
    const HttpResult first = scheduled ? http("POST", m_port, u"/api/publish"_s, later)
                                       : keyedPublish(m_port, channel, u"once"_s, "window-1");
    m_server->hub()->publisher().setKeyedHook(nullptr);
    QCOMPARE(first.status, 202);
    const qint64 id = first.json().value("id"_L1).toInteger();
    QCOMPARE(calls.load(), 1);
    if (scheduled) {
        const QString handle = first.json().value("scheduled"_L1).toString();
        QVERIFY(!handle.isEmpty());
        if (clustered)
            QVERIFY2(seen.startsWith(u"{"_s) && seen.contains(u"\"scheduled\":\"%1\""_s.arg(handle)),
                     qPrintable(seen));
        else
            QCOMPARE(seen, u"scheduled %1"_s.arg(handle));
        // And a retry reads it back as the first answer.
        const HttpResult retry = http("POST", m_port, u"/api/publish"_s, later);
        QCOMPARE(retry.status, 202);
        QCOMPARE(retry.json().value("scheduled"_L1).toString(), handle);
        QCOMPARE(retry.json().value("at"_L1), first.json().value("at"_L1));
        QCOMPARE(retry.json().value("duplicate"_L1), QJsonValue(true));
        return;
    }
    if (clustered)
        QCOMPARE(seen, u"{\"id\":%1}"_s.arg(id));
    else
        QCOMPARE(seen, u"id %1"_s.arg(id));
}

void tst_Idempotency::survivesKillNine_data()
{
    QTest::addColumn<bool>("clustered");
    QTest::newRow("SQLite") << false;
    QTest::newRow("Redis") << true;
}

void tst_Idempotency::survivesKillNine()
{
    QFETCH(bool, clustered);
    RedisServer redis;
    const quint16 port = freePort();
    QStringList args = {u"--port"_s,      QString::number(port), u"--data-dir"_s,           m_dir->path(),
                        u"--log-level"_s, u"warning"_s,          u"--idempotency-window"_s, u"10m"_s};
    if (clustered) {
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        args << u"--redis"_s << redis.url();
    }
    QProcess server;
    server.start(QStringLiteral(HERALD_SERVER_BINARY), args);
    QVERIFY(server.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(http("GET", port, u"/healthz"_s).status == 200, 20000);
    const HttpResult first = keyedPublish(port, u"news"_s, u"before the crash"_s, "crash-1");
    QCOMPARE(first.status, 202);
    const qint64 id = first.json().value("id"_L1).toInteger();

    ::kill(pid_t(server.processId()), SIGKILL);
    QTRY_VERIFY_WITH_TIMEOUT(server.state() == QProcess::NotRunning, 5000);
    QCOMPARE(server.exitStatus(), QProcess::CrashExit);

    QProcess restarted;
    restarted.start(QStringLiteral(HERALD_SERVER_BINARY), args);
    QVERIFY(restarted.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(http("GET", port, u"/healthz"_s).status == 200, 20000);
    WsClient sub;
    QVERIFY(sub.open(port, u"/ws?channels=news"_s));
    QVERIFY(ready(sub));
    const HttpResult retry = keyedPublish(port, u"news"_s, u"after the crash"_s, "crash-1");
    QCOMPARE(retry.status, 202);
    QCOMPARE(retry.json().value("id"_L1).toInteger(), id);
    QCOMPARE(retry.json().value("duplicate"_L1), QJsonValue(true));
    QCOMPARE(notesBeforeMarker(sub, port, u"news"_s), QList<qint64>());

    ::kill(pid_t(restarted.processId()), SIGTERM);
    QTRY_VERIFY_WITH_TIMEOUT(restarted.state() == QProcess::NotRunning, 5000);
    QCOMPARE(restarted.exitCode(), 0);
}

void tst_Idempotency::retryToAnotherClusterNode()
{
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    const QString prefix = u"t%1:"_s.arg(QUuid::createUuid().toString(QUuid::Id128).left(8));
    std::vector<std::unique_ptr<QTemporaryDir>> dirs;
    std::vector<std::unique_ptr<Herald::Server>> nodes;
    for (const QString &name : {u"a"_s, u"b"_s}) {
        dirs.push_back(std::make_unique<QTemporaryDir>());
        nodes.push_back(startTestServer(dirs.back()->path(), [&](Herald::ServerConfig &c) {
            c.redisUrl = redis.url();
            c.redisPrefix = prefix;
            c.nodeId = name;
        }));
        QVERIFY(nodes.back());
        QTRY_VERIFY_WITH_TIMEOUT(nodes.back()->cluster()->isBusUp(), 5000);
    }
    const quint16 a = nodes.at(0)->port();
    const quint16 b = nodes.at(1)->port();
    WsClient sub;
    QVERIFY(sub.open(b, u"/ws?channels=news"_s));
    QVERIFY(ready(sub));

    const HttpResult first = keyedPublish(a, u"news"_s, u"to a"_s, "cluster-1");
    QCOMPARE(first.status, 202);
    const qint64 id = first.json().value("id"_L1).toInteger();
    const HttpResult retry = keyedPublish(b, u"news"_s, u"to b"_s, "cluster-1");
    QCOMPARE(retry.status, 202);
    QCOMPARE(retry.json().value("id"_L1).toInteger(), id);
    QCOMPARE(retry.json().value("duplicate"_L1), QJsonValue(true));
    QCOMPARE(notesBeforeMarker(sub, b, u"news"_s), QList<qint64>{id});
    // Kept in Redis, under the cluster's prefix, for the window.
    const auto ttl = redis.command({"PTTL", prefix.toUtf8() + "idem::cluster-1"});
    QVERIFY(ttl && ttl->toLongLong() > 0 && ttl->toLongLong() <= 600000);

    for (auto &node : nodes)
        QVERIFY(stopTestServer(node));
}

// Item 2 of the idempotency fix: Redis hangs after the key is claimed, past both tries of the append, so the
// publisher gets 504 outcome_unknown. The append runs once Redis is back. A retry with the same key must then
// get that message's id, not publish a second one (before, the 504 freed the key).
void tst_Idempotency::outcomeUnknownRetryIsDuplicate()
{
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    QVERIFY(start([&](Herald::ServerConfig &c) {
        c.redisUrl = redis.url();
        c.redisPrefix = u"slow:"_s;
    }));
    QTRY_VERIFY_WITH_TIMEOUT(m_server->cluster()->isBusUp(), 5000);
    WsClient sub;
    QVERIFY(sub.open(m_port, u"/ws?channels=news"_s));
    QVERIFY(ready(sub));
    // SIGSTOP from the publishing thread (as RedisServer::pause() does), SIGCONT from here, also on failure.
    const pid_t redisPid = pid_t(redis.processId());
    const auto resume = qScopeGuard([redisPid] { ::kill(redisPid, SIGCONT); });
    std::atomic<bool> paused{false};
    m_server->hub()->publisher().setKeyedHook(
        [&](Herald::Publisher::KeyedStep step, const Herald::PublishAnswer *) {
            if (step == Herald::Publisher::KeyedStep::Claimed && !paused.exchange(true))
                ::kill(redisPid, SIGSTOP);
        });
    const HttpResult first = keyedPublish(m_port, u"news"_s, u"maybe"_s, "slow-1");
    m_server->hub()->publisher().setKeyedHook(nullptr);
    ::kill(redisPid, SIGCONT);
    QVERIFY(paused.load());
    QCOMPARE(first.status, 504);
    QCOMPARE(first.json().value("error"_L1).toString(), u"outcome_unknown"_s);

    const auto note = sub.waitFor(u"note"_s, 15000);
    QVERIFY(note);
    const qint64 id = note->value("id"_L1).toInteger();
    sub.frames().clear();
    // The pending claim was replaced by the answer in the append itself.
    QTRY_COMPARE_WITH_TIMEOUT(redis.command({"GET", "slow:idem::slow-1"}).value_or(QByteArray()),
                              u"{\"id\":%1}"_s.arg(id).toUtf8(), 5000);
    const HttpResult retry = keyedPublish(m_port, u"news"_s, u"maybe"_s, "slow-1");
    QCOMPARE(retry.status, 202);
    QCOMPARE(retry.json().value("id"_L1).toInteger(), id);
    QCOMPARE(retry.json().value("duplicate"_L1), QJsonValue(true));
    QCOMPARE(notesBeforeMarker(sub, m_port, u"news"_s), QList<qint64>());
}

// A node whose claim expired before its append ran (it stalled, or Redis did) finds the key another
// publish's: simulated by another node's pending mark written over the claim. Its append publishes nothing
// and answers 409; the key stays the other's.
void tst_Idempotency::expiredClaimTakenMeanwhilePublishesNothing()
{
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.errorString()));
    QVERIFY(start([&](Herald::ServerConfig &c) {
        c.redisUrl = redis.url();
        c.redisPrefix = u"taken:"_s;
    }));
    QTRY_VERIFY_WITH_TIMEOUT(m_server->cluster()->isBusUp(), 5000);
    WsClient sub;
    QVERIFY(sub.open(m_port, u"/ws?channels=news"_s));
    QVERIFY(ready(sub));
    m_server->hub()->publisher().setKeyedHook(
        [&](Herald::Publisher::KeyedStep step, const Herald::PublishAnswer *) {
            if (step == Herald::Publisher::KeyedStep::Claimed)
                redis.command({"SET", "taken:idem::taken-1", "pending another-node", "PX", "30000"});
        });
    const HttpResult first = keyedPublish(m_port, u"news"_s, u"late"_s, "taken-1");
    m_server->hub()->publisher().setKeyedHook(nullptr);
    QCOMPARE(first.status, 409);
    QCOMPARE(first.json().value("error"_L1).toString(), u"conflict"_s);
    QCOMPARE(notesBeforeMarker(sub, m_port, u"news"_s), QList<qint64>());
    QCOMPARE(redis.command({"GET", "taken:idem::taken-1"}).value_or(QByteArray()),
             QByteArray("pending another-node"));
}

QTEST_MAIN(tst_Idempotency)
#include "tst_idempotency.moc"
