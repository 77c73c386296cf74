#include "datarows.h"
#include "hub.h"
#include "server.h"
#include "testclient.h"
#include "testserver.h"

#include <QRegularExpression>
#include <QScopeGuard>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace Qt::StringLiterals;
using namespace HeraldTest;

// Integration tests: a real Herald server on a free loopback port, real WebSocket, SSE and HTTP clients.
class tst_Server : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void channelSet_data();
    void channelSet();
    void seed003CountsOnEveryChange();
    void seed003NotifyReachesDashboardAndSubscribers();
    void seed003GetsNoUndocumentedFrames();
    void seed001ChatReachesEveryChatClient();
    void seed001NotificationOnlyToSender();
    void seed001BroadcastReachesEveryone();
    void seed004Greeting_data();
    void seed004Greeting();
    void seed004StatsFrameAndEndpoint();
    void pingPongOnEveryRoute_data();
    void pingPongOnEveryRoute();
    void nativeQuerySubscribes();
    void nativeSubscribeUnsubscribe();
    void nativeCountsOption();
    void pageCountsCarryChannelTotal();
    void nativePublishAck();
    void badFramesGetErrors_data();
    void badFramesGetErrors();
    void badQueryChannelGetsErrorFrame();
    void oversizedMessageCloses1009();
    void handshakeRejections_data();
    void handshakeRejections();
    void restPublish_data();
    void restPublish();
    void restPublishExcludesClient();
    void publishWindowAnswersAfterFanout_data();
    void publishWindowAnswersAfterFanout();
    void groupCommitStoresBeforeAnswering();
    void groupCommitKeepsIdOrder();
    void healthMetricsAndPages();
    void adminFeed();
    void adminDisconnectsClient();
    void adminDisconnectsClientOnItsThread_data();
    void adminDisconnectsClientOnItsThread();
    void sseNamedAndSeedStreams();
    void gracefulStopSends1001();
    void restAnswersSayWhat_data();
    void restAnswersSayWhat();
    void headAnswersLikeGet_data();
    void headAnswersLikeGet();
    void webSocketRefusesEmptyPublish();

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Herald::Server> m_server;
    quint16 m_port = 0;

    std::unique_ptr<WsClient> client(const QString &path) { return openWs(m_port, path); }
};

void tst_Server::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    Herald::ServerConfig config;
    config.port = 0;
    config.dataDir = m_dir->path();
    config.workerThreads = 2;
    config.maxMessageSize = 4096;
    config.shutdownGrace = std::chrono::milliseconds(1500);
    m_server = std::make_unique<Herald::Server>(config);
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    m_port = m_server->port();
    QVERIFY(m_port != 0);
}

void tst_Server::cleanup()
{
    m_server.reset();
    m_dir.reset();
}

void tst_Server::seed003CountsOnEveryChange()
{
    auto a = client(u"/ws/client"_s);
    QVERIFY(a);
    auto counts = a->waitFor(u"counts"_s);
    QVERIFY(counts);
    QCOMPARE(counts->value("clients"_L1).toInt(), 1);
    QCOMPARE(counts->value("subscribers"_L1).toInt(), 0);
    // Exactly the documented shape.
    QCOMPARE(counts->keys(), QStringList({u"clients"_s, u"subscribers"_s, u"type"_s}));

    a->send({{"action"_L1, "subscribe"_L1}, {"user_id"_L1, "abc123"_L1}});
    counts = a->waitFor(u"counts"_s);
    QVERIFY(counts);
    QCOMPARE(counts->value("subscribers"_L1).toInt(), 1);

    auto b = client(u"/ws/client"_s);
    QVERIFY(b);
    counts = a->waitFor(u"counts"_s);
    QVERIFY(counts);
    QCOMPARE(counts->value("clients"_L1).toInt(), 2);
    QCOMPARE(counts->value("subscribers"_L1).toInt(), 1);
    counts = b->waitFor(u"counts"_s);
    QVERIFY(counts);
    QCOMPARE(counts->value("clients"_L1).toInt(), 2);

    b->close();
    counts = a->waitFor(u"counts"_s);
    QVERIFY(counts);
    QCOMPARE(counts->value("clients"_L1).toInt(), 1);
}

void tst_Server::seed003NotifyReachesDashboardAndSubscribers()
{
    auto dashboard = client(u"/ws/server"_s);
    QVERIFY(dashboard);
    QVERIFY(dashboard->waitFor(u"snapshot"_s));
    auto sender = client(u"/ws/client"_s);
    auto listener = client(u"/ws/client"_s);
    QVERIFY(sender && listener);
    listener->send({{"action"_L1, "subscribe"_L1}, {"user_id"_L1, "u2"_L1}});
    QTRY_COMPARE(m_server->hub()->counts().subscribers, 1);

    sender->send({{"action"_L1, "notify"_L1}, {"message"_L1, "Hello from the client!"_L1}});
    const QJsonObject notify{{"message"_L1, "Hello from the client!"_L1}};
    QCOMPARE(nextFrameLike(*dashboard, u"notify"_s, notify), notify);
    const auto atListener = listener->waitFor(u"notify"_s);
    QVERIFY(atListener);
    QCOMPARE(atListener->value("message"_L1).toString(), u"Hello from the client!"_s);
    QVERIFY(atListener->value("id"_L1).toInteger() > 0);
}

void tst_Server::seed003GetsNoUndocumentedFrames()
{
    auto c = client(u"/ws/client"_s);
    QVERIFY(c);
    c->send({{"action"_L1, "subscribe"_L1}, {"user_id"_L1, "abc123"_L1}});
    QVERIFY(c->waitFor(u"counts"_s));
    QTest::qWait(200);
    for (const QJsonObject &frame : std::as_const(c->frames()))
        QCOMPARE(frame.value("type"_L1).toString(), u"counts"_s);
}

void tst_Server::seed001ChatReachesEveryChatClient()
{
    auto a = client(u"/ws/alice"_s);
    auto b = client(u"/ws/bob"_s);
    QVERIFY(a && b);
    QTRY_COMPARE(m_server->hub()->channelCounts().value(u"chat"_s), 2);
    a->send({{"type"_L1, "chat"_L1}, {"message"_L1, "hola"_L1}});
    const QJsonObject chat{{"sender"_L1, "alice"_L1}, {"message"_L1, "hola"_L1}};
    for (WsClient *c : {a.get(), b.get()})
        QCOMPARE(nextFrameLike(*c, u"chat"_s, chat), chat);
}

void tst_Server::seed001NotificationOnlyToSender()
{
    auto a = client(u"/ws/alice"_s);
    auto b = client(u"/ws/bob"_s);
    QVERIFY(a && b);
    a->send({{"type"_L1, "notification"_L1}, {"message"_L1, "just me"_L1}});
    const QJsonObject personal{{"message"_L1, "just me"_L1}, {"scope"_L1, "personal"_L1}};
    QCOMPARE(nextFrameLike(*a, u"notification"_s, personal), personal);
    QVERIFY(b->noFrame(u"notification"_s));
}

void tst_Server::seed001BroadcastReachesEveryone()
{
    auto a = client(u"/ws/alice"_s);
    auto b = client(u"/ws/bob"_s);
    auto native = client(u"/ws"_s);
    auto model = client(u"/ws/users"_s);
    QVERIFY(a && b && native && model);
    QTRY_COMPARE(m_server->hub()->counts().clients, 4);
    b->send({{"type"_L1, "broadcast_notification"_L1}, {"message"_L1, "to all"_L1}});
    for (WsClient *c : {a.get(), b.get(), native.get(), model.get()}) {
        const auto n = c->waitFor(u"notification"_s);
        QVERIFY(n);
        QCOMPARE(n->value("message"_L1).toString(), u"to all"_s);
        QCOMPARE(n->value("scope"_L1).toString(), u"broadcast"_s);
        QCOMPARE(n->value("sender"_L1).toString(), u"bob"_s);
    }
}

