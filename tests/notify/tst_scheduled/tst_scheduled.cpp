// Scheduled delivery (docs/protocol.md, "Scheduled delivery") on real sockets: a publish with "at" or "delay"
// is answered with a handle, delivered at its time with an id taken then, listed, read and cancelled over
// REST, survives a kill -9 of the real herald-server, and is delivered once by a cluster of three nodes.

#include "auth.h"
#include "cluster.h"
#include "redisserver.h"
#include "server.h"
#include "testclient.h"
#include "testserver.h"

#include <QDateTime>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <QUuid>

#include <csignal>

using namespace Qt::StringLiterals;
using namespace HeraldTest;

namespace {

QByteArray body(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QJsonObject note(const QString &channel, const QString &text)
{
    return {{"channel"_L1, channel}, {"type"_L1, "note"_L1}, {"message"_L1, text}};
}

QJsonObject with(QJsonObject o, const QString &key, const QJsonValue &value)
{
    o.insert(key, value);
    return o;
}

// A REST publish; its answer, with the status.
HttpResult publish(quint16 port, const QJsonObject &o)
{
    return http("POST", port, u"/api/publish"_s, body(o));
}

// Schedules `text` on `channel` `delay` ahead over REST: its handle, empty if it was not accepted.
QString schedule(quint16 port, const QString &channel, const QString &text, const QString &delay)
{
    const HttpResult r = publish(port, with(note(channel, text), u"delay"_s, delay));
    if (r.status != 202) {
        qWarning() << "schedule answered" << r.status << r.body;
        return {};
    }
    return r.json().value("scheduled"_L1).toString();
}

// Every "note" frame the client has got or gets within `waitMs` whose message is `text`.
QList<QJsonObject> notesSaying(WsClient &ws, const QString &text, int waitMs)
{
    QTest::qWait(waitMs);
    QList<QJsonObject> out;
    for (const QJsonObject &f : std::as_const(ws.frames())) {
        if (f.value("type"_L1) == u"note"_s && f.value("message"_L1) == text)
            out.append(f);
    }
    return out;
}

// A herald-server process on `dir` and `port` (with `extra` arguments), answering /healthz.
bool startProcess(QProcess &p, const QString &dir, quint16 port, const QStringList &extra = {})
{
    p.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    p.start(QStringLiteral(HERALD_SERVER_BINARY),
            QStringList{u"--port"_s, QString::number(port), u"--data-dir"_s, dir, u"--log-level"_s,
                        u"warning"_s} +
                extra);
    if (!p.waitForStarted())
        return false;
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < 20000 && p.state() == QProcess::Running) {
        if (http("GET", port, u"/healthz"_s).json().value("status"_L1) == u"ok"_s)
            return true;
        QTest::qWait(50);
    }
    return false;
}

void kill9(QProcess &p)
{
    ::kill(pid_t(p.processId()), SIGKILL);
    p.waitForFinished(5000);
}

} // namespace

class tst_Scheduled : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void deliveredAtItsTime_data();
    void deliveredAtItsTime();
    void cancelled();
    void listedAndRead();
    void listedInPages();
    void badScheduleNamesTheField_data();
    void badScheduleNamesTheField();
    void permissionsLikePublish();
    void survivesKill9AndRestart();
    void clusterDeliversOnce();
    void clusterNodeDiesAfterScheduling();

private:
    bool startServer();
    // Three cluster nodes on one Redis under a fresh prefix; false if one does not come up.
    bool startCluster(int count);

    QTemporaryDir m_dir;
    std::unique_ptr<Herald::Server> m_server;
    quint16 m_port = 0;

    std::unique_ptr<RedisServer> m_redis;
    QString m_prefix;
    std::vector<std::unique_ptr<QTemporaryDir>> m_nodeDirs;
    std::vector<std::unique_ptr<Herald::Server>> m_nodes;
};

void tst_Scheduled::init()
{
    m_prefix = u"s%1:"_s.arg(QUuid::createUuid().toString(QUuid::Id128).left(8));
}

void tst_Scheduled::cleanup()
{
    stopTestServer(m_server);
    for (auto &n : m_nodes)
        stopTestServer(n);
    m_nodes.clear();
    m_nodeDirs.clear();
}

bool tst_Scheduled::startServer()
{
    auto dir = std::make_unique<QTemporaryDir>();
    m_server = startTestServer(dir->path());
    m_nodeDirs.push_back(std::move(dir));
    m_port = m_server ? m_server->port() : 0;
    return m_server != nullptr;
}

