#include "adminclient.h"
#include "embeddedserver.h"
#include "hub.h"
#include "server.h"
#include "testclient.h"
#include "testserver.h"

#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>
#include <QWebSocketServer>

#include <algorithm>

using namespace Qt::StringLiterals;
using namespace HeraldTest;
using Herald::AdminClient;
using State = Herald::AdminClient::State;
using ms = std::chrono::milliseconds;

// AdminClient against a real in-process Herald server, and against small fake servers for the refusals a
// later auth layer will produce (HTTP 401/403 on the handshake, close 1008).
class tst_AdminClient : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void snapshotCountsAndClientEvents();
    void httpUrls();
    void serverVersionFromHealthz();
    void messagesAndActions();
    void actionErrorsAndNotConnected();
    void reconnectsWithGrowingDelays();
    void serverGoneMessage();
    void handshakeRefusal_data();
    void handshakeRefusal();
    void close1008IsRefusal();
    void closeStopsRetrying();
    void embeddedServerFallsBackWhenPortBusy();

private:
    bool startServer(quint16 port = 0);
    void stopServer();
    std::unique_ptr<WsClient> client(const QString &path) { return openWs(m_port, path); }
    QUrl feed() const { return QUrl(u"ws://127.0.0.1:%1/ws/server"_s.arg(m_port)); }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Herald::Server> m_server;
    quint16 m_port = 0;
};

bool tst_AdminClient::startServer(quint16 port)
{
    m_server = startTestServer(m_dir->path(), [port](Herald::ServerConfig &c) { c.port = port; });
    m_port = m_server ? m_server->port() : 0;
    return m_server != nullptr;
}

void tst_AdminClient::stopServer()
{
    QVERIFY(stopTestServer(m_server));
}

void tst_AdminClient::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    QVERIFY(startServer());
}

void tst_AdminClient::cleanup()
{
    m_server.reset();
    m_dir.reset();
}

void tst_AdminClient::httpUrls()
{
    using Herald::AdminClient;
    QCOMPARE(AdminClient::httpUrl(QUrl(u"ws://h:1/ws/server"_s), u"/healthz"_s),
             QUrl(u"http://h:1/healthz"_s));
    QCOMPARE(AdminClient::httpUrl(QUrl(u"wss://u:p@h/herald/ws/server?token=x#f"_s), u"/healthz"_s),
             QUrl(u"https://h/herald/healthz"_s));
    QCOMPARE(AdminClient::httpUrl(QUrl(u"ws://h:2/custom"_s), u"/"_s), QUrl(u"http://h:2/"_s));
}

void tst_AdminClient::serverVersionFromHealthz()
{
    AdminClient admin;
    QSignalSpy versions(&admin, &AdminClient::serverVersionReceived);
    admin.setServerUrl(feed());
    QCOMPARE(admin.serverVersion(), QString());
    admin.open();
    QTRY_COMPARE(versions.count(), 1);
    QCOMPARE(versions.first().at(0).toString(), QStringLiteral(HERALD_VERSION));
    QCOMPARE(admin.serverVersion(), QStringLiteral(HERALD_VERSION));
    // Another server: its version is not known until it answers.
    admin.setServerUrl(QUrl(u"ws://127.0.0.1:1/ws/server"_s));
    QCOMPARE(admin.serverVersion(), QString());
    admin.close();
}