void tst_Server::seed004Greeting_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("channel");
    QTest::addColumn<QString>("clientId"); // empty: a generated UUID
    QTest::newRow("users") << u"/ws/users"_s << u"users"_s << QString();
    QTest::newRow("posts") << u"/ws/posts"_s << u"posts"_s << QString();
    QTest::newRow("client id") << u"/ws/users?client_id=my-unique-id"_s << u"users"_s << u"my-unique-id"_s;
}

void tst_Server::seed004Greeting()
{
    QFETCH(QString, path);
    QFETCH(QString, channel);
    QFETCH(QString, clientId);
    auto c = client(path);
    QVERIFY(c);
    const auto hello = c->waitFor(u"connection"_s);
    QVERIFY(hello);
    QCOMPARE(hello->value("message"_L1).toString(), u"Connected to channel: "_s + channel);
    QCOMPARE(hello->value("channel"_L1).toString(), channel);
    QVERIFY(hello->value("timestamp"_L1).isString());
    const QString id = hello->value("client_id"_L1).toString();
    if (clientId.isEmpty())
        QCOMPARE(id.size(), 36); // UUID
    else
        QCOMPARE(id, clientId);
    // The greeting is the first frame.
    QCOMPARE(QJsonDocument::fromJson(c->raw().constFirst().toUtf8()).object().value("type"_L1).toString(),
             u"connection"_s);
}

void tst_Server::seed004StatsFrameAndEndpoint()
{
    auto a = client(u"/ws/users"_s);
    auto b = client(u"/ws/users"_s);
    auto d = client(u"/ws/users"_s);
    QVERIFY(a && b && d);
    QTRY_COMPARE(m_server->hub()->channelCounts().value(u"users"_s), 3);
    a->send({{"type"_L1, "get_stats"_L1}});
    const auto stats = a->waitFor(u"stats"_s);
    QVERIFY(stats);
    const QJsonObject data = stats->value("data"_L1).toObject();
    QCOMPARE(data.value("total_channels"_L1).toInt(), 1);
    QCOMPARE(data.value("channels"_L1).toObject().value("users"_L1).toInt(), 3);
    QCOMPARE(data.value("total_connections"_L1).toInt(), 3);

    for (const QString &path : {u"/ws/stats"_s, u"/api/stats"_s}) {
        const HttpResult r = http("GET", m_port, path);
        QCOMPARE(r.status, 200);
        QVERIFY(r.contentType.startsWith("application/json"));
        const QJsonObject o = r.json();
        QCOMPARE(o.value("total_channels"_L1).toInt(), 1);
        QCOMPARE(o.value("channels"_L1).toObject().value("users"_L1).toInt(), 3);
        QCOMPARE(o.value("total_connections"_L1).toInt(), 3);
        QCOMPARE(o.value("clients"_L1).toInt(), 3);
        QCOMPARE(o.value("subscribers"_L1).toInt(), 3);
    }
}

void tst_Server::pingPongOnEveryRoute_data()
{
    rowsOf<QString>("path", {{"native", u"/ws"_s},
                             {"seed003 client", u"/ws/client"_s},
                             {"seed003 server", u"/ws/server"_s},
                             {"seed004 channel", u"/ws/users"_s},
                             {"seed001 client id", u"/ws/some-client"_s}});
}

void tst_Server::pingPongOnEveryRoute()
{
    QFETCH(QString, path);
    auto c = client(path);
    QVERIFY(c);
    c->send({{"type"_L1, "ping"_L1}});
    const QJsonObject pong{{"message"_L1, "pong"_L1}};
    QCOMPARE(nextFrameLike(*c, u"pong"_s, pong), pong);
    c->send({{"type"_L1, "get_stats"_L1}});
    QVERIFY(c->waitFor(u"stats"_s));
}

void tst_Server::nativeQuerySubscribes()
{
    auto c = client(u"/ws?user_id=1&channels=alerts,news&client_id=tab-1"_s);
    QVERIFY(c);
    const auto hello = c->waitFor(u"connected"_s);
    QVERIFY(hello);
    QCOMPARE(hello->value("client_id"_L1).toString(), u"tab-1"_s);
    QStringList channels;
    for (const QJsonValue &v : hello->value("channels"_L1).toArray())
        channels.append(v.toString());
    QCOMPARE(channels, QStringList({u"user:1"_s, u"alerts"_s, u"news"_s}));

    QCOMPARE(http("POST", m_port, u"/api/publish"_s, R"({"channel":"user:1","title":"t","message":"for 1"})")
                 .status,
             202);
    QCOMPARE(http("POST", m_port, u"/api/publish"_s, R"({"channel":"other","message":"not mine"})").status,
             202);
    QCOMPARE(http("POST", m_port, u"/api/publish"_s, R"({"channel":"news","message":"news!"})").status, 202);
    const auto first = c->waitFor(u"message"_s);
    QVERIFY(first);
    QCOMPARE(first->value("message"_L1).toString(), u"for 1"_s);
    QCOMPARE(first->value("channel"_L1).toString(), u"user:1"_s);
    const auto second = c->waitFor(u"message"_s);
    QVERIFY(second);
    QCOMPARE(second->value("message"_L1).toString(), u"news!"_s);
    QVERIFY(second->value("id"_L1).toInteger() > first->value("id"_L1).toInteger());
    QVERIFY(c->noFrame(u"message"_s));
}

void tst_Server::nativeSubscribeUnsubscribe()
{
    auto c = client(u"/ws"_s);
    QVERIFY(c);
    c->send({{"action"_L1, "subscribe"_L1}, {"channel"_L1, "room"_L1}, {"ref"_L1, 7}});
    const auto ack = c->waitFor(u"subscribed"_s);
    QVERIFY(ack);
    QCOMPARE(ack->value("channel"_L1).toString(), u"room"_s);
    QCOMPARE(ack->value("ref"_L1).toInt(), 7);
    QTRY_COMPARE(m_server->hub()->channelCounts().value(u"room"_s), 1);
    QCOMPARE(m_server->hub()->counts().subscribers, 1);

    http("POST", m_port, u"/api/publish"_s, R"({"channel":"room","message":"one"})");
    QVERIFY(c->waitFor(u"message"_s));

    c->send({{"action"_L1, "unsubscribe"_L1}, {"channel"_L1, "room"_L1}});
    QVERIFY(c->waitFor(u"unsubscribed"_s));
    QTRY_COMPARE(m_server->hub()->counts().subscribers, 0);
    QVERIFY(!m_server->hub()->channelCounts().contains(u"room"_s));
    http("POST", m_port, u"/api/publish"_s, R"({"channel":"room","message":"two"})");
    QVERIFY(c->noFrame(u"message"_s));
}

void tst_Server::nativePublishAck()
{
    auto pub = client(u"/ws"_s);
    auto sub = client(u"/ws?channels=room"_s);
    QVERIFY(pub && sub);
    QVERIFY(sub->waitFor(u"connected"_s));
    pub->send({{"action"_L1, "publish"_L1},
               {"channel"_L1, "room"_L1},
               {"type"_L1, "alert"_L1},
               {"title"_L1, "T"_L1},
               {"data"_L1, QJsonObject{{"k"_L1, 1}}}});
    const auto ack = pub->waitFor(u"published"_s);
    QVERIFY(ack);
    const auto got = sub->waitFor(u"alert"_s);
    QVERIFY(got);
    QCOMPARE(got->value("id"_L1).toInteger(), ack->value("id"_L1).toInteger());
    QCOMPARE(got->value("title"_L1).toString(), u"T"_s);
    QCOMPARE(got->value("data"_L1).toObject().value("k"_L1).toInt(), 1);
    QVERIFY(got->value("timestamp"_L1).toString().endsWith(u'Z'));
}

