// Expiry, updates (replaces) and withdrawals (docs/protocol.md, "Expiry", "Updates and withdrawals") end to
// end: the herald-server binary on a real port, REST and WebSocket clients, resumes, and a kill -9.
#include "auth.h"
#include "processrun.h"
#include "redisserver.h"
#include "testclient.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <csignal>
#include <memory>

using namespace Qt::StringLiterals;
using namespace HeraldTest;

namespace {

// A herald-server process on a free port and a data dir that outlives it (a restart finds its history).
class ServerProcess
{
public:
    // `extraArgs`: a cluster node's --redis and --redis-prefix, or none for SQLite.
    ServerProcess(const QString &dataDir, const QStringList &extraArgs)
        : m_dataDir(dataDir)
        , m_extraArgs(extraArgs)
        , m_port(freePort())
    {}
    ~ServerProcess() { stop(); }

    bool start()
    {
        m_process = std::make_unique<QProcess>();
        m_process->setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_process->start(QStringLiteral(HERALD_SERVER_BINARY),
                         QStringList{u"--port"_s, QString::number(m_port), u"--data-dir"_s, m_dataDir,
                                     u"--log-level"_s, u"warning"_s} +
                             m_extraArgs);
        if (!m_process->waitForStarted())
            return false;
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 20000) {
            if (http("GET", m_port, u"/healthz"_s).status == 200)
                return true;
            if (m_process->state() == QProcess::NotRunning)
                return false;
            QTest::qWait(50);
        }
        return false;
    }
    // kill -9: nothing is flushed or closed.
    bool crash()
    {
        ::kill(pid_t(m_process->processId()), SIGKILL);
        return m_process->waitForFinished(5000) && m_process->exitStatus() == QProcess::CrashExit;
    }
    void stop()
    {
        if (!m_process || m_process->state() == QProcess::NotRunning)
            return;
        ::kill(pid_t(m_process->processId()), SIGTERM);
        if (!m_process->waitForFinished(5000)) {
            m_process->kill();
            m_process->waitForFinished();
        }
    }
    quint16 port() const { return m_port; }

private:
    QString m_dataDir;
    QStringList m_extraArgs;
    quint16 m_port;
    std::unique_ptr<QProcess> m_process;
};

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

// POST /api/publish; the id, or 0 with the answer logged.
qint64 publish(quint16 port, const QJsonObject &body)
{
    const HttpResult r = http("POST", port, u"/api/publish"_s, json(body));
    if (r.status != 202) {
        qWarning().noquote() << "publish:" << r.status << r.body;
        return 0;
    }
    return r.json().value("id"_L1).toInteger();
}

QList<qint64> notificationIds(quint16 port, const QString &query = {})
{
    const HttpResult r = http("GET", port, u"/api/notifications?user_id=7&limit=100"_s + query);
    return idsIn(r.json().value("notifications"_L1).toArray());
}

// The messages a resume (or a live connection) receives, in order, until `count` have come or none for a
// while.
QList<QJsonObject> receive(WsClient &c, qsizetype count, const QStringList &types = {u"message"_s})
{
    QList<QJsonObject> got;
    QElapsedTimer t;
    t.start();
    while (got.size() < count && t.elapsed() < 5000) {
        bool any = false;
        for (qsizetype i = 0; i < c.frames().size(); ++i) {
            if (types.contains(c.frames().at(i).value("type"_L1).toString())) {
                got.append(c.frames().takeAt(i));
                any = true;
                break;
            }
        }
        if (!any)
            QTest::qWait(10);
    }
    return got;
}

QList<qint64> idsOf(const QList<QJsonObject> &frames)
{
    QList<qint64> ids;
    for (const QJsonObject &o : frames)
        ids.append(o.value("id"_L1).toInteger());
    return ids;
}

} // namespace