void tst_AdminClient::snapshotCountsAndClientEvents()
{
    auto early = client(u"/ws?client_id=early&channels=news"_s);
    QVERIFY(early);
    QTRY_COMPARE(m_server->hub()->counts().subscribers, 1);

    AdminClient admin;
    QSignalSpy states(&admin, &AdminClient::stateChanged);
    QSignalSpy snapshots(&admin, &AdminClient::snapshotReceived);
    QSignalSpy counts(&admin, &AdminClient::countsChanged);
    QSignalSpy connected(&admin, &AdminClient::clientConnected);
    QSignalSpy subscribed(&admin, &AdminClient::clientSubscribed);
    QSignalSpy gone(&admin, &AdminClient::clientDisconnected);
    admin.setServerUrl(feed());
    admin.open();
    QCOMPARE(admin.state(), State::Connecting);
    QTRY_COMPARE(admin.state(), State::Connected);
    QVERIFY(admin.statusText().contains(QString::number(m_port)));
    QCOMPARE(states.first().at(0).value<State>(), State::Connecting);

    QTRY_COMPARE(snapshots.count(), 1);
    // What the feed says is dated by its last frame (the dashboard's "showing data from").
    const QDateTime snapshotFrame = admin.lastFrameAt();
    QVERIFY(snapshotFrame.isValid() && snapshotFrame <= QDateTime::currentDateTime());
    const auto snapshot = snapshots.first().at(0).value<Herald::AdminSnapshot>();
    QCOMPARE(snapshot.clients, 1);
    QCOMPARE(snapshot.subscribers, 1);
    QCOMPARE(snapshot.channels, 1);
    QCOMPARE(snapshot.epoch, m_server->hub()->epoch());
    QVERIFY(!snapshot.epoch.isEmpty());
    QCOMPARE(snapshot.connections.size(), 1);
    QCOMPARE(snapshot.connections.first().clientId, u"early"_s);
    QCOMPARE(snapshot.connections.first().subscriptions, QStringList{u"news"_s});
    QCOMPARE(snapshot.connections.first().transport, u"websocket"_s);
    QVERIFY(snapshot.connections.first().connectedAt.isValid());

    auto late = client(u"/ws?client_id=late&user_id=7"_s);
    QVERIFY(late);
    QTRY_COMPARE(connected.count(), 1);
    QTRY_VERIFY(admin.lastFrameAt() > snapshotFrame); // the next frames move it
    const auto entry = connected.first().at(0).value<Herald::ClientEntry>();
    QCOMPARE(entry.clientId, u"late"_s);
    QCOMPARE(entry.route, u"ws"_s);
    QTRY_VERIFY(!subscribed.isEmpty());
    QCOMPARE(subscribed.last().at(0).toString(), u"late"_s);
    QCOMPARE(subscribed.last().at(1).toString(), u"user:7"_s);
    QTRY_VERIFY(!counts.isEmpty() && counts.last().at(0).toInt() == 2 && counts.last().at(1).toInt() == 2);

    early->close();
    QTRY_COMPARE(gone.count(), 1);
    QCOMPARE(gone.first().at(0).toString(), u"early"_s);
    QTRY_VERIFY(counts.last().at(0).toInt() == 1);

    QSignalSpy stats(&admin, &AdminClient::statsReceived);
    QVERIFY(!admin.requestStats().isEmpty());
    QTRY_COMPARE(stats.count(), 1);
    QCOMPARE(stats.first().at(0).toInt(), 1); // user:7
}