bool tst_Scheduled::startCluster(int count)
{
    if (!m_redis) {
        m_redis = std::make_unique<RedisServer>();
        if (!m_redis->start()) {
            qWarning() << m_redis->errorString();
            m_redis.reset();
            return false;
        }
    }
    for (int i = 0; i < count; ++i) {
        auto dir = std::make_unique<QTemporaryDir>();
        auto server = startTestServer(dir->path(), [&](Herald::ServerConfig &c) {
            c.redisUrl = m_redis->url();
            c.redisPrefix = m_prefix;
            c.nodeId = u"n%1"_s.arg(i);
        });
        if (!server)
            return false;
        QElapsedTimer t;
        t.start();
        while (!server->cluster()->isBusUp() && t.elapsed() < 5000)
            QTest::qWait(10);
        if (!server->cluster()->isBusUp())
            return false;
        m_nodeDirs.push_back(std::move(dir));
        m_nodes.push_back(std::move(server));
    }
    return true;
}

void tst_Scheduled::deliveredAtItsTime_data()
{
    QTest::addColumn<QString>("how");
    QTest::newRow("rest delay") << u"rest-delay"_s;
    QTest::newRow("rest at") << u"rest-at"_s;
    QTest::newRow("websocket delay") << u"ws-delay"_s;
}

// Nothing is delivered at the publish; at its time the message comes, with an id above what was published
// meanwhile: a subscriber resuming from an id it saw misses nothing.
void tst_Scheduled::deliveredAtItsTime()
{
    QFETCH(QString, how);
    QVERIFY(startServer());
    WsClient sub;
    QVERIFY(sub.open(m_port, u"/ws?channels=news"_s));
    QVERIFY(sub.waitFor(u"connected"_s));

    const QDateTime before = QDateTime::currentDateTimeUtc();
    QJsonObject ack;
    if (how == u"ws-delay"_s) {
        WsClient pub;
        QVERIFY(pub.open(m_port, u"/ws"_s));
        pub.send(with(with(note(u"news"_s, u"later"_s), u"action"_s, u"publish"_s), u"delay"_s, u"2s"_s));
        const auto published = pub.waitFor(u"published"_s);
        QVERIFY(published);
        ack = *published;
    } else {
        const QJsonValue when = how == u"rest-at"_s
                                    ? QJsonValue(before.addMSecs(2000).toString(Qt::ISODateWithMs))
                                    : QJsonValue(u"2s"_s);
        const HttpResult r = publish(
            m_port, with(note(u"news"_s, u"later"_s), how == u"rest-at"_s ? u"at"_s : u"delay"_s, when));
        QCOMPARE(r.status, 202);
        ack = r.json();
    }
    const QString handle = ack.value("scheduled"_L1).toString();
    QCOMPARE(handle.size(), 16);
    QVERIFY(!ack.contains("id"_L1)); // no id until it is delivered
    QCOMPARE(ack.value("channel"_L1).toString(), u"news"_s);
    const QDateTime at = QDateTime::fromString(ack.value("at"_L1).toString(), Qt::ISODateWithMs);
    QVERIFY(at > before);

    // Published meanwhile: a lower id than the scheduled one will take.
    const HttpResult now = publish(m_port, note(u"news"_s, u"now"_s));
    QCOMPARE(now.status, 202);
    const qint64 nowId = now.json().value("id"_L1).toInteger();
    const auto first = sub.waitFor(u"note"_s);
    QVERIFY(first);
    QCOMPARE(first->value("message"_L1).toString(), u"now"_s);

    const auto later = sub.waitFor(u"note"_s, 10000);
    QVERIFY(later);
    QVERIFY(QDateTime::currentDateTimeUtc() >= at); // not early
    QCOMPARE(later->value("message"_L1).toString(), u"later"_s);
    QVERIFY2(later->value("id"_L1).toInteger() > nowId, qPrintable(QString::number(nowId)));
    // Stamped when it was delivered, not when it was scheduled.
    QVERIFY(QDateTime::fromString(later->value("timestamp"_L1).toString(), Qt::ISODateWithMs) >= at);
    QVERIFY(sub.noFrame(u"note"_s, 300));
    // Delivered: gone from the schedule.
    QCOMPARE(http("GET", m_port, u"/api/scheduled/"_s + handle).status, 404);
    // A resume from the id before it replays it.
    WsClient resumed;
    QVERIFY(resumed.open(m_port, u"/ws?channels=news&since=%1"_s.arg(nowId)));
    const auto replayed = resumed.waitFor(u"note"_s);
    QVERIFY(replayed);
    QCOMPARE(replayed->value("message"_L1).toString(), u"later"_s);
}