void tst_Server::badFramesGetErrors_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("frame");
    QTest::addColumn<QString>("code");
    QTest::newRow("not json") << u"/ws"_s << u"hello"_s << u"invalid_json"_s;
    QTest::newRow("json array") << u"/ws"_s << u"[1]"_s << u"invalid_json"_s;
    QTest::newRow("no action") << u"/ws"_s << u"{\"message\":1}"_s << u"unknown_action"_s;
    QTest::newRow("unknown action") << u"/ws/client"_s << u"{\"action\":\"fly\"}"_s << u"unknown_action"_s;
    QTest::newRow("subscribe nothing") << u"/ws"_s << u"{\"action\":\"subscribe\"}"_s << u"bad_request"_s;
    QTest::newRow("subscribe bad channel")
        << u"/ws"_s << u"{\"action\":\"subscribe\",\"channel\":\"a b\"}"_s << u"bad_channel"_s;
    QTest::newRow("subscribe numeric channel")
        << u"/ws"_s << u"{\"action\":\"subscribe\",\"channel\":5}"_s << u"bad_request"_s;
    QTest::newRow("subscribe client channel")
        << u"/ws"_s << u"{\"action\":\"subscribe\",\"channel\":\"client:x\"}"_s << u"forbidden"_s;
    QTest::newRow("seed003 bad user")
        << u"/ws/client"_s << u"{\"action\":\"subscribe\",\"user_id\":{}}"_s << u"bad_request"_s;
    QTest::newRow("seed003 fractional user")
        << u"/ws/client"_s << u"{\"action\":\"subscribe\",\"user_id\":1.5}"_s << u"bad_request"_s;
    QTest::newRow("notify no message") << u"/ws/client"_s << u"{\"action\":\"notify\"}"_s << u"bad_request"_s;
    QTest::newRow("notify numeric") << u"/ws/client"_s << u"{\"action\":\"notify\",\"message\":3}"_s
                                    << u"bad_request"_s;
    QTest::newRow("chat no message") << u"/ws/abc"_s << u"{\"type\":\"chat\"}"_s << u"bad_request"_s;
    QTest::newRow("publish no channel")
        << u"/ws"_s << u"{\"action\":\"publish\",\"message\":\"x\"}"_s << u"bad_request"_s;
    QTest::newRow("publish bad channel")
        << u"/ws/users"_s << u"{\"action\":\"publish\",\"channel\":\"$$\",\"message\":\"x\"}"_s
        << u"bad_channel"_s;
    QTest::newRow("publish bad title")
        << u"/ws"_s << u"{\"action\":\"publish\",\"channel\":\"a\",\"title\":[]}"_s << u"bad_request"_s;
    QTest::newRow("disconnect nobody")
        << u"/ws/server"_s << u"{\"action\":\"disconnect\",\"client_id\":\"nope\"}"_s << u"not_found"_s;
}

void tst_Server::badFramesGetErrors()
{
    QFETCH(QString, path);
    QFETCH(QString, frame);
    QFETCH(QString, code);
    auto bystander = client(u"/ws?channels=watch"_s);
    auto c = client(path);
    QVERIFY(bystander && c);
    c->sendText(frame);
    const auto error = c->waitFor(u"error"_s);
    QVERIFY(error);
    QCOMPARE(error->value("code"_L1).toString(), code);
    QVERIFY(!error->value("message"_L1).toString().isEmpty());
    // The connection stays up and keeps working, and nobody else is affected.
    c->send({{"type"_L1, "ping"_L1}});
    QVERIFY(c->waitFor(u"pong"_s));
    QVERIFY(c->isConnected());
    http("POST", m_port, u"/api/publish"_s, R"({"channel":"watch","message":"still here"})");
    QVERIFY(bystander->waitFor(u"message"_s));
}

void tst_Server::badQueryChannelGetsErrorFrame()
{
    auto c = client(u"/ws?channels=ok,not%20ok"_s);
    QVERIFY(c);
    const QJsonObject error{
        {"code"_L1, "bad_channel"_L1},
        {"message"_L1, "invalid channel name 'not ok': use [A-Za-z0-9_.:-], 1 to 128 characters"_L1}};
    QCOMPARE(nextFrameLike(*c, u"error"_s, error), error);
    const auto hello = c->waitFor(u"connected"_s);
    QVERIFY(hello);
    QCOMPARE(hello->value("channels"_L1).toArray(), QJsonArray({u"ok"_s}));
    // docs/protocol.md: `connected` is the first frame, whatever the query held.
    QVERIFY(c->raw().size() >= 2);
    QCOMPARE(parseObject(c->raw().at(0).toUtf8()).value("type"_L1).toString(), u"connected"_s);
    QCOMPARE(parseObject(c->raw().at(1).toUtf8()).value("type"_L1).toString(), u"error"_s);
    c->sendBinary("\x01\x02"_ba);
    const auto binaryError = c->waitFor(u"error"_s);
    QVERIFY(binaryError);
    QCOMPARE(binaryError->value("code"_L1).toString(), u"invalid_json"_s);
    QVERIFY(c->isConnected());
}

void tst_Server::oversizedMessageCloses1009()
{
    auto bystander = client(u"/ws?channels=watch"_s);
    auto c = client(u"/ws"_s);
    QVERIFY(c && bystander);
    c->sendText(QString(5000, u'x')); // the test server allows 4096 bytes
    QVERIFY(c->waitDisconnected());
    QCOMPARE(c->closeCode(), 1009);
    http("POST", m_port, u"/api/publish"_s, R"({"channel":"watch","message":"fine"})");
    QVERIFY(bystander->waitFor(u"message"_s));
}

void tst_Server::handshakeRejections_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<QByteArray>("statusLine");
    const QByteArray upgrade =
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    QTest::newRow("nested path") << QByteArray("GET /ws/a/b HTTP/1.1\r\nHost: localhost\r\n" + upgrade +
                                               "Sec-WebSocket-Version: 13\r\n\r\n")
                                 << "HTTP/1.1 404"_ba;
    QTest::newRow("bad client id") << QByteArray("GET /ws/bad%20id HTTP/1.1\r\nHost: localhost\r\n" +
                                                 upgrade + "Sec-WebSocket-Version: 13\r\n\r\n")
                                   << "HTTP/1.1 400"_ba;
    QTest::newRow("bad query client id")
        << QByteArray("GET /ws?client_id=%3Cx%3E HTTP/1.1\r\nHost: localhost\r\n" + upgrade +
                      "Sec-WebSocket-Version: 13\r\n\r\n")
        << "HTTP/1.1 400"_ba;
    QTest::newRow("old version") << QByteArray("GET /ws HTTP/1.1\r\nHost: localhost\r\n" + upgrade +
                                               "Sec-WebSocket-Version: 8\r\n\r\n")
                                 << "HTTP/1.1 426"_ba;
    QTest::newRow("no key")
        << "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n"_ba
        << "HTTP/1.1 400"_ba;
    QTest::newRow("garbage") << "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"_ba
                             << "HTTP/1.1 400"_ba;
    QTest::newRow("huge head") << QByteArray("GET / HTTP/1.1\r\nX: " + QByteArray(20000, 'a') + "\r\n\r\n")
                               << "HTTP/1.1 431"_ba;
}

void tst_Server::handshakeRejections()
{
    QFETCH(QByteArray, request);
    QFETCH(QByteArray, statusLine);
    const QByteArray reply = rawExchange(m_port, request);
    QVERIFY2(reply.startsWith(statusLine), reply.left(200).constData());
    const QByteArray body = reply.mid(reply.indexOf("\r\n\r\n") + 4);
    QVERIFY2(parseObject(body).contains("error"_L1), body.constData());
    QCOMPARE(m_server->hub()->counts().clients, 0);
}

void tst_Server::restPublish_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("error");
    QTest::newRow("ok") << R"({"channel":"news","message":"hi"})"_ba << 202 << QString();
    QTest::newRow("ok full")
        << R"({"channel":"user:1","type":"alert","title":"T","message":"m","data":{"a":[1]}})"_ba << 202
        << QString();
    QTest::newRow("not json") << "channel=news"_ba << 400 << u"invalid_json"_s;
    QTest::newRow("array") << "[]"_ba << 400 << u"invalid_json"_s;
    QTest::newRow("no channel") << R"({"message":"x"})"_ba << 422 << u"bad_request"_s;
    QTest::newRow("numeric channel") << R"({"channel":1})"_ba << 422 << u"bad_request"_s;
    QTest::newRow("bad channel") << R"({"channel":"a/b"})"_ba << 422 << u"bad_channel"_s;
    QTest::newRow("bad type") << R"({"channel":"a","type":{}})"_ba << 422 << u"bad_request"_s;
    QTest::newRow("too large") << QByteArray(R"({"channel":"a","message":")" + QByteArray(5000, 'x') +
                                             R"("})")
                               << 413 << u"too_large"_s;
}