class tst_Notifications : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    // Every test runs on both histories: SQLite (one server) and Redis (a cluster node, --redis).
    void updateChainLive_data() { backends(); }
    void updateChainLive();
    void concurrentUpdatesStayOneChain_data() { backends(); }
    void concurrentUpdatesStayOneChain();
    void updateRefusals_data();
    void updateRefusals();
    void resumeSeesLatestOnly_data() { backends(); }
    void resumeSeesLatestOnly();
    void chainSurvivesResume_data() { backends(); }
    void chainSurvivesResume();
    void withdrawAcrossResume_data();
    void withdrawAcrossResume();
    void withdrawNeedsWritePermission_data();
    void withdrawNeedsWritePermission();
    void expiryHidesFromHistoryAndResume_data() { backends(); }
    void expiryHidesFromHistoryAndResume();
    void killNineKeepsExpiryAndSupersession_data() { backends(); }
    void killNineKeepsExpiryAndSupersession();

private:
    static void backends()
    {
        QTest::addColumn<bool>("redis");
        QTest::newRow("sqlite") << false;
        QTest::newRow("redis") << true;
    }
    // The current row's server arguments: a fresh key space in the suite's Redis for each call.
    QStringList backendArgs()
    {
        QFETCH(bool, redis);
        if (!redis)
            return {};
        return {u"--redis"_s, m_redis.url(), u"--redis-prefix"_s, u"notify%1:"_s.arg(++m_prefixes)};
    }

    RedisServer m_redis;
    int m_prefixes = 0;
};

void tst_Notifications::initTestCase()
{
    QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
}

void tst_Notifications::updateChainLive()
{
    // A build's progress: 40%, 80%, done. A live subscriber gets each with `replaces` naming the one it
    // shows; `replaces` may name any id of the chain. The queue then lists the latest alone.
    QTemporaryDir dir;
    ServerProcess server(dir.path(), backendArgs());
    QVERIFY(server.start());
    WsClient sub;
    QVERIFY(sub.open(server.port(), u"/ws?user_id=7"_s));
    QVERIFY(sub.waitFor(u"connected"_s));

    const qint64 a = publish(server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "build 7: 40%"_L1}});
    QVERIFY(a > 0);
    const qint64 b = publish(
        server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "build 7: 80%"_L1}, {"replaces"_L1, a}});
    QVERIFY(b > a);
    // The first id again: resolved to the chain's latest (b).
    const qint64 c = publish(
        server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "build 7: done"_L1}, {"replaces"_L1, a}});
    QVERIFY(c > b);

    const QList<QJsonObject> live = receive(sub, 3);
    QCOMPARE(idsOf(live), (QList<qint64>{a, b, c}));
    QVERIFY(!live.at(0).contains("replaces"_L1));
    QCOMPARE(live.at(1).value("replaces"_L1).toInteger(), a);
    QCOMPARE(live.at(2).value("replaces"_L1).toInteger(), b);
    QCOMPARE(live.at(2).value("message"_L1).toString(), u"build 7: done"_s);

    QCOMPARE(notificationIds(server.port()), QList<qint64>{c});
    const HttpResult list = http("GET", server.port(), u"/api/notifications?user_id=7"_s);
    QCOMPARE(list.json().value("unread"_L1).toInteger(), 1);
    const HttpResult history = http("GET", server.port(), u"/api/channels/user:7/history"_s);
    QCOMPARE(idsIn(history.json().value("messages"_L1).toArray()), QList<qint64>{c});

    // Over a WebSocket publish frame too.
    sub.send({{"action"_L1, "publish"_L1},
              {"channel"_L1, "user:7"_L1},
              {"message"_L1, "build 7: deployed"_L1},
              {"replaces"_L1, b}});
    const auto ack = sub.waitFor(u"published"_s);
    QVERIFY(ack);
    const qint64 d = ack->value("id"_L1).toInteger();
    const QList<QJsonObject> more = receive(sub, 1);
    QCOMPARE(idsOf(more), QList<qint64>{d});
    QCOMPARE(more.first().value("replaces"_L1).toInteger(), c);
    QCOMPARE(notificationIds(server.port()), QList<qint64>{d});
}