void tst_Scheduled::cancelled()
{
    QVERIFY(startServer());
    WsClient sub;
    QVERIFY(sub.open(m_port, u"/ws?channels=news"_s));
    const QString handle = schedule(m_port, u"news"_s, u"never"_s, u"2s"_s);
    QVERIFY(!handle.isEmpty());

    const HttpResult del = http("DELETE", m_port, u"/api/scheduled/"_s + handle);
    QCOMPARE(del.status, 200);
    QCOMPARE(del.json(), (QJsonObject{{"handle"_L1, handle}, {"cancelled"_L1, true}}));
    const HttpResult again = http("DELETE", m_port, u"/api/scheduled/"_s + handle);
    QCOMPARE(again.status, 404);
    QCOMPARE(again.json().value("error"_L1).toString(), u"not_found"_s);
    QCOMPARE(http("GET", m_port, u"/api/scheduled/"_s + handle).status, 404);
    QVERIFY(notesSaying(sub, u"never"_s, 3000).isEmpty());
}

void tst_Scheduled::listedAndRead()
{
    QVERIFY(startServer());
    const QString second = schedule(m_port, u"news"_s, u"second"_s, u"1h"_s);
    const QString first = schedule(m_port, u"news"_s, u"first"_s, u"30m"_s);
    const QString other = schedule(m_port, u"alerts"_s, u"other"_s, u"2h"_s);
    QVERIFY(!first.isEmpty() && !second.isEmpty() && !other.isEmpty());

    const HttpResult all = http("GET", m_port, u"/api/scheduled"_s);
    QCOMPARE(all.status, 200);
    QStringList handles;
    for (const QJsonValue &v : all.json().value("scheduled"_L1).toArray())
        handles.append(v.toObject().value("handle"_L1).toString());
    QCOMPARE(handles, (QStringList{first, second, other})); // in due order
    QCOMPARE(all.json().value("has_more"_L1).toBool(true), false);

    const HttpResult news = http("GET", m_port, u"/api/scheduled?channel=news"_s);
    QCOMPARE(news.json().value("scheduled"_L1).toArray().size(), 2);
    const HttpResult limited = http("GET", m_port, u"/api/scheduled?limit=1"_s);
    QCOMPARE(limited.json().value("scheduled"_L1).toArray().size(), 1);
    QCOMPARE(limited.json().value("has_more"_L1).toBool(), true);
    QCOMPARE(http("GET", m_port, u"/api/scheduled?limit=0"_s).status, 422);
    QCOMPARE(http("GET", m_port, u"/api/scheduled?channel=bad%20name"_s).status, 422);

    const HttpResult one = http("GET", m_port, u"/api/scheduled/"_s + first);
    QCOMPARE(one.status, 200);
    const QJsonObject o = one.json();
    QCOMPARE(o.value("handle"_L1).toString(), first);
    QCOMPARE(o.value("channel"_L1).toString(), u"news"_s);
    QVERIFY(QDateTime::fromString(o.value("at"_L1).toString(), Qt::ISODateWithMs).isValid());
    QCOMPARE(o.value("message"_L1).toObject().value("message"_L1).toString(), u"first"_s);
    QVERIFY(!o.value("message"_L1).toObject().contains("id"_L1));

    for (const QString &junk : {u"0123456789abcdef"_s, u"nope"_s, u"%2e%2e"_s})
        QCOMPARE(http("GET", m_port, u"/api/scheduled/"_s + junk).status, 404);
    QCOMPARE(http("POST", m_port, u"/api/scheduled/"_s + first, "{}").status, 405);
}