void tst_Server::restPublish()
{
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QString, error);
    const qint64 before = m_server->hub()->lastId();
    const HttpResult r = http("POST", m_port, u"/api/publish"_s, body);
    QCOMPARE(r.status, status);
    const QJsonObject o = r.json();
    if (error.isEmpty()) {
        QCOMPARE(o.value("id"_L1).toInteger(), before + 1);
    } else {
        QCOMPARE(o.value("error"_L1).toString(), error);
        QVERIFY(o.value("detail"_L1).isString());
        QCOMPARE(m_server->hub()->lastId(), before);
    }
}

void tst_Server::restPublishExcludesClient()
{
    auto me = client(u"/ws?channels=users&client_id=me"_s);
    auto other = client(u"/ws?channels=users&client_id=other"_s);
    QVERIFY(me && other);
    QVERIFY(me->waitFor(u"connected"_s) && other->waitFor(u"connected"_s));
    const HttpResult r =
        http("POST", m_port, u"/api/publish"_s, R"({"channel":"users","type":"created","data":{"id":1}})",
             {{"X-Client-Id", "me"}});
    QCOMPARE(r.status, 202);
    QVERIFY(other->waitFor(u"created"_s));
    QVERIFY(me->noFrame(u"created"_s));
}

namespace {
// A non-blocking loopback connection, for looking at what the kernel holds for a client at one moment.
int rawConnect(quint16 port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a); // EINPROGRESS; loopback completes at once
    return fd;
}

// Sends all of it once the connection is up (QTRY_* evaluates its expression twice: no sends in there).
bool sendAll(int fd, const QByteArray &bytes)
{
    QDeadlineTimer deadline(5000);
    while (!deadline.hasExpired()) {
        if (::send(fd, bytes.constData(), size_t(bytes.size()), MSG_NOSIGNAL) == bytes.size())
            return true;
        QTest::qWait(5);
    }
    return false;
}

// Everything the kernel holds for this connection now, without waiting.
QByteArray readAvailable(int fd)
{
    QByteArray out;
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n <= 0)
            return out;
        out.append(buffer, n);
    }
}
} // namespace

void tst_Server::publishWindowAnswersAfterFanout_data()
{
    QTest::addColumn<int>("window");
    QTest::addColumn<qint64>("maxQueued");
    QTest::newRow("--publish-window 1") << 1 << qint64(16384);
    // The flood valve: over maxQueuedMessages queued, answers wait as with a window of 1 (-1: always over).
    QTest::newRow("queue over its limit") << 0 << qint64(-1);
}

// --publish-window 1: a REST publish is answered once every subscriber's socket has the message (as nchan
// does), so a client that has the answer finds the message already waiting at every subscriber.
void tst_Server::publishWindowAnswersAfterFanout()
{
    QFETCH(int, window);
    QFETCH(qint64, maxQueued);
    m_server.reset();
    m_server = startTestServer(m_dir->path(), [&](Herald::ServerConfig &c) {
        c.publishWindow = window;
        c.maxQueuedMessages = maxQueued;
    });
    QVERIFY(m_server);
    const quint16 port = m_server->port();

    constexpr int Subscribers = 200; // over both workers
    std::vector<int> subscribers;
    const auto closeAll = qScopeGuard([&] {
        for (int fd : subscribers)
            ::close(fd);
    });
    const QByteArray upgrade = "GET /ws?channels=window HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               "Sec-WebSocket-Version: 13\r\n\r\n";
    for (int i = 0; i < Subscribers; ++i) {
        const int fd = rawConnect(port);
        QVERIFY(fd >= 0);
        subscribers.push_back(fd);
        QVERIFY(sendAll(fd, upgrade));
    }
    QTRY_COMPARE(m_server->hub()->channelCounts().value(u"window"_s), Subscribers);
    // Their welcome frames, whenever they come, are not what is looked for below.
    std::vector<QByteArray> received(Subscribers);

    const int publisher = rawConnect(port);
    const auto closePublisher = qScopeGuard([&] { ::close(publisher); });
    // A first request while the event loop runs, so that the listener (on this thread) hands the connection
    // to a worker; the rounds below then wait in poll() alone.
    const QByteArray health = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    QVERIFY(sendAll(publisher, health));
    QByteArray first;
    QTRY_VERIFY((first += readAvailable(publisher)).endsWith("}"));
    QVERIFY2(first.startsWith("HTTP/1.1 200") && first.contains("keep-alive"), first.constData());
    for (int round = 0; round < 10; ++round) {
        const QByteArray marker = "marker-" + QByteArray::number(round);
        const QByteArray body = R"({"channel":"window","message":")" + marker + R"("})";
        QByteArray request =
            "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: " +
            QByteArray::number(body.size()) + "\r\n\r\n" + body;
        QVERIFY(sendAll(publisher, request));
        // Waits in poll(), not in the event loop: the subscribers are looked at the moment the answer is in.
        QByteArray answer;
        for (QDeadlineTimer deadline(5000); !answer.endsWith("}") && !deadline.hasExpired();) {
            pollfd p{publisher, POLLIN, 0};
            ::poll(&p, 1, int(deadline.remainingTime()));
            answer += readAvailable(publisher);
        }
        QVERIFY2(answer.startsWith("HTTP/1.1 202"), answer.constData());
        QVERIFY(answer.contains("keep-alive"));
        // No waiting here: the message must be in every subscriber's socket already.
        for (int i = 0; i < Subscribers; ++i) {
            received[size_t(i)] += readAvailable(subscribers[size_t(i)]);
            QVERIFY2(received[size_t(i)].contains(marker),
                     qPrintable(u"subscriber %1 has no %2 yet"_s.arg(i).arg(QString::fromLatin1(marker))));
        }
    }

    // Two publishes pipelined in one write: the second answer waits for its own fan-out, in order.
    QByteArray twice;
    for (const char *m : {"first", "second"}) {
        const QByteArray body = R"({"channel":"window","message":")" + QByteArray(m) + R"("})";
        twice += "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 "Content-Length: " +
                 QByteArray::number(body.size()) + "\r\n\r\n" + body;
    }
    QVERIFY(sendAll(publisher, twice));
    QByteArray answers;
    QTRY_COMPARE((answers += readAvailable(publisher)).count("HTTP/1.1 202"), 2);
    for (int i = 0; i < Subscribers; ++i) {
        received[size_t(i)] += readAvailable(subscribers[size_t(i)]);
        QVERIFY(received[size_t(i)].contains("second"));
        QVERIFY(received[size_t(i)].indexOf("first") < received[size_t(i)].indexOf("second"));
    }
    // Every queued message was counted out again: a leak would hold every answer for good.
    QTRY_COMPARE(m_server->hub()->queuedMessages(), 0);
}

namespace {
QByteArray publishRequest(const QString &channel, const QString &text)
{
    const QByteArray body = QJsonDocument(QJsonObject{{"channel"_L1, channel}, {"message"_L1, text}})
                                .toJson(QJsonDocument::Compact);
    return "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
           "application/json\r\nContent-Length: " +
           QByteArray::number(body.size()) + "\r\n\r\n" + body;
}

// The ids of the 202 answers in a stream of keep-alive answers, in order; -1 for any other answer.
QList<qint64> answeredIds(const QByteArray &answers)
{
    QList<qint64> ids;
    static const QRegularExpression answer(uR"(HTTP/1\.1 (\d+)[^{]*\{[^}]*?"id":(\d+))"_s);
    for (auto it = answer.globalMatch(QString::fromLatin1(answers)); it.hasNext();) {
        const auto m = it.next();
        ids.append(m.captured(1) == u"202"_s ? m.captured(2).toLongLong() : -1);
    }
    return ids;
}
} // namespace