void tst_Notifications::concurrentUpdatesStayOneChain()
{
    // Updates of one chain sent at once, each naming its first id: every one is published, and they form one
    // line (each replaces the one before it), so exactly one message of the chain is left listed.
    QTemporaryDir dir;
    ServerProcess server(dir.path(), backendArgs());
    QVERIFY(server.start());
    WsClient sub;
    QVERIFY(sub.open(server.port(), u"/ws?user_id=7"_s));
    QVERIFY(sub.waitFor(u"connected"_s));
    const qint64 a = publish(server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "0%"_L1}});
    QVERIFY(a > 0);
    constexpr int Updates = 200;
    QList<Flight> flights;
    for (int i = 1; i <= Updates; ++i)
        flights.append(
            {"POST", u"/api/publish"_s,
             json({{"channel"_L1, "user:7"_L1}, {"message"_L1, u"%1%"_s.arg(i)}, {"replaces"_L1, a}})});
    const QList<HttpResult> answers = sendConcurrently(flights, server.port());
    QList<qint64> ids;
    for (const HttpResult &r : answers) {
        QVERIFY2(r.status == 202, r.body.constData());
        ids.append(r.json().value("id"_L1).toInteger());
    }
    std::sort(ids.begin(), ids.end());
    const QList<QJsonObject> live = receive(sub, Updates + 1);
    QCOMPARE(idsOf(live), QList<qint64>{a} + ids);
    for (qsizetype i = 1; i < live.size(); ++i)
        QCOMPARE(live.at(i).value("replaces"_L1).toInteger(), live.at(i - 1).value("id"_L1).toInteger());
    QCOMPARE(notificationIds(server.port()), QList<qint64>{ids.last()});
}

void tst_Notifications::updateRefusals_data()
{
    QTest::addColumn<QString>("target"); // "unknown", "other channel", "withdrawn"
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("detail");
    QTest::addColumn<bool>("redis");
    for (bool redis : {false, true}) {
        const char *backend = redis ? "redis" : "sqlite";
        QTest::addRow("%s: unknown id", backend) << u"unknown"_s << 404 << QByteArray("not_found") << redis;
        QTest::addRow("%s: another channel", backend)
            << u"other channel"_s << 422 << QByteArray("'replaces'") << redis;
        QTest::addRow("%s: withdrawn", backend) << u"withdrawn"_s << 404 << QByteArray("not_found") << redis;
        QTest::addRow("%s: a withdrawn event's type", backend)
            << u"type"_s << 422 << QByteArray("'type'") << redis;
    }
}

void tst_Notifications::updateRefusals()
{
    QFETCH(QString, target);
    QFETCH(int, status);
    QFETCH(QByteArray, detail);
    QTemporaryDir dir;
    ServerProcess server(dir.path(), backendArgs());
    QVERIFY(server.start());
    const qint64 news = publish(server.port(), {{"channel"_L1, "news"_L1}, {"message"_L1, "on news"_L1}});
    QVERIFY(news > 0);
    QJsonObject body{{"channel"_L1, "user:7"_L1}, {"message"_L1, "update"_L1}};
    if (target == u"unknown"_s) {
        body.insert("replaces"_L1, news + 1000);
    } else if (target == u"other channel"_s) {
        body.insert("replaces"_L1, news);
    } else if (target == u"withdrawn"_s) {
        const qint64 mine = publish(server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "mine"_L1}});
        QCOMPARE(http("DELETE", server.port(), u"/api/messages/%1"_s.arg(mine)).status, 200);
        body.insert("replaces"_L1, mine);
    } else {
        body.insert("type"_L1, "withdrawn"_L1);
    }
    const HttpResult r = http("POST", server.port(), u"/api/publish"_s, json(body));
    QCOMPARE(r.status, status);
    QVERIFY2(r.body.contains(detail), r.body.constData());
}