// More than a page: `next` takes the listing on from the last entry shown, in due order and then by handle
// (five are due at the same instant), and stays good when that entry is cancelled meanwhile.
void tst_Scheduled::listedInPages()
{
    QVERIFY(startServer());
    const QString at = QDateTime::currentDateTimeUtc().addSecs(3600).toString(Qt::ISODateWithMs);
    for (int i = 0; i < 5; ++i) {
        const HttpResult r = publish(m_port, with(note(u"news"_s, u"same %1"_s.arg(i)), u"at"_s, at));
        QCOMPARE(r.status, 202);
    }
    for (int i = 0; i < 3; ++i)
        QVERIFY(!schedule(m_port, u"news"_s, u"later %1"_s.arg(i), u"%1h"_s.arg(2 + i)).isEmpty());
    const auto handlesOf = [](const HttpResult &r) {
        QStringList out;
        for (const QJsonValue &v : r.json().value("scheduled"_L1).toArray())
            out.append(v.toObject().value("handle"_L1).toString());
        return out;
    };
    const QStringList all = handlesOf(http("GET", m_port, u"/api/scheduled"_s));
    QCOMPARE(all.size(), 8);

    QStringList paged;
    QString next;
    for (int page = 0; page < 10; ++page) {
        const HttpResult r = http(
            "GET", m_port, u"/api/scheduled?limit=3"_s + (next.isEmpty() ? QString() : u"&after="_s + next));
        QCOMPARE(r.status, 200);
        paged += handlesOf(r);
        const bool more = r.json().value("has_more"_L1).toBool();
        QCOMPARE(r.json().contains("next"_L1), more);
        if (!more)
            break;
        next = r.json().value("next"_L1).toString();
    }
    QCOMPARE(paged, all);

    const HttpResult two = http("GET", m_port, u"/api/scheduled?limit=2"_s);
    QCOMPARE(handlesOf(two), all.mid(0, 2));
    const QString cursor = two.json().value("next"_L1).toString();
    QCOMPARE(http("DELETE", m_port, u"/api/scheduled/"_s + all.at(1)).status, 200);
    QCOMPARE(http("DELETE", m_port, u"/api/scheduled/"_s + all.at(2)).status, 200);
    QCOMPARE(handlesOf(http("GET", m_port, u"/api/scheduled?after="_s + cursor)), all.mid(3));

    for (const QString &bad : {u"x"_s, u"12"_s, u"-1-abc"_s, u"abc-def"_s, u"5-"_s}) {
        const HttpResult r = http("GET", m_port, u"/api/scheduled?after="_s + bad);
        QCOMPARE(r.status, 422);
        QCOMPARE(r.json().value("error"_L1).toString(), u"bad_request"_s);
    }
}

void tst_Scheduled::badScheduleNamesTheField_data()
{
    QTest::addColumn<QJsonObject>("fields");
    QTest::addColumn<QString>("named");
    QTest::newRow("at not a time") << QJsonObject{{"at"_L1, "tomorrow-ish"_L1}} << u"'at'"_s;
    QTest::newRow("at passed") << QJsonObject{{"at"_L1, "2020-01-01T00:00:00Z"_L1}} << u"'at'"_s;
    QTest::newRow("at too far") << QJsonObject{{"at"_L1, "2099-01-01T00:00:00Z"_L1}} << u"'at'"_s;
    QTest::newRow("delay negative") << QJsonObject{{"delay"_L1, -5}} << u"'delay'"_s;
    QTest::newRow("delay not a duration") << QJsonObject{{"delay"_L1, "forever"_L1}} << u"'delay'"_s;
    QTest::newRow("delay an object") << QJsonObject{{"delay"_L1, QJsonObject{}}} << u"'delay'"_s;
    QTest::newRow("both") << QJsonObject{{"at"_L1, "1h"_L1}, {"delay"_L1, "1h"_L1}} << u"'delay'"_s;
    QTest::newRow("expires before delivery")
        << QJsonObject{{"delay"_L1, "2h"_L1}, {"expires"_L1, "1h"_L1}} << u"'expires'"_s;
}

void tst_Scheduled::badScheduleNamesTheField()
{
    QFETCH(QJsonObject, fields);
    QFETCH(QString, named);
    QVERIFY(startServer());
    QJsonObject o = note(u"news"_s, u"x"_s);
    for (auto it = fields.begin(); it != fields.end(); ++it)
        o.insert(it.key(), it.value());
    const HttpResult r = publish(m_port, o);
    QCOMPARE(r.status, 422);
    QCOMPARE(r.json().value("error"_L1).toString(), u"bad_request"_s);
    QVERIFY2(r.json().value("detail"_L1).toString().contains(named), r.body.constData());
    QCOMPARE(http("GET", m_port, u"/api/scheduled"_s).json().value("scheduled"_L1).toArray().size(), 0);
}