// A publish on a stored channel over keep-alive joins a group commit; its 202 still means "stored" (SPEC).
void tst_Server::groupCommitStoresBeforeAnswering()
{
    const int publisher = rawConnect(m_port);
    const auto closePublisher = qScopeGuard([&] { ::close(publisher); });
    const QString channel = u"grouped"_s;
    QVERIFY(m_server->hub()->history()->isPersistent(channel));
    for (int i = 0; i < 20; ++i) {
        QVERIFY(sendAll(publisher, publishRequest(channel, u"m%1"_s.arg(i))));
        QByteArray answer;
        QTRY_VERIFY((answer += readAvailable(publisher)).endsWith("}"));
        const QList<qint64> ids = answeredIds(answer);
        QCOMPARE(ids.size(), 1);
        QVERIFY2(ids.first() > 0, answer.constData());
        // At once, no waiting: the answer came, so the message is in the store.
        const auto stored = m_server->hub()->history()->history(channel, ids.first() - 1, 0, 10);
        QVERIFY(stored);
        QCOMPARE(stored->messages.size(), 1);
        QCOMPARE(stored->messages.first().id, ids.first());
    }
}

// Many publishers at once on keep-alive connections: every publish is answered, in order per connection, with
// an id of its own; subscribers get them all in id order; the store has them all.
void tst_Server::groupCommitKeepsIdOrder()
{
    auto subscriber = client(u"/ws?channels=ordered"_s);
    QVERIFY(subscriber);
    QVERIFY(subscriber->waitFor(u"connected"_s));

    constexpr int Connections = 8;
    constexpr int PerConnection = 40;
    std::vector<int> publishers;
    const auto closeAll = qScopeGuard([&] {
        for (int fd : publishers)
            ::close(fd);
    });
    for (int c = 0; c < Connections; ++c) {
        publishers.push_back(rawConnect(m_port));
        QByteArray pipelined; // answered one by one, each after its commit
        for (int i = 0; i < PerConnection; ++i)
            pipelined += publishRequest(u"ordered"_s, u"c%1-%2"_s.arg(c).arg(i));
        QVERIFY(sendAll(publishers.back(), pipelined));
    }
    std::vector<QByteArray> answers(Connections);
    QSet<qint64> all;
    for (int c = 0; c < Connections; ++c) {
        QTRY_COMPARE_WITH_TIMEOUT(
            answeredIds(answers[size_t(c)] += readAvailable(publishers[size_t(c)])).size(), PerConnection,
            20000);
        const QList<qint64> ids = answeredIds(answers[size_t(c)]);
        QVERIFY2(!ids.contains(-1), answers[size_t(c)].constData());
        QVERIFY(std::is_sorted(ids.cbegin(), ids.cend()));
        for (qint64 id : ids)
            all.insert(id);
    }
    QCOMPARE(all.size(), Connections * PerConnection);

    QList<qint64> delivered;
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            delivered.clear();
            for (const QJsonObject &f : subscriber->frames()) {
                if (f.value("type"_L1).toString() == u"message"_s)
                    delivered.append(f.value("id"_L1).toInteger());
            }
            return delivered.size() >= Connections * PerConnection;
        }(),
        20000);
    QCOMPARE(delivered.size(), Connections * PerConnection);
    QVERIFY(std::adjacent_find(delivered.cbegin(), delivered.cend(), std::greater_equal<>()) ==
            delivered.cend());
    QCOMPARE(QSet<qint64>(delivered.cbegin(), delivered.cend()), all);

    // Not asserted (it depends on timing): how many went through a group commit.
    qInfo("group commits: %lld, of %lld publishes",
          Herald::Metrics::get(m_server->hub()->metrics().groupCommits),
          Herald::Metrics::get(m_server->hub()->metrics().groupCommitted));
    const auto stored = m_server->hub()->history()->history(u"ordered"_s, 0, 0, 1000);
    QVERIFY(stored);
    QCOMPARE(stored->messages.size(), Connections * PerConnection);
}

void tst_Server::healthMetricsAndPages()
{
    auto c = client(u"/ws?channels=a"_s);
    QVERIFY(c);
    QTRY_COMPARE(m_server->hub()->counts().clients, 1);
    const HttpResult health = http("GET", m_port, u"/healthz"_s);
    QCOMPARE(health.status, 200);
    QCOMPARE(health.json().value("status"_L1).toString(), u"ok"_s);

    http("POST", m_port, u"/api/publish"_s, R"({"channel":"a","message":"m"})");
    QVERIFY(c->waitFor(u"message"_s));
    const HttpResult metrics = http("GET", m_port, u"/metrics"_s);
    QCOMPARE(metrics.status, 200);
    QVERIFY(metrics.contentType.startsWith("text/plain"));
    QVERIFY(metrics.body.contains("herald_connections{transport=\"websocket\"} 1\n"));
    QVERIFY(metrics.body.contains("herald_connections{transport=\"sse\"} 0\n"));
    QVERIFY(metrics.body.contains("herald_clients 1\n"));
    QVERIFY(metrics.body.contains("herald_subscribers 1\n"));
    QVERIFY(metrics.body.contains("herald_messages_in_total 1\n"));
    QVERIFY(metrics.body.contains("herald_messages_out_total 1\n"));
    QVERIFY(metrics.body.contains("# TYPE herald_messages_out_total counter\n"));

    const HttpResult page = http("GET", m_port, u"/?user_id=1"_s);
    QCOMPARE(page.status, 200);
    QVERIFY(page.contentType.startsWith("text/html"));
    QVERIFY(page.body.contains("<title>Herald</title>"));
    const HttpResult css = http("GET", m_port, u"/static/bootstrap/css/bootstrap.min.css"_s);
    QCOMPARE(css.status, 200);
    QVERIFY(css.body.contains("Bootstrap"));
    const HttpResult sound = http("GET", m_port, u"/static/notification.wav"_s);
    QCOMPARE(sound.status, 200);
    QVERIFY(sound.body.startsWith("RIFF"));
    const HttpResult missing = http("GET", m_port, u"/nope"_s);
    QCOMPARE(missing.status, 404);
    QCOMPARE(missing.json().value("error"_L1).toString(), u"not_found"_s);
    QCOMPARE(http("GET", m_port, u"/static/../CMakeLists.txt"_s).status, 404);
}

void tst_Server::adminFeed()
{
    auto admin = client(u"/ws/server"_s);
    QVERIFY(admin);
    const auto snapshot = admin->waitFor(u"snapshot"_s);
    QVERIFY(snapshot);
    QCOMPARE(snapshot->value("clients"_L1).toInt(), 0);
    QVERIFY(admin->waitFor(u"counts"_s));

    auto c = client(u"/ws?client_id=watched&user_id=7"_s);
    QVERIFY(c);
    const auto connected = admin->waitFor(u"client_connected"_s);
    QVERIFY(connected);
    QCOMPARE(connected->value("client"_L1).toObject().value("client_id"_L1).toString(), u"watched"_s);
    const QJsonObject subscribed{{"channel"_L1, "user:7"_L1}};
    QCOMPARE(nextFrameLike(*admin, u"client_subscribed"_s, subscribed), subscribed);
    const QJsonObject counts{{"clients"_L1, 1}};
    QCOMPARE(nextFrameLike(*admin, u"counts"_s, counts), counts);

    // Admin publishes to a user, the user gets it, the feed sees every message.
    admin->send({{"action"_L1, "publish"_L1}, {"user_id"_L1, "7"_L1}, {"message"_L1, "from admin"_L1}});
    QVERIFY(admin->waitFor(u"published"_s));
    const QJsonObject got{{"message"_L1, "from admin"_L1}};
    QCOMPARE(nextFrameLike(*c, u"message"_s, got), got);
    QVERIFY(admin->waitFor(u"message"_s));

    admin->send(
        {{"action"_L1, "broadcast"_L1}, {"type"_L1, "maintenance"_L1}, {"message"_L1, "restart soon"_L1}});
    QVERIFY(c->waitFor(u"maintenance"_s));

    c->close();
    const QJsonObject gone{{"client_id"_L1, "watched"_L1}};
    QCOMPARE(nextFrameLike(*admin, u"client_disconnected"_s, gone), gone);
}