void tst_AdminClient::messagesAndActions()
{
    AdminClient admin;
    QSignalSpy messages(&admin, &AdminClient::messageReceived);
    QSignalSpy ok(&admin, &AdminClient::actionSucceeded);
    admin.setServerUrl(feed());
    // The operator's name goes as the feed's client id: an open server gives it as the sender.
    admin.setClientId(u"ops-anna"_s);
    admin.open();
    QTRY_COMPARE(admin.state(), State::Connected);

    auto alice = client(u"/ws?client_id=alice&user_id=1&channels=news"_s);
    QVERIFY(alice);
    QTRY_COMPARE(m_server->hub()->counts().subscribers, 1);

    // Every published message reaches the feed, whatever its type (even one named like a control frame).
    const auto r =
        http("POST", m_port, u"/api/publish"_s, R"({"channel":"news","type":"counts","message":"hi"})");
    QCOMPARE(r.status, 202);
    QTRY_COMPARE(messages.count(), 1);
    auto m = messages.first().at(0).value<Herald::Message>();
    QCOMPARE(m.channel, u"news"_s);
    QCOMPARE(m.type, u"counts"_s);
    QCOMPARE(m.message, u"hi"_s);
    QVERIFY(m.id > 0);

    const QString toUser = admin.publishToUser(u"1"_s, {u"alert"_s, u"T"_s, u"to the user"_s});
    const QString toChannel = admin.publishToChannel(u"news"_s, {{}, {}, u"to the channel"_s});
    const QString toAll = admin.broadcast({{}, {}, u"to everyone"_s});
    QVERIFY(!toUser.isEmpty() && !toChannel.isEmpty() && !toAll.isEmpty());
    QVERIFY(toUser != toChannel && toChannel != toAll);
    QTRY_COMPARE(ok.count(), 3);
    QCOMPARE(ok.at(0).at(0).toString(), toUser);
    QCOMPARE(ok.at(0).at(1).toJsonObject().value("channel"_L1).toString(), u"user:1"_s);
    QCOMPARE(ok.at(2).at(1).toJsonObject().value("channel"_L1).toString(), u"broadcast"_s);

    auto got = alice->waitFor(u"alert"_s);
    QVERIFY(got);
    QCOMPARE(got->value("title"_L1).toString(), u"T"_s);
    QCOMPARE(got->value("sender"_L1).toString(), u"ops-anna"_s);
    got = alice->waitFor(u"message"_s);
    QVERIFY(got);
    QCOMPARE(got->value("message"_L1).toString(), u"to the channel"_s);
    got = alice->waitFor(u"broadcast"_s);
    QVERIFY(got);
    QCOMPARE(got->value("message"_L1).toString(), u"to everyone"_s);
    QTRY_COMPARE(messages.count(), 4);

    const QString kick = admin.disconnectClient(u"alice"_s);
    QVERIFY(alice->waitDisconnected());
    QCOMPARE(alice->closeCode(), 4001);
    QTRY_COMPARE(ok.count(), 4);
    QCOMPARE(ok.last().at(0).toString(), kick);
}

void tst_AdminClient::actionErrorsAndNotConnected()
{
    AdminClient admin;
    QVERIFY(admin.broadcast({{}, {}, u"nobody listens"_s}).isEmpty()); // not connected: nothing sent
    QSignalSpy failed(&admin, &AdminClient::actionFailed);
    admin.setServerUrl(feed());
    admin.open();
    QTRY_COMPARE(admin.state(), State::Connected);
    const QString ref = admin.disconnectClient(u"nobody"_s);
    QTRY_COMPARE(failed.count(), 1);
    QCOMPARE(failed.first().at(0).toString(), ref);
    QCOMPARE(failed.first().at(1).toString(), u"not_found"_s);
    const QString bad = admin.publishToChannel(u"not a channel"_s, {{}, {}, u"x"_s});
    QTRY_COMPARE(failed.count(), 2);
    QCOMPARE(failed.last().at(0).toString(), bad);
    QCOMPARE(failed.last().at(1).toString(), u"bad_channel"_s);
    QCOMPARE(admin.state(), State::Connected); // errors are frames, the feed stays up
}

void tst_AdminClient::reconnectsWithGrowingDelays()
{
    AdminClient admin;
    admin.backoff().setRange(ms(40), ms(800));
    QSignalSpy scheduled(&admin, &AdminClient::reconnectScheduled);
    QSignalSpy snapshots(&admin, &AdminClient::snapshotReceived);
    QSignalSpy states(&admin, &AdminClient::stateChanged);
    // Retries run while the test waits, so look for a status line in the history, not in the present.
    auto said = [&states](const QString &part) {
        return std::any_of(states.cbegin(), states.cend(), [&part](const QList<QVariant> &args) {
            return args.at(1).toString().contains(part);
        });
    };
    admin.setServerUrl(feed());
    admin.open();
    QTRY_COMPARE(admin.state(), State::Connected);
    QTRY_COMPARE(snapshots.count(), 1);
    const quint16 port = m_port;

    stopServer();
    QTRY_COMPARE(admin.state(), State::Reconnecting);
    QVERIFY(admin.retryDelay() > 0);
    QVERIFY(said(u"Server 127.0.0.1:%1 went away (shutting down); retrying in"_s.arg(port)));

    // Nothing listens now: attempts keep failing, each after a longer wait than the last.
    QTRY_VERIFY_WITH_TIMEOUT(scheduled.count() >= 4, 10000);
    QVERIFY(said(u"Server 127.0.0.1:%1 is gone (connection refused); retrying in"_s.arg(port)));
    for (qsizetype i = 1; i < 4; ++i) {
        QCOMPARE(scheduled.at(i).at(0).toInt(), scheduled.at(i - 1).at(0).toInt() + 1);
        QVERIFY2(scheduled.at(i).at(1).toInt() > scheduled.at(i - 1).at(1).toInt(),
                 qPrintable(u"delay %1: %2 ms after %3 ms"_s.arg(i)
                                .arg(scheduled.at(i).at(1).toInt())
                                .arg(scheduled.at(i - 1).at(1).toInt())));
    }
    QVERIFY(admin.state() != State::Connected);

    // A new server on the same port: the next retry finds it and a fresh snapshot arrives.
    QVERIFY(startServer(port));
    QTRY_COMPARE_WITH_TIMEOUT(admin.state(), State::Connected, 10000);
    QTRY_COMPARE(snapshots.count(), 2);
    QCOMPARE(admin.backoff().attempts(), 0); // success resets the backoff
    QSignalSpy counts(&admin, &AdminClient::countsChanged);
    auto c = client(u"/ws/client"_s);
    QVERIFY(c);
    QTRY_VERIFY(!counts.isEmpty() && counts.last().at(0).toInt() == 1);
}