void tst_Notifications::resumeSeesLatestOnly()
{
    // A client that was away for the whole chain resumes and gets its latest state only, over WebSocket, SSE
    // and ?since=.
    QTemporaryDir dir;
    ServerProcess server(dir.path(), backendArgs());
    QVERIFY(server.start());
    const qint64 seen = publish(server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "seen"_L1}});
    const qint64 a = publish(server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "40%"_L1}});
    const qint64 b =
        publish(server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "80%"_L1}, {"replaces"_L1, a}});
    const qint64 c =
        publish(server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "done"_L1}, {"replaces"_L1, b}});
    QVERIFY(seen > 0 && a > seen && b > a && c > b);

    WsClient back;
    QVERIFY(back.open(server.port(), u"/ws?user_id=7&since=%1"_s.arg(seen)));
    const QJsonObject notice{{"count"_L1, 1}, {"recovered"_L1, true}};
    QCOMPARE(replayNotice(back, notice), notice);
    const QList<QJsonObject> replayed = receive(back, 1);
    QCOMPARE(idsOf(replayed), QList<qint64>{c});
    QCOMPARE(replayed.first().value("replaces"_L1).toInteger(), b);
    QVERIFY(back.noFrame(u"message"_s, 200));

    QCOMPARE(notificationIds(server.port(), u"&since=%1"_s.arg(seen)), QList<qint64>{c});

    const QByteArray sse = rawExchange(server.port(),
                                       "GET /events?user_id=7 HTTP/1.1\r\nHost: localhost\r\nAccept: "
                                       "text/event-stream\r\nLast-Event-ID: " +
                                           QByteArray::number(seen) + "\r\n\r\n",
                                       1500);
    QVERIFY2(sse.contains(QByteArray("id: " + QByteArray::number(c) + "\n")), sse.constData());
    QVERIFY2(!sse.contains(QByteArray("id: " + QByteArray::number(a) + "\n")), sse.constData());
    QVERIFY2(!sse.contains(QByteArray("id: " + QByteArray::number(b) + "\n")), sse.constData());
}

void tst_Notifications::chainSurvivesResume()
{
    // A client saw A and went away while A became B, then C. C's `replaces` (B) is an id it never held; its
    // `chain` names A, the chain's first message, on every update and on the withdrawal, live and on resume.
    // A `chain` sent by a publisher is the server's field and ignored.
    QTemporaryDir dir;
    ServerProcess server(dir.path(), backendArgs());
    QVERIFY(server.start());
    WsClient live;
    QVERIFY(live.open(server.port(), u"/ws?user_id=7"_s));
    QVERIFY(live.waitFor(u"connected"_s));
    const qint64 a = publish(server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "40%"_L1}});
    QVERIFY(a > 0);
    const qint64 b = publish(
        server.port(),
        {{"channel"_L1, "user:7"_L1}, {"message"_L1, "80%"_L1}, {"replaces"_L1, a}, {"chain"_L1, a + 1000}});
    QVERIFY(b > a);
    const qint64 c =
        publish(server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "done"_L1}, {"replaces"_L1, b}});
    QVERIFY(c > b);
    const qint64 other =
        publish(server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "other"_L1}, {"chain"_L1, a}});
    QVERIFY(other > c);

    const QList<QJsonObject> seen = receive(live, 4);
    QCOMPARE(idsOf(seen), (QList<qint64>{a, b, c, other}));
    QVERIFY(!seen.at(0).contains("chain"_L1));
    QCOMPARE(seen.at(1).value("chain"_L1).toInteger(), a);
    QCOMPARE(seen.at(2).value("chain"_L1).toInteger(), a);
    QCOMPARE(seen.at(2).value("replaces"_L1).toInteger(), b);
    QVERIFY(!seen.at(3).contains("chain"_L1));

    WsClient back;
    QVERIFY(back.open(server.port(), u"/ws?user_id=7&since=%1"_s.arg(a)));
    const QList<QJsonObject> replayed = receive(back, 2);
    QCOMPARE(idsOf(replayed), (QList<qint64>{c, other}));
    QCOMPARE(replayed.first().value("replaces"_L1).toInteger(), b);
    QCOMPARE(replayed.first().value("chain"_L1).toInteger(), a);
    back.close();
    QVERIFY(back.waitDisconnected());

    const HttpResult r = http("DELETE", server.port(), u"/api/messages/%1"_s.arg(c));
    QCOMPARE(r.status, 200);
    const qint64 w = r.json().value("id"_L1).toInteger();
    const QList<QJsonObject> gone = receive(live, 1, {u"withdrawn"_s});
    QCOMPARE(idsOf(gone), QList<qint64>{w});
    QCOMPARE(gone.first().value("withdraws"_L1).toInteger(), c);
    QCOMPARE(gone.first().value("chain"_L1).toInteger(), a);

    WsClient again;
    QVERIFY(again.open(server.port(), u"/ws?user_id=7&since=%1"_s.arg(a)));
    const QList<QJsonObject> afterWithdraw = receive(again, 2, {u"message"_s, u"withdrawn"_s});
    QCOMPARE(idsOf(afterWithdraw), (QList<qint64>{other, w}));
    QCOMPARE(afterWithdraw.at(1).value("withdraws"_L1).toInteger(), c);
    QCOMPARE(afterWithdraw.at(1).value("chain"_L1).toInteger(), a);
}