void tst_Server::adminDisconnectsClient()
{
    auto admin = client(u"/ws/server"_s);
    auto victim = client(u"/ws/victim"_s);
    QVERIFY(admin && victim);
    admin->send({{"action"_L1, "disconnect"_L1}, {"client_id"_L1, "victim"_L1}});
    const QJsonObject ack{{"connections"_L1, 1}};
    QCOMPARE(nextFrameLike(*admin, u"disconnected"_s, ack), ack);
    QVERIFY(victim->waitDisconnected());
    QCOMPARE(victim->closeCode(), 4001);
    QTRY_COMPARE(m_server->hub()->counts().clients, 0);
}

void tst_Server::adminDisconnectsClientOnItsThread_data()
{
    QTest::addColumn<QStringList>("targets"); // the connections of client "target"
    QTest::newRow("native") << QStringList{u"/ws?client_id=target"_s};
    QTest::newRow("seed chat") << QStringList{u"/ws/target"_s};
    QTest::newRow("two connections") << QStringList{u"/ws?client_id=target"_s, u"/ws/target"_s};
    QTest::newRow("sse") << QStringList{u"/events?client_id=target"_s};
}

// A kick of a client on the admin feed's own I/O thread used to close it there and then, under the hub's
// workers lock, and the admin event of that close took the lock again: the thread froze for good. One I/O
// thread puts every connection on the admin's.
void tst_Server::adminDisconnectsClientOnItsThread()
{
    QFETCH(QStringList, targets);
    m_server.reset();
    m_server = startTestServer(m_dir->path(), [](Herald::ServerConfig &c) { c.workerThreads = 1; });
    QVERIFY(m_server);
    m_port = m_server->port();
    // A frozen I/O thread cannot be joined: leave that server behind, so the failure is reported instead of
    // cleanup() hanging.
    const auto abandonIfFailed = qScopeGuard([this] {
        if (QTest::currentTestFailed())
            (void)m_server.release();
    });

    auto admin = client(u"/ws/server"_s);
    QVERIFY(admin);
    QVERIFY(admin->waitFor(u"snapshot"_s));
    auto bystander = client(u"/ws?client_id=bystander&channels=news"_s);
    QVERIFY(bystander);
    std::vector<std::unique_ptr<WsClient>> wsTargets;
    std::vector<std::unique_ptr<QTcpSocket>> sseTargets;
    for (const QString &path : std::as_const(targets)) {
        if (!path.startsWith(u"/events"_s)) {
            wsTargets.push_back(client(path));
            QVERIFY(wsTargets.back());
            continue;
        }
        auto stream = std::make_unique<QTcpSocket>();
        stream->connectToHost(u"127.0.0.1"_s, m_port);
        QTRY_VERIFY(stream->state() == QAbstractSocket::ConnectedState);
        stream->write("GET " + path.toLatin1() +
                      " HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n");
        QByteArray head;
        QTRY_VERIFY((head += stream->readAll()).contains("retry: "));
        sseTargets.push_back(std::move(stream));
    }
    // Every connect announced and counted first, so the kick is all that is in flight.
    const int clients = 1 + int(targets.size());
    for (int i = 0; i < clients; ++i)
        QVERIFY(admin->waitFor(u"client_connected"_s));
    bool counted = false;
    while (!counted) {
        const auto counts = admin->waitFor(u"counts"_s);
        QVERIFY(counts);
        counted = counts->value("clients"_L1).toInt() == clients;
    }

    admin->send({{"action"_L1, "disconnect"_L1}, {"client_id"_L1, "target"_L1}});
    for (const auto &c : wsTargets) {
        QVERIFY(c->waitDisconnected());
        QCOMPARE(c->closeCode(), 4001);
    }
    for (const auto &stream : sseTargets)
        QTRY_VERIFY_WITH_TIMEOUT(stream->state() == QAbstractSocket::UnconnectedState, 5000);
    const auto ack = admin->waitFor(u"disconnected"_s);
    QVERIFY2(ack, "no answer to the kick: the admin's I/O thread is stuck");
    QCOMPARE(ack->value("client_id"_L1).toString(), u"target"_s);
    QCOMPARE(ack->value("connections"_L1).toInt(), int(targets.size()));
    for (qsizetype i = 0; i < targets.size(); ++i) {
        const auto gone = admin->waitFor(u"client_disconnected"_s);
        QVERIFY(gone);
        QCOMPARE(gone->value("client_id"_L1).toString(), u"target"_s);
    }
    QTRY_COMPARE(m_server->hub()->counts().clients, 1);

    // The thread still serves everyone else, and the server still stops.
    QCOMPARE(http("GET", m_port, u"/healthz"_s).status, 200);
    QCOMPARE(http("POST", m_port, u"/api/publish"_s, R"({"channel":"news","message":"still here"})").status,
             202);
    QVERIFY(bystander->waitFor(u"message"_s));
    QSignalSpy stopped(m_server.get(), &Herald::Server::stopped);
    m_server->stop();
    QTRY_COMPARE_WITH_TIMEOUT(stopped.size(), 1, 5000);
    QVERIFY(admin->waitDisconnected());
    QCOMPARE(admin->closeCode(), 1001);
}

void tst_Server::sseNamedAndSeedStreams()
{
    QTcpSocket named;
    QTcpSocket seed;
    named.connectToHost(u"127.0.0.1"_s, m_port);
    seed.connectToHost(u"127.0.0.1"_s, m_port);
    QTRY_VERIFY(named.state() == QAbstractSocket::ConnectedState &&
                seed.state() == QAbstractSocket::ConnectedState);
    named.write("GET /events?user_id=1&channels=news HTTP/1.1\r\nHost: localhost\r\nAccept: "
                "text/event-stream\r\n\r\n");
    seed.write("GET /events/1 HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n");
    QByteArray a, b;
    QTRY_VERIFY((a += named.readAll()).contains("retry: 3000\n"));
    QTRY_VERIFY((b += seed.readAll()).contains("retry: 3000\n"));
    QVERIFY(a.startsWith("HTTP/1.1 200 OK\r\n"));
    QVERIFY(a.contains("Content-Type: text/event-stream"));
    QTRY_COMPARE(m_server->hub()->counts().clients, 2);

    const HttpResult r = http("POST", m_port, u"/api/publish"_s,
                              R"({"channel":"user:1","type":"notification","message":"sse!"})");
    QCOMPARE(r.status, 202);
    const QByteArray id = QByteArray::number(r.json().value("id"_L1).toInteger());
    QTRY_VERIFY((a += named.readAll()).contains("data: "));
    QVERIFY2(a.contains(QByteArray("id: " + id + "\nevent: notification\ndata: {")), a.constData());
    QTRY_VERIFY((b += seed.readAll()).contains("data: "));
    QVERIFY2(b.contains(QByteArray("id: " + id + "\ndata: {")), b.constData());
    QVERIFY(!b.contains("event: "));
    const QByteArray data = a.mid(a.indexOf("data: ") + 6);
    QCOMPARE(parseObject(data.left(data.indexOf('\n'))).value("message"_L1).toString(), u"sse!"_s);

    http("POST", m_port, u"/api/publish"_s, R"({"channel":"news","message":"headline"})");
    QTRY_VERIFY((a += named.readAll()).contains("headline"));
    named.abort();
    seed.abort();
    QTRY_COMPARE(m_server->hub()->counts().clients, 0);
}

void tst_Server::gracefulStopSends1001()
{
    auto a = client(u"/ws"_s);
    auto b = client(u"/ws/users"_s);
    QVERIFY(a && b);
    QSignalSpy stopped(m_server.get(), &Herald::Server::stopped);
    QElapsedTimer t;
    t.start();
    m_server->stop();
    QVERIFY(a->waitDisconnected());
    QVERIFY(b->waitDisconnected());
    QCOMPARE(a->closeCode(), 1001);
    QCOMPARE(b->closeCode(), 1001);
    QTRY_COMPARE_WITH_TIMEOUT(stopped.size(), 1, 5000);
    QVERIFY(t.elapsed() < 5000);
}