void tst_AdminClient::serverGoneMessage()
{
    // A port nobody listens on: grab a free one and let it go.
    quint16 port = 0;
    {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        port = probe.serverPort();
    }
    AdminClient admin;
    admin.backoff().setRange(ms(5000), ms(5000));
    QSignalSpy scheduled(&admin, &AdminClient::reconnectScheduled);
    admin.setServerUrl(QUrl(u"ws://127.0.0.1:%1"_s.arg(port)));
    admin.open();
    QTRY_COMPARE(admin.state(), State::Reconnecting);
    QCOMPARE(scheduled.count(), 1);
    QVERIFY2(admin.statusText().contains(u"is gone (connection refused)"_s), qPrintable(admin.statusText()));
    QVERIFY2(admin.statusText().contains(u"retrying in"_s), qPrintable(admin.statusText()));
}

void tst_AdminClient::handshakeRefusal_data()
{
    QTest::addColumn<QByteArray>("status");
    QTest::addColumn<bool>("refused");
    QTest::addColumn<QString>("textPart");
    QTest::newRow("401") << QByteArray("401 Unauthorized") << true << u"Token refused"_s;
    QTest::newRow("403") << QByteArray("403 Forbidden") << true << u"HTTP 403"_s;
    QTest::newRow("404 is not a refusal") << QByteArray("404 Not Found") << false << u"HTTP 404"_s;
}