void tst_Notifications::withdrawAcrossResume_data()
{
    QTest::addColumn<bool>("overWebSocket");
    QTest::addColumn<bool>("redis");
    for (bool redis : {false, true}) {
        const char *backend = redis ? "redis" : "sqlite";
        QTest::addRow("%s: DELETE /api/messages/{id}", backend) << false << redis;
        QTest::addRow("%s: withdraw frame", backend) << true << redis;
    }
}

void tst_Notifications::withdrawAcrossResume()
{
    // A client sees a message, goes away; the message is updated, then withdrawn. On resume the client learns
    // of the withdrawal (the event names the chain's latest), and nothing of it is listed any more.
    QFETCH(bool, overWebSocket);
    QTemporaryDir dir;
    ServerProcess server(dir.path(), backendArgs());
    QVERIFY(server.start());
    WsClient sub;
    QVERIFY(sub.open(server.port(), u"/ws?user_id=7"_s));
    QVERIFY(sub.waitFor(u"connected"_s));
    const qint64 a = publish(server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "deploy?"_L1}});
    QCOMPARE(idsOf(receive(sub, 1)), QList<qint64>{a});
    sub.close();
    QVERIFY(sub.waitDisconnected());

    const qint64 b = publish(
        server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "deploy now?"_L1}, {"replaces"_L1, a}});
    QVERIFY(b > a);
    qint64 w = 0;
    if (overWebSocket) {
        WsClient publisher;
        QVERIFY(publisher.open(server.port(), u"/ws"_s));
        QVERIFY(publisher.waitFor(u"connected"_s));
        publisher.send({{"action"_L1, "withdraw"_L1}, {"id"_L1, a}});
        const auto ack = publisher.waitFor(u"withdrawn"_s);
        QVERIFY(ack);
        QCOMPARE(ack->value("withdraws"_L1).toInteger(), b);
        QCOMPARE(ack->value("channel"_L1).toString(), u"user:7"_s);
        w = ack->value("id"_L1).toInteger();
        publisher.send({{"action"_L1, "withdraw"_L1}, {"id"_L1, b}});
        const auto again = publisher.waitFor(u"error"_s);
        QVERIFY(again);
        QCOMPARE(again->value("code"_L1).toString(), u"not_found"_s);
    } else {
        const HttpResult r = http("DELETE", server.port(), u"/api/messages/%1"_s.arg(a));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json().value("withdraws"_L1).toInteger(), b);
        QCOMPARE(r.json().value("channel"_L1).toString(), u"user:7"_s);
        w = r.json().value("id"_L1).toInteger();
        QCOMPARE(http("DELETE", server.port(), u"/api/messages/%1"_s.arg(b)).status, 404);
        QCOMPARE(http("DELETE", server.port(), u"/api/messages/%1"_s.arg(w)).status, 404);
    }
    QVERIFY(w > b);

    WsClient back;
    QVERIFY(back.open(server.port(), u"/ws?user_id=7&since=%1"_s.arg(a)));
    const QList<QJsonObject> replayed = receive(back, 1, {u"message"_s, u"withdrawn"_s});
    QCOMPARE(idsOf(replayed), QList<qint64>{w});
    QCOMPARE(replayed.first().value("type"_L1).toString(), u"withdrawn"_s);
    QCOMPARE(replayed.first().value("withdraws"_L1).toInteger(), b);

    QCOMPARE(notificationIds(server.port()), QList<qint64>{});
    QCOMPARE(notificationIds(server.port(), u"&since=%1"_s.arg(a)), QList<qint64>{w});
    QCOMPARE(
        http("GET", server.port(), u"/api/notifications?user_id=7"_s).json().value("unread"_L1).toInteger(),
        0);
}