void tst_Server::nativeCountsOption()
{
    // /ws?counts=1 gets the counts at once and on every change; a plain /ws gets none.
    auto watcher = client(u"/ws?counts=1&channels=news"_s);
    auto plain = client(u"/ws"_s);
    QVERIFY(watcher && plain);
    QVERIFY(watcher->waitFor(u"connected"_s));
    const auto first = watcher->waitFor(u"counts"_s);
    QVERIFY(first);
    QVERIFY(first->contains("clients"_L1) && first->contains("subscribers"_L1));
    auto third = client(u"/ws?channels=other"_s);
    QVERIFY(third);
    QTRY_VERIFY(std::any_of(watcher->frames().cbegin(), watcher->frames().cend(), [](const QJsonObject &f) {
        return f.value("type"_L1).toString() == u"counts"_s && f.value("clients"_L1).toInt() == 3 &&
               f.value("subscribers"_L1).toInt() == 2;
    }));
    QVERIFY(plain->noFrame(u"counts"_s));
}

void tst_Server::pageCountsCarryChannelTotal()
{
    // A page's counts (/ws?counts=1, /events?counts=1) carry the live channel total and are pushed when only
    // that changes; seed 003's /ws/client frame keeps its shape and is not pushed for it.
    auto page = client(u"/ws?counts=1&channels=news"_s);
    auto seed = client(u"/ws/client"_s);
    QVERIFY(page && seed);
    const auto first = page->waitFor(u"counts"_s);
    QVERIFY(first);
    QVERIFY(first->contains("channels"_L1));
    QVERIFY(seed->waitFor(u"counts"_s));
    QTRY_COMPARE(m_server->hub()->counts().clients, 2);
    QTest::qWait(100); // the connects' pushes are out
    const qsizetype seedFrames = seed->frames().size();
    const auto channelsIs = [&](int n) {
        return std::any_of(page->frames().cbegin(), page->frames().cend(), [n](const QJsonObject &f) {
            return f.value("type"_L1).toString() == u"counts"_s && f.value("channels"_L1).toInt() == n;
        });
    };
    QTRY_VERIFY(channelsIs(1));

    // The page subscribes to a second channel: the same clients and subscribers, one channel more.
    page->send({{"action"_L1, "subscribe"_L1}, {"channel"_L1, "alerts"_L1}});
    QTRY_VERIFY(channelsIs(2));
    QTest::qWait(100);
    QCOMPARE(seed->frames().size(), seedFrames);
    for (const QJsonObject &f : std::as_const(seed->frames()))
        QCOMPARE(f.keys(), QStringList({u"clients"_s, u"subscribers"_s, u"type"_s}));

    // The same frames on an event stream with ?counts=1, as unnamed events; it counts as one client.
    QTcpSocket sse;
    sse.connectToHost(u"127.0.0.1"_s, m_port);
    QTRY_VERIFY(sse.state() == QAbstractSocket::ConnectedState);
    sse.write("GET /events?user_id=7&counts=1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    QByteArray got;
    QTRY_VERIFY((got += sse.readAll()).contains("data: {"));
    const int at = got.indexOf("data: {");
    QVERIFY2(at > 0 && got.at(at - 1) == '\n' && !got.left(at).endsWith("event: counts\n"), got.constData());
    const QJsonObject counts = parseObject(got.mid(at + 6, got.indexOf('\n', at) - at - 6));
    QCOMPARE(counts.value("type"_L1).toString(), u"counts"_s);
    QCOMPARE(counts.value("clients"_L1).toInt(), 3);
    QCOMPARE(counts.value("channels"_L1).toInt(), 3); // news, alerts, user:7
    QTRY_VERIFY(channelsIs(3));
    sse.abort();
    QTRY_VERIFY(channelsIs(2));
}

// ChannelSet: a sorted list while small, a tree past SmallSize. Whatever the order of inserts and removes,
// and across that boundary both ways, it holds each name once and gives them in order.
void tst_Server::channelSet_data()
{
    QTest::addColumn<int>("count");
    QTest::newRow("one") << 1;
    QTest::newRow("small") << int(Herald::ChannelSet::SmallSize);
    QTest::newRow("one past small") << int(Herald::ChannelSet::SmallSize) + 1;
    QTest::newRow("thousands") << 3000;
}

void tst_Server::channelSet()
{
    QFETCH(int, count);
    QStringList names;
    for (int i = 0; i < count; ++i)
        names.append(u"ch.%1"_s.arg((i * 7919) % 100003)); // a scrambled order
    Herald::ChannelSet set;
    QVERIFY(set.isEmpty());
    for (const QString &n : std::as_const(names)) {
        QVERIFY(set.insert(n));
        QVERIFY(!set.insert(n));
    }
    QCOMPARE(set.size(), count);
    QStringList sorted = names;
    sorted.sort();
    QCOMPARE(set.toList(), sorted);
    QStringList iterated;
    for (const QString &n : set)
        iterated.append(n);
    QCOMPARE(iterated, sorted);
    const Herald::ChannelSet copy = set; // shares, then stays as it was
    for (qsizetype i = 0; i < names.size(); i += 2)
        QVERIFY(set.remove(names.at(i)));
    QVERIFY(!set.remove(names.at(0)));
    QCOMPARE(copy.size(), count);
    for (qsizetype i = 0; i < names.size(); ++i) {
        QCOMPARE(set.contains(names.at(i)), i % 2 == 1);
        QVERIFY(copy.contains(names.at(i)));
    }
    QCOMPARE(set.size(), count / 2);
    for (qsizetype i = 1; i < names.size(); i += 2)
        QVERIFY(set.remove(names.at(i)));
    QVERIFY(set.isEmpty());
    QVERIFY(set.toList().isEmpty());
    QVERIFY(!(set.begin() != set.end()));
    // Empty again: it grows as a new one does.
    QVERIFY(set.insert(u"b"_s));
    QVERIFY(set.insert(u"a"_s));
    QCOMPARE(set.toList(), (QStringList{u"a"_s, u"b"_s}));
}

// Every REST error says what was wrong with this request: where the JSON broke, which channel, which methods
// the route has (405 with Allow, not 404), and an empty notification is refused.
void tst_Server::restAnswersSayWhat_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("detail");
    QTest::addColumn<QByteArray>("allow");
    const QString publish = u"/api/publish"_s;
    QTest::newRow("truncated JSON") << "POST"_ba << publish << R"({"channel":"news")"_ba << 400
                                    << u"invalid_json"_s << u"invalid JSON at offset 17"_s << QByteArray();
    QTest::newRow("JSON array") << "POST"_ba << publish << R"([{"channel":"news"}])"_ba << 400
                                << u"invalid_json"_s << u"the body must be an object, not an array"_s
                                << QByteArray();
    QTest::newRow("bad channel") << "POST"_ba << publish << R"({"channel":"a b","message":"m"})"_ba << 422
                                 << u"bad_channel"_s << u"invalid channel name 'a b'"_s << QByteArray();
    QTest::newRow("bad channel event")
        << "POST"_ba << u"/api/channels/a%20b/events"_s << R"({"type":"t"})"_ba << 422 << u"bad_channel"_s
        << u"invalid channel name 'a b'"_s << QByteArray();
    QTest::newRow("bad channel history")
        << "GET"_ba << u"/api/channels/a%20b/history"_s << QByteArray() << 422 << u"bad_channel"_s
        << u"invalid channel name 'a b'"_s << QByteArray();
    QTest::newRow("empty notification") << "POST"_ba << publish << R"({"channel":"news"})"_ba << 422
                                        << u"bad_request"_s << u"nothing to publish"_s << QByteArray();
    QTest::newRow("type only") << "POST"_ba << publish << R"({"channel":"news","type":"alert"})"_ba << 422
                               << u"bad_request"_s << u"nothing to publish"_s << QByteArray();
    QTest::newRow("empty strings") << "POST"_ba << publish
                                   << R"({"channel":"news","title":"","message":""})"_ba << 422
                                   << u"bad_request"_s << u"nothing to publish"_s << QByteArray();
    QTest::newRow("data only") << "POST"_ba << publish << R"({"channel":"news","data":{"n":1}})"_ba << 202
                               << QString() << QString() << QByteArray();
    QTest::newRow("title only") << "POST"_ba << publish << R"({"channel":"news","title":"T"})"_ba << 202
                                << QString() << QString() << QByteArray();
    QTest::newRow("empty broadcast") << "POST"_ba << u"/api/broadcast"_s << R"({"type":"maintenance"})"_ba
                                     << 422 << u"bad_request"_s << u"nothing to publish"_s << QByteArray();
    QTest::newRow("GET publish") << "GET"_ba << publish << QByteArray() << 405 << u"method_not_allowed"_s
                                 << u"/api/publish answers POST"_s << "POST"_ba;
    QTest::newRow("PUT publish") << "PUT"_ba << publish << R"({"channel":"news","message":"m"})"_ba << 405
                                 << u"method_not_allowed"_s << QString() << "POST"_ba;
    QTest::newRow("DELETE channels") << "DELETE"_ba << u"/api/channels"_s << QByteArray() << 405
                                     << u"method_not_allowed"_s << QString() << "GET, HEAD"_ba;
    QTest::newRow("POST healthz") << "POST"_ba << u"/healthz"_s << "{}"_ba << 405 << u"method_not_allowed"_s
                                  << QString() << "GET, HEAD"_ba;
    QTest::newRow("GET read mark") << "GET"_ba << u"/api/notifications/3/read"_s << QByteArray() << 405
                                   << u"method_not_allowed"_s << QString() << "POST"_ba;
    QTest::newRow("GET history of an arg") << "POST"_ba << u"/api/channels/news/history"_s << "{}"_ba << 405
                                           << u"method_not_allowed"_s << QString() << "GET, HEAD"_ba;
    QTest::newRow("POST asset") << "POST"_ba << u"/static/css/app.css"_s << "{}"_ba << 405
                                << u"method_not_allowed"_s << QString() << "GET, HEAD"_ba;
    QTest::newRow("DELETE users") << "DELETE"_ba << u"/users/"_s << QByteArray() << 405
                                  << u"method_not_allowed"_s << QString() << "GET, HEAD, POST"_ba;
    QTest::newRow("POST events") << "POST"_ba << u"/events?user_id=1"_s << "{}"_ba << 405
                                 << u"method_not_allowed"_s << QString() << "GET"_ba;
    QTest::newRow("HEAD events") << "HEAD"_ba << u"/events/1"_s << QByteArray() << 405 << QString()
                                 << QString() << "GET"_ba;
    QTest::newRow("DELETE ws") << "DELETE"_ba << u"/ws/alice"_s << QByteArray() << 405
                               << u"method_not_allowed"_s << QString() << "GET"_ba;
    QTest::newRow("POST ws stats") << "POST"_ba << u"/ws/stats"_s << "{}"_ba << 405 << u"method_not_allowed"_s
                                   << QString() << "GET, HEAD"_ba;
    QTest::newRow("GET ws, no upgrade")
        << "GET"_ba << u"/ws"_s << QByteArray() << 404 << u"not_found"_s << QString() << QByteArray();
    QTest::newRow("unknown path") << "GET"_ba << u"/api/nothing"_s << QByteArray() << 404 << u"not_found"_s
                                  << u"no route for /api/nothing"_s << QByteArray();
    QTest::newRow("segment too many") << "GET"_ba << u"/api/channels/a/b/history"_s << QByteArray() << 404
                                      << u"not_found"_s << QString() << QByteArray();
}