void tst_AdminClient::handshakeRefusal()
{
    QFETCH(QByteArray, status);
    QFETCH(bool, refused);
    QFETCH(QString, textPart);

    // A stand-in for a server with auth on: reads the handshake and answers with an HTTP error.
    QTcpServer fake;
    QVERIFY(fake.listen(QHostAddress::LocalHost, 0));
    QByteArray head;
    int connections = 0;
    connect(&fake, &QTcpServer::newConnection, &fake, [&] {
        while (QTcpSocket *s = fake.nextPendingConnection()) {
            ++connections;
            connect(s, &QTcpSocket::readyRead, s, [&, s] {
                head += s->readAll();
                if (!head.contains("\r\n\r\n"))
                    return;
                s->write(
                    "HTTP/1.1 " + status +
                    "\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
                s->disconnectFromHost();
            });
            connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
        }
    });

    AdminClient admin;
    admin.backoff().setRange(ms(5000), ms(5000));
    QSignalSpy refusedSpy(&admin, &AdminClient::tokenRefused);
    admin.setServerUrl(QUrl(u"ws://127.0.0.1:%1/ws/server"_s.arg(fake.serverPort())));
    admin.setToken(u"s3cret+/="_s);
    admin.setClientId(u"ops-anna"_s); // with a token, not sent (see below)
    admin.open();
    QTRY_VERIFY(admin.state() == State::Refused || admin.state() == State::Reconnecting);
    QCOMPARE(admin.state() == State::Refused, refused);
    QCOMPARE(refusedSpy.count(), refused ? 1 : 0);
    QVERIFY2(admin.statusText().contains(textPart), qPrintable(admin.statusText()));
    QCOMPARE(admin.retryDelay() > 0, !refused); // a refused token is not retried
    QCOMPARE(connections, 1);

    // The token travels in the query and as a bearer header; the client id does not (the token's subject is
    // the sender, and an admin's client id would claim that id from users).
    const QList<QByteArray> lines = head.split('\n');
    QVERIFY2(lines.first().startsWith("GET /ws/server?token=s3cret%2B%2F%3D "), lines.first().constData());
    QVERIFY2(head.contains("Authorization: Bearer s3cret+/=\r\n"), head.constData());
}

void tst_AdminClient::close1008IsRefusal()
{
    QWebSocketServer fake(u"fake"_s, QWebSocketServer::NonSecureMode);
    QVERIFY(fake.listen(QHostAddress::LocalHost, 0));
    connect(&fake, &QWebSocketServer::newConnection, &fake, [&] {
        QWebSocket *s = fake.nextPendingConnection();
        connect(s, &QWebSocket::disconnected, s, &QObject::deleteLater);
        s->close(QWebSocketProtocol::CloseCodePolicyViolated, u"token expired"_s);
    });
    AdminClient admin;
    QSignalSpy refused(&admin, &AdminClient::tokenRefused);
    admin.setServerUrl(QUrl(u"ws://127.0.0.1:%1"_s.arg(fake.serverPort())));
    admin.setToken(u"old"_s);
    admin.open();
    QTRY_COMPARE(admin.state(), State::Refused);
    QCOMPARE(refused.count(), 1);
    QVERIFY2(admin.statusText().contains(u"1008: token expired"_s), qPrintable(admin.statusText()));
    QCOMPARE(admin.retryDelay(), -1);
}

void tst_AdminClient::closeStopsRetrying()
{
    AdminClient admin;
    admin.backoff().setRange(ms(20), ms(40));
    admin.setServerUrl(feed());
    admin.open();
    QTRY_COMPARE(admin.state(), State::Connected);
    admin.close();
    QCOMPARE(admin.state(), State::Idle);
    QCOMPARE(admin.retryDelay(), -1);
    stopServer();
    QTest::qWait(200); // several backoff periods: still nothing scheduled
    QCOMPARE(admin.state(), State::Idle);
    QCOMPARE(admin.retryDelay(), -1);
}

void tst_AdminClient::embeddedServerFallsBackWhenPortBusy()
{
    QTcpServer squatter;
    QVERIFY(squatter.listen(QHostAddress::LocalHost, 0));
    QTemporaryDir dir;
    Herald::EmbeddedServer embedded;
    QVERIFY2(embedded.start(squatter.serverPort(), dir.path()), qPrintable(embedded.errorString()));
    QVERIFY(embedded.usedFallbackPort());
    QCOMPARE(embedded.requestedPort(), squatter.serverPort());
    QVERIFY(embedded.port() != 0 && embedded.port() != squatter.serverPort());
    QCOMPARE(embedded.feedUrl().toString(), u"ws://127.0.0.1:%1/ws/server"_s.arg(embedded.port()));

    // The embedded server is a real one: the admin client sees it.
    AdminClient admin;
    admin.setServerUrl(embedded.feedUrl());
    admin.open();
    QTRY_COMPARE(admin.state(), State::Connected);
    admin.close();
    embedded.stop();
    QVERIFY(!embedded.isRunning());

    // A data dir that cannot be created is an error, not a fallback.
    QFile blocker(dir.filePath(u"file"_s));
    QVERIFY(blocker.open(QIODevice::WriteOnly));
    blocker.close();
    Herald::EmbeddedServer broken;
    QVERIFY(!broken.start(0, dir.filePath(u"file/sub"_s)));
    QVERIFY2(broken.errorString().contains(u"data directory"_s), qPrintable(broken.errorString()));
}

QTEST_MAIN(tst_AdminClient)
#include "tst_adminclient.moc"