void tst_Notifications::withdrawNeedsWritePermission_data()
{
    // Token mode: who withdraws what. Without write permission on the message's channel it is refused:
    // 403 where the caller may read the channel, 404 where it may not even see the message (a queue of
    // another user: ids are guessable, queues are private), as markRead answers.
    QTest::addColumn<QString>("sub");
    QTest::addColumn<QString>("role");
    QTest::addColumn<QStringList>("allowed"); // the token's channel allow-list
    QTest::addColumn<QString>("channel");     // where the message is
    QTest::addColumn<int>("status");
    QTest::newRow("publisher on its channel")
        << u"ci"_s << u"publisher"_s << QStringList{u"news"_s} << u"news"_s << 200;
    QTest::newRow("publisher on a user queue")
        << u"ci"_s << u"publisher"_s << QStringList{} << u"user:alice"_s << 200;
    QTest::newRow("publisher outside its channels")
        << u"ci"_s << u"publisher"_s << QStringList{u"news"_s} << u"user:alice"_s << 404;
    QTest::newRow("subscriber on a channel it reads")
        << u"alice"_s << u"subscriber"_s << QStringList{} << u"news"_s << 403;
    QTest::newRow("subscriber on another's queue")
        << u"bob"_s << u"subscriber"_s << QStringList{} << u"user:alice"_s << 404;
}

void tst_Notifications::withdrawNeedsWritePermission()
{
    QFETCH(QString, sub);
    QFETCH(QString, role);
    QFETCH(QStringList, allowed);
    QFETCH(QString, channel);
    QFETCH(int, status);
    QTemporaryDir dir;
    const QByteArray secret = "a secret of at least thirty-two bytes, for tst_notifications";
    QFile file(dir.filePath(u"jwt.secret"_s));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(secret + '\n');
    file.close();
    ServerProcess server(dir.filePath(u"data"_s),
                         {u"--auth"_s, u"token"_s, u"--jwt-secret-file"_s, file.fileName()});
    QVERIFY(server.start());
    const Herald::TokenVerifier tokens(secret);
    const QByteArray admin = tokens.mint(u"root"_s, Herald::Role::Admin, std::chrono::hours(1));
    const QByteArray caller =
        tokens.mint(sub, Herald::roleFromName(role).value(), std::chrono::hours(1), allowed);
    const HttpResult published = http("POST", server.port(), u"/api/publish"_s,
                                      json({{"channel"_L1, channel}, {"message"_L1, "to withdraw"_L1}}),
                                      {{"Authorization", "Bearer " + admin}});
    QCOMPARE(published.status, 202);
    const qint64 id = published.json().value("id"_L1).toInteger();
    const HttpResult r = http("DELETE", server.port(), u"/api/messages/%1"_s.arg(id), {},
                              {{"Authorization", "Bearer " + caller}});
    QCOMPARE(r.status, status);
    // Refused: still there. Done: gone for its owner too.
    const HttpResult again = http("DELETE", server.port(), u"/api/messages/%1"_s.arg(id), {},
                                  {{"Authorization", "Bearer " + admin}});
    QCOMPARE(again.status, status == 200 ? 404 : 200);
}