void tst_Server::restAnswersSayWhat()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QString, code);
    QFETCH(QString, detail);
    QFETCH(QByteArray, allow);
    const qint64 before = m_server->hub()->lastId();
    const HttpResult r = http(method, m_port, path, body);
    QVERIFY2(r.status == status, r.body.constData());
    QByteArray allowHeader;
    for (const auto &[name, value] : r.headers) {
        if (name.compare("allow", Qt::CaseInsensitive) == 0)
            allowHeader = value;
    }
    QCOMPARE(allowHeader, allow);
    if (status == 202 || method == "HEAD")
        return;
    QCOMPARE(r.json().value("error"_L1).toString(), code);
    QVERIFY2(r.json().value("detail"_L1).toString().contains(detail), r.body.constData());
    QCOMPARE(m_server->hub()->lastId(), before);
}

void tst_Server::headAnswersLikeGet_data()
{
    QTest::addColumn<QByteArray>("path");
    for (const char *path : {"/", "/healthz", "/api/stats", "/ws/stats", "/api/channels",
                             "/api/notifications?user_id=1", "/api/channels/news/history", "/users/",
                             "/users/1", "/posts/", "/static/css/app.css", "/nothing-here", "/users/x"})
        QTest::newRow(path) << QByteArray(path);
}

// RFC 9110 9.3.2: HEAD is GET without the content, on every GET route: the same status and header fields
// (Content-Length included), and no body.
void tst_Server::headAnswersLikeGet()
{
    QFETCH(QByteArray, path);
    QCOMPARE(http("POST", m_port, u"/users/"_s, R"({"email":"h@example.com","name":"H"})").status, 201);
    QCOMPARE(http("POST", m_port, u"/api/publish"_s, R"({"channel":"news","message":"m"})").status, 202);
    auto exchange = [this](const QByteArray &method, const QByteArray &target) {
        return rawExchange(m_port, method + ' ' + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    };
    // uptime_seconds may tick between the two: the lengths are compared, not the bodies.
    const QByteArray get = exchange("GET", path);
    const QByteArray head = exchange("HEAD", path);
    const qsizetype getEnd = get.indexOf("\r\n\r\n");
    const qsizetype headEnd = head.indexOf("\r\n\r\n");
    QVERIFY2(getEnd > 0 && headEnd > 0, head.constData());
    QCOMPARE(head.size(), headEnd + 4); // nothing after the head
    auto fields = [](QByteArray h) {
        // Connection differs by design: /healthz's GET is served on the keep-alive path.
        QList<QByteArray> lines = h.split('\n');
        QList<QByteArray> kept;
        for (QByteArray &l : lines) {
            l = l.trimmed();
            if (!l.toLower().startsWith("connection:") && !l.toLower().startsWith("keep-alive:"))
                kept.append(l);
        }
        std::sort(kept.begin(), kept.end());
        return kept;
    };
    QCOMPARE(fields(head.left(headEnd)), fields(get.left(getEnd)));
    QVERIFY(get.size() > getEnd + 4); // GET has the body HEAD left out
}

void tst_Server::webSocketRefusesEmptyPublish()
{
    auto c = client(u"/ws"_s);
    QVERIFY(c);
    const qint64 before = m_server->hub()->lastId();
    c->send({{"action"_L1, "publish"_L1}, {"channel"_L1, "news"_L1}, {"type"_L1, "alert"_L1}});
    auto error = c->waitFor(u"error"_s);
    QVERIFY(error);
    QCOMPARE(error->value("code"_L1).toString(), u"bad_request"_s);
    QVERIFY(error->value("message"_L1).toString().startsWith(u"nothing to publish"_s));
    c->send({{"action"_L1, "broadcast"_L1}});
    error = c->waitFor(u"error"_s);
    QVERIFY(error);
    QCOMPARE(error->value("code"_L1).toString(), u"bad_request"_s);
    c->send({{"action"_L1, "publish"_L1}, {"channel"_L1, "a b"_L1}, {"message"_L1, "m"_L1}});
    error = c->waitFor(u"error"_s);
    QVERIFY(error);
    QCOMPARE(error->value("message"_L1).toString(),
             u"invalid channel name 'a b': use [A-Za-z0-9_.:-], 1 to 128 characters"_s);
    QCOMPARE(m_server->hub()->lastId(), before);
}

QTEST_MAIN(tst_Server)
#include "tst_server.moc"