// With tokens: a publisher sees, reads and cancels only what it may publish; without a token, nothing.
void tst_Scheduled::permissionsLikePublish()
{
    const QByteArray secret = "tst_scheduled: a test key for HS256, 0123456789abcdef";
    const QString secretFile = m_dir.filePath(u"jwt.secret"_s);
    QFile f(secretFile);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(secret + '\n');
    f.close();
    auto dir = std::make_unique<QTemporaryDir>();
    m_server = startTestServer(dir->path(), [&](Herald::ServerConfig &c) {
        c.authMode = Herald::ServerConfig::AuthMode::Token;
        c.jwtSecretFile = secretFile;
    });
    m_nodeDirs.push_back(std::move(dir));
    QVERIFY(m_server);
    m_port = m_server->port();
    const Herald::TokenVerifier tokens(secret);
    const auto bearer = [](const QByteArray &token) {
        return QList<QPair<QByteArray, QByteArray>>{{"Authorization", "Bearer " + token}};
    };
    const auto admin = bearer(tokens.mint(u"root"_s, Herald::Role::Admin, std::chrono::hours(1), {}));
    const auto newsOnly =
        bearer(tokens.mint(u"pub"_s, Herald::Role::Publisher, std::chrono::hours(1), {u"news"_s}));
    auto scheduleAs = [&](const QString &channel) {
        const HttpResult r = http("POST", m_port, u"/api/publish"_s,
                                  body(with(note(channel, u"x"_s), u"delay"_s, u"1h"_s)), admin);
        return r.json().value("scheduled"_L1).toString();
    };
    const QString news = scheduleAs(u"news"_s);
    const QString hidden = scheduleAs(u"secret"_s);
    QVERIFY(!news.isEmpty() && !hidden.isEmpty());

    QCOMPARE(http("GET", m_port, u"/api/scheduled"_s).status, 401);
    QCOMPARE(
        http("GET", m_port, u"/api/scheduled"_s, {}, admin).json().value("scheduled"_L1).toArray().size(), 2);
    const QJsonArray listed =
        http("GET", m_port, u"/api/scheduled"_s, {}, newsOnly).json().value("scheduled"_L1).toArray();
    QCOMPARE(listed.size(), 1);
    QCOMPARE(listed.first().toObject().value("handle"_L1).toString(), news);
    QCOMPARE(http("GET", m_port, u"/api/scheduled?channel=secret"_s, {}, newsOnly).status, 403);
    QCOMPARE(http("GET", m_port, u"/api/scheduled/"_s + hidden, {}, newsOnly).status, 403);
    QCOMPARE(http("DELETE", m_port, u"/api/scheduled/"_s + hidden, {}, newsOnly).status, 403);
    QCOMPARE(http("GET", m_port, u"/api/scheduled/"_s + hidden, {}, admin).status, 200); // still there
    QCOMPARE(http("DELETE", m_port, u"/api/scheduled/"_s + news, {}, newsOnly).status, 200);
}

// The real binary, killed -9 right after it accepted a publish 3 s ahead, then started again on its data dir:
// the message arrives once.
void tst_Scheduled::survivesKill9AndRestart()
{
    QTemporaryDir dir;
    const quint16 port = freePort();
    QProcess server;
    QVERIFY(startProcess(server, dir.path(), port));
    const HttpResult before = publish(port, note(u"news"_s, u"before"_s));
    QCOMPARE(before.status, 202);
    const qint64 beforeId = before.json().value("id"_L1).toInteger();
    const QString handle = schedule(port, u"news"_s, u"survivor"_s, u"3s"_s);
    QVERIFY(!handle.isEmpty());
    kill9(server);

    QProcess again;
    QVERIFY(startProcess(again, dir.path(), port));
    auto stop = qScopeGuard([&] {
        again.terminate();
        if (!again.waitForFinished(5000))
            kill9(again);
    });
    // From the id before it: a replay if it came already, live if not; either way once.
    WsClient sub;
    QVERIFY(sub.open(port, u"/ws?channels=news&since=%1"_s.arg(beforeId)));
    QTRY_COMPARE_WITH_TIMEOUT(notesSaying(sub, u"survivor"_s, 0).size(), 1, 10000);
    QCOMPARE(notesSaying(sub, u"survivor"_s, 1500).size(), 1);
    const QJsonArray stored =
        http("GET", port, u"/api/channels/news/history?since=0"_s).json().value("messages"_L1).toArray();
    int copies = 0;
    for (const QJsonValue &v : stored)
        copies += v.toObject().value("message"_L1) == u"survivor"_s;
    QCOMPARE(copies, 1);
    QCOMPARE(http("GET", port, u"/api/scheduled/"_s + handle).status, 404);
}