void tst_Notifications::expiryHidesFromHistoryAndResume()
{
    QTemporaryDir dir;
    ServerProcess server(dir.path(), backendArgs());
    QVERIFY(server.start());
    const qint64 before = publish(server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "stays"_L1}});
    const qint64 brief =
        publish(server.port(),
                {{"channel"_L1, "user:7"_L1}, {"message"_L1, "one second"_L1}, {"expires"_L1, "1s"_L1}});
    QVERIFY(before > 0 && brief > before);
    QCOMPARE(notificationIds(server.port()), (QList<qint64>{before, brief}));
    // Not a timing assertion: it waits for the expiry to pass, however long the machine takes.
    QTRY_COMPARE_WITH_TIMEOUT(notificationIds(server.port()), QList<qint64>{before}, 10000);
    QCOMPARE(
        http("GET", server.port(), u"/api/notifications?user_id=7"_s).json().value("unread"_L1).toInteger(),
        1);

    WsClient back;
    QVERIFY(back.open(server.port(), u"/ws?user_id=7&since=0"_s));
    const QJsonObject notice{{"count"_L1, 1}, {"recovered"_L1, true}};
    QCOMPARE(replayNotice(back, notice), notice);
    QCOMPARE(idsOf(receive(back, 1)), QList<qint64>{before});
    QVERIFY(back.noFrame(u"message"_s, 200));
    // Expired, so not updatable.
    const HttpResult r =
        http("POST", server.port(), u"/api/publish"_s,
             json({{"channel"_L1, "user:7"_L1}, {"message"_L1, "x"_L1}, {"replaces"_L1, brief}}));
    QCOMPARE(r.status, 404);
}

void tst_Notifications::killNineKeepsExpiryAndSupersession()
{
    QTemporaryDir dir;
    qint64 a = 0, b = 0, brief = 0, plain = 0;
    const QStringList args = backendArgs(); // the restart finds the same key space
    {
        ServerProcess server(dir.path(), args);
        QVERIFY(server.start());
        a = publish(server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "40%"_L1}});
        b = publish(server.port(),
                    {{"channel"_L1, "user:7"_L1}, {"message"_L1, "80%"_L1}, {"replaces"_L1, a}});
        brief = publish(server.port(),
                        {{"channel"_L1, "user:7"_L1}, {"message"_L1, "brief"_L1}, {"expires"_L1, "2s"_L1}});
        plain = publish(server.port(), {{"channel"_L1, "user:7"_L1}, {"message"_L1, "plain"_L1}});
        QVERIFY(a > 0 && b > a && brief > b && plain > brief);
        QVERIFY(server.crash());
    }
    ServerProcess restarted(dir.path(), args);
    QVERIFY(restarted.start());
    // Supersession survived at once; expiry once its time has come.
    QVERIFY(!notificationIds(restarted.port()).contains(a));
    QTRY_COMPARE_WITH_TIMEOUT(notificationIds(restarted.port()), (QList<qint64>{b, plain}), 10000);
    WsClient back;
    QVERIFY(back.open(restarted.port(), u"/ws?user_id=7&since=0"_s));
    QCOMPARE(idsOf(receive(back, 2)), (QList<qint64>{b, plain}));
    // The chain still resolves from its first id.
    const HttpResult r =
        http("POST", restarted.port(), u"/api/publish"_s,
             json({{"channel"_L1, "user:7"_L1}, {"message"_L1, "done"_L1}, {"replaces"_L1, a}}));
    QCOMPARE(r.status, 202);
    const qint64 c = r.json().value("id"_L1).toInteger();
    QCOMPARE(idsOf(receive(back, 1)), QList<qint64>{c});
    QCOMPARE(notificationIds(restarted.port()), (QList<qint64>{plain, c}));
}

QTEST_MAIN(tst_Notifications)
#include "tst_notifications.moc"