// Three nodes share one Redis: every node's timer fires, one publishes each message; a subscriber on each
// node gets each once, and nothing of the schedule is left in Redis.
void tst_Scheduled::clusterDeliversOnce()
{
    QVERIFY(startCluster(3));
    std::vector<std::unique_ptr<WsClient>> subs;
    for (auto &n : m_nodes) {
        subs.push_back(std::make_unique<WsClient>());
        QVERIFY(subs.back()->open(n->port(), u"/ws?channels=news"_s));
        QVERIFY(subs.back()->waitFor(u"connected"_s));
    }
    // The same time for all: every node finds them due together.
    const QString at = QDateTime::currentDateTimeUtc().addMSecs(2500).toString(Qt::ISODateWithMs);
    constexpr int Count = 6;
    for (int i = 0; i < Count; ++i) {
        const HttpResult r =
            publish(m_nodes.at(size_t(i % 3))->port(), with(note(u"news"_s, u"m%1"_s.arg(i)), u"at"_s, at));
        QCOMPARE(r.status, 202);
    }
    QCOMPARE(
        http("GET", m_nodes.at(1)->port(), u"/api/scheduled"_s).json().value("scheduled"_L1).toArray().size(),
        Count);
    QList<qint64> seen;
    for (auto &sub : subs) {
        QList<qint64> ids;
        for (int i = 0; i < Count; ++i) {
            QTRY_COMPARE_WITH_TIMEOUT(notesSaying(*sub, u"m%1"_s.arg(i), 0).size(), 1, 10000);
            ids.append(notesSaying(*sub, u"m%1"_s.arg(i), 0).first().value("id"_L1).toInteger());
        }
        if (seen.isEmpty())
            seen = ids;
        QCOMPARE(ids, seen); // the same ids on every node
    }
    // No second copy comes later (a lease that ran out, another node's retry).
    QTest::qWait(1500);
    for (auto &sub : subs) {
        int notes = 0;
        for (const QJsonObject &f : std::as_const(sub->frames()))
            notes += f.value("type"_L1) == u"note"_s;
        QCOMPARE(notes, Count);
    }
    QCOMPARE(m_redis->command({"EXISTS", (m_prefix + u"scheduled"_s).toUtf8(),
                               (m_prefix + u"scheduled:entries"_s).toUtf8()}),
             std::optional<QByteArray>("0"));
}

// The node that accepted the publish dies (kill -9) before its time: another node delivers it, once.
void tst_Scheduled::clusterNodeDiesAfterScheduling()
{
    QVERIFY(startCluster(2));
    QTemporaryDir dir;
    const quint16 port = freePort();
    QProcess doomed;
    QVERIFY(startProcess(
        doomed, dir.path(), port,
        {u"--redis"_s, m_redis->url(), u"--redis-prefix"_s, m_prefix, u"--node-id"_s, u"doomed"_s}));
    std::vector<std::unique_ptr<WsClient>> subs;
    for (auto &n : m_nodes) {
        subs.push_back(std::make_unique<WsClient>());
        QVERIFY(subs.back()->open(n->port(), u"/ws?channels=news"_s));
        QVERIFY(subs.back()->waitFor(u"connected"_s));
    }
    QVERIFY(!schedule(port, u"news"_s, u"orphan"_s, u"2s"_s).isEmpty());
    kill9(doomed);
    for (auto &sub : subs) {
        QTRY_COMPARE_WITH_TIMEOUT(notesSaying(*sub, u"orphan"_s, 0).size(), 1, 10000);
        QCOMPARE(notesSaying(*sub, u"orphan"_s, 1500).size(), 1);
    }
    QCOMPARE(m_redis->command({"EXISTS", (m_prefix + u"scheduled"_s).toUtf8(),
                               (m_prefix + u"scheduled:entries"_s).toUtf8()}),
             std::optional<QByteArray>("0"));
}

QTEST_MAIN(tst_Scheduled)
#include "tst_scheduled.moc"
