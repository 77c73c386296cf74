#include "auth.h"
#include "client.h"
#include "server.h"
#include "testclient.h"
#include "testserver.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>
#include <QUrlQuery>
#include <QWebSocketServer>

using namespace Qt::StringLiterals;
using namespace HeraldTest;
using Herald::Client;
using State = Herald::Client::State;
using Delivery = Herald::Client::Delivery;
using ms = std::chrono::milliseconds;

namespace {
const QByteArray Secret = "client-library-test-secret-of-enough-length";

// What a client delivered, in order.
struct Received
{
    QList<qint64> ids;
    QList<Delivery> deliveries;

    void watch(Client &client)
    {
        QObject::connect(&client, &Client::messageReceived, &client,
                         [this](const Herald::Message &m, Delivery d) {
                             ids.append(m.id);
                             deliveries.append(d);
                         });
    }
    qsizetype count(Delivery d) const { return deliveries.count(d); }
};

QString idsText(const QList<qint64> &ids)
{
    QStringList parts;
    for (qint64 id : ids)
        parts.append(QString::number(id));
    return parts.join(u',');
}

QString duplicatesOrGaps(const QList<qint64> &got, const QList<qint64> &expected)
{
    return got == expected ? QString() : u"got %1, expected %2"_s.arg(idsText(got), idsText(expected));
}
} // namespace

// Herald::Client (client/) against a real in-process server on a free loopback port: resume across server and
// client restarts, backoff, token refusal, runtime subscriptions and the typed events.
class tst_HeraldClient : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void urls_data();
    void urls();
    void liveAndSubscriptions();
    void resumeAcrossServerRestart();
    void resumeAcrossClientRestart();
    void resetOnAnotherHistory();
    void backoffBounds_data();
    void backoffBounds();
    void tokenRefusal_data();
    void tokenRefusal();
    void typedEvents();
    void markAllRead();
    void updatesAndWithdrawals();
    void chainAcrossResume();
    void readEventsFromServer();

private:
    bool startServer(quint16 port = 0, const QString &dataDir = {}, const ConfigTweak &tweak = {});
    qint64 publish(const QString &channel, const QString &title);
    QString url() const { return u"ws://127.0.0.1:%1"_s.arg(m_port); }
    QString resumeFile() const { return m_dir->filePath(u"resume.json"_s); }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Herald::Server> m_server;
    quint16 m_port = 0;
    QByteArray m_publishToken; // for publishes to a server in token mode
};

bool tst_HeraldClient::startServer(quint16 port, const QString &dataDir, const ConfigTweak &tweak)
{
    m_server = startTestServer(dataDir.isEmpty() ? m_dir->filePath(u"data"_s) : dataDir,
                               [port, tweak](Herald::ServerConfig &c) {
                                   c.port = port;
                                   if (tweak)
                                       tweak(c);
                               });
    m_port = m_server ? m_server->port() : 0;
    return m_server != nullptr;
}

qint64 tst_HeraldClient::publish(const QString &channel, const QString &title)
{
    QList<QPair<QByteArray, QByteArray>> headers;
    if (!m_publishToken.isEmpty())
        headers.append({"Authorization", "Bearer " + m_publishToken});
    const HttpResult r =
        http("POST", m_port, u"/api/publish"_s,
             Herald::compactJson(QJsonObject{{"channel"_L1, channel}, {"title"_L1, title}}), headers);
    if (r.status != 202)
        qWarning() << "publish answered" << r.status << r.body;
    return r.json().value("id"_L1).toInteger();
}

void tst_HeraldClient::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    QVERIFY(startServer());
}

void tst_HeraldClient::cleanup()
{
    m_publishToken.clear();
    QVERIFY(stopTestServer(m_server));
    m_dir.reset();
}

void tst_HeraldClient::urls_data()
{
    QTest::addColumn<QString>("given");
    QTest::addColumn<QString>("ws");
    QTest::addColumn<QString>("http");
    QTest::newRow("bare") << u"h:8000"_s << u"ws://h:8000/ws"_s << u"http://h:8000/api/x"_s;
    QTest::newRow("https") << u"https://h"_s << u"wss://h/ws"_s << u"https://h/api/x"_s;
    QTest::newRow("proxy prefix") << u"wss://h/herald/ws"_s << u"wss://h/herald/ws"_s
                                  << u"https://h/herald/api/x"_s;
    QTest::newRow("prefix without ws")
        << u"ws://h/herald/"_s << u"ws://h/herald/ws"_s << u"http://h/herald/api/x"_s;
    QTest::newRow("not a server") << u"ftp://h"_s << QString() << QString();
}

void tst_HeraldClient::urls()
{
    QFETCH(QString, given);
    QFETCH(QString, ws);
    QFETCH(QString, http);
    const QUrl u = Client::wsUrl(given);
    QCOMPARE(u.toString(), ws);
    if (!ws.isEmpty())
        QCOMPARE(Herald::Connection::httpUrl(u, u"/ws"_s, u"/api/x"_s).toString(), http);
}

void tst_HeraldClient::liveAndSubscriptions()
{
    Client client;
    Received got;
    got.watch(client);
    QVERIFY(client.setServerUrl(QUrl(url())));
    client.setUserId(u"1"_s);
    client.setChannels({u"news"_s});
    client.open();
    QTRY_COMPARE(client.state(), State::Connected);
    const qint64 a = publish(u"user:1"_s, u"a"_s);
    const qint64 b = publish(u"news"_s, u"b"_s);
    publish(u"other"_s, u"not subscribed"_s);
    QTRY_COMPARE(got.ids.size(), 2);
    QCOMPARE(got.ids, (QList<qint64>{a, b}));
    QCOMPARE(got.count(Delivery::Live), 2);

    // Subscribed while connected: from then on, and unsubscribed: no more.
    client.subscribe(u"other"_s);
    client.unsubscribe(u"news"_s);
    QCOMPARE(client.channels(), QStringList{u"other"_s});
    QTest::qWait(100); // the frames are on their way; what follows is published after them
    publish(u"news"_s, u"gone"_s);
    const qint64 c = publish(u"other"_s, u"c"_s);
    QTRY_COMPARE(got.ids.size(), 4); // the earlier "other" message, resumed from the position, and c
    QCOMPARE(got.ids.last(), c);
    QCOMPARE(client.lastId(), c);

    // A reply published through the client's REST helper comes back on the channel.
    QSignalSpy finished(&client, &Client::requestFinished);
    const int req = client.publish(u"other"_s, QJsonObject{{"message"_L1, u"retry 7"_s}, {"priority"_L1, 4}});
    QTRY_COMPARE(finished.size(), 1);
    QCOMPARE(finished.first().at(0).toInt(), req);
    QCOMPARE(finished.first().at(2).toInt(), 202);
    const qint64 replyId = finished.first().at(3).toJsonObject().value("id"_L1).toInteger();
    QTRY_COMPARE(got.ids.size(), 5);
    QCOMPARE(got.ids.last(), replyId);
}

void tst_HeraldClient::resumeAcrossServerRestart()
{
    Client client;
    Received got;
    got.watch(client);
    QSignalSpy replays(&client, &Client::replayStarted);
    client.setServerUrl(QUrl(url()));
    client.setUserId(u"1"_s);
    client.setChannels({u"news"_s});
    client.setResumeFile(resumeFile());
    client.open();
    QTRY_COMPARE(client.state(), State::Connected);
    QList<qint64> expected;
    for (int i = 0; i < 3; ++i)
        expected.append(publish(i % 2 ? u"news"_s : u"user:1"_s, u"before %1"_s.arg(i)));
    QTRY_COMPARE(got.ids.size(), 3);
    const quint16 port = m_port;

    // Down, and the next retry far away: the publishes below happen while the client is offline, then
    // open() reconnects at once. Same data dir, so the same history and epoch.
    client.backoff().setRange(ms(60000), ms(60000));
    QVERIFY(stopTestServer(m_server));
    QTRY_COMPARE(client.state(), State::Offline);
    QVERIFY(client.nextRetryAt() > QDateTime::currentDateTimeUtc());
    QVERIFY(startServer(port));
    for (int i = 0; i < 5; ++i)
        expected.append(publish(i % 2 ? u"news"_s : u"user:1"_s, u"missed %1"_s.arg(i)));
    publish(u"elsewhere"_s, u"not ours"_s);
    client.open();
    QTRY_COMPARE(got.ids.size(), 8);
    QVERIFY2(duplicatesOrGaps(got.ids, expected).isEmpty(), qPrintable(duplicatesOrGaps(got.ids, expected)));
    QCOMPARE(got.count(Delivery::Replayed), 5);
    QCOMPARE(replays.size(), 1);
    const auto info = replays.first().at(0).value<Herald::ReplayInfo>();
    QCOMPARE(info.count, 5);
    QVERIFY(info.recovered);
    // The replay went up to the server's last id (the "elsewhere" message): the position is there.
    QTRY_COMPARE(client.lastId(), info.lastId);

    // Again with a short backoff, publishing while it retries by itself: whichever way each one arrives
    // (replayed or live), each arrives once and in order.
    // This part once lost a message that was published between the server's plan of the replay and its
    // notice, whose last_id then named it (fixed: the notice names the plan's own bound, Replay::upTo).
    client.backoff().setRange(ms(50), ms(200));
    QVERIFY(stopTestServer(m_server));
    QTRY_COMPARE(client.state(), State::Offline);
    QVERIFY(startServer(port));
    for (int i = 0; i < 4; ++i)
        expected.append(publish(u"news"_s, u"racing %1"_s.arg(i)));
    QTRY_COMPARE_WITH_TIMEOUT(got.ids.size(), 12, 10000);
    QTRY_COMPARE(client.state(), State::Connected);
    expected.append(publish(u"user:1"_s, u"after"_s));
    QTRY_COMPARE(got.ids.size(), 13);
    QTest::qWait(100); // nothing more comes
    QVERIFY2(duplicatesOrGaps(got.ids, expected).isEmpty(), qPrintable(duplicatesOrGaps(got.ids, expected)));
}

void tst_HeraldClient::resumeAcrossClientRestart()
{
    QList<qint64> first;
    {
        Client client;
        Received got;
        got.watch(client);
        client.setServerUrl(QUrl(url()));
        client.setUserId(u"1"_s);
        client.setResumeFile(resumeFile());
        client.open();
        QTRY_COMPARE(client.state(), State::Connected);
        first.append(publish(u"user:1"_s, u"seen"_s));
        QTRY_COMPARE(got.ids, first);
    } // the program ends: its position is written
    QFile file(resumeFile());
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(parseObject(file.readAll()).value("last_id"_L1).toInteger(), first.last());

    const qint64 missed1 = publish(u"user:1"_s, u"missed 1"_s);
    const qint64 missed2 = publish(u"user:1"_s, u"missed 2"_s);
    Client client;
    Received got;
    got.watch(client);
    client.setServerUrl(QUrl(url()));
    client.setUserId(u"1"_s);
    client.setResumeFile(resumeFile());
    QCOMPARE(client.lastId(), first.last());
    client.open();
    QTRY_COMPARE(got.ids.size(), 2);
    QCOMPARE(got.ids, (QList<qint64>{missed1, missed2}));
    QCOMPARE(got.count(Delivery::Replayed), 2);
}

void tst_HeraldClient::resetOnAnotherHistory()
{
    // A position from a history this server never had (another data dir): reset, nothing replayed, and the
    // client counts from the server's last id from then on.
    publish(u"user:1"_s, u"one"_s);
    const qint64 serverLast = publish(u"user:1"_s, u"two"_s);
    Client client;
    Received got;
    got.watch(client);
    QSignalSpy resets(&client, &Client::historyReset);
    client.setServerUrl(QUrl(url()));
    client.setUserId(u"1"_s);
    client.setResumeFile(resumeFile());
    client.setResumePosition(1, u"0123456789abcdef"_s);
    client.open();
    QTRY_COMPARE(resets.size(), 1);
    QCOMPARE(resets.first().at(0).toLongLong(), serverLast);
    QVERIFY(resets.first().at(1).toString() != u"0123456789abcdef"_s);
    QCOMPARE(client.lastId(), serverLast);
    QCOMPARE(client.epoch(), resets.first().at(1).toString());
    const qint64 next = publish(u"user:1"_s, u"three"_s);
    QTRY_COMPARE(got.ids, QList<qint64>{next});
    client.close();
    QFile file(resumeFile());
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QJsonObject saved = parseObject(file.readAll());
    QCOMPARE(saved.value("last_id"_L1).toInteger(), next);
    QCOMPARE(saved.value("epoch"_L1).toString(), client.epoch());
}

void tst_HeraldClient::backoffBounds_data()
{
    QTest::addColumn<int>("initial");
    QTest::addColumn<int>("maximum");
    QTest::addColumn<double>("jitter");
    QTest::newRow("no jitter") << 40 << 400 << 0.0;
    QTest::newRow("jitter 0.3") << 40 << 400 << 0.3;
    QTest::newRow("jitter 0.9, capped early") << 60 << 120 << 0.9;
}

void tst_HeraldClient::backoffBounds()
{
    QFETCH(int, initial);
    QFETCH(int, maximum);
    QFETCH(double, jitter);
    const quint16 port = m_port;
    QVERIFY(stopTestServer(m_server)); // nobody listens there now

    Client client;
    client.backoff().setRange(ms(initial), ms(maximum));
    client.backoff().setJitter(jitter);
    QList<int> delays;
    QList<qint64> scheduledAt;
    QList<qint64> attemptsAt;
    QElapsedTimer clock;
    clock.start();
    connect(client.connection(), &Herald::Connection::retryScheduled, this, [&](int attempt, int delay) {
        QCOMPARE(qsizetype(attempt), delays.size() + 1);
        delays.append(delay);
        scheduledAt.append(clock.elapsed());
    });
    connect(&client, &Client::stateChanged, this, [&](State s) {
        if (s == State::Connecting)
            attemptsAt.append(clock.elapsed());
    });
    QList<QDateTime> dueAt;
    QList<QDateTime> saidAt;
    connect(&client, &Client::retryScheduled, this, [&](const QDateTime &at, int attempt) {
        QCOMPARE(qsizetype(attempt), dueAt.size() + 1);
        dueAt.append(at);
        saidAt.append(QDateTime::currentDateTimeUtc());
    });
    client.setServerUrl(QUrl(u"ws://127.0.0.1:%1"_s.arg(port)));
    client.open();
    QTRY_VERIFY_WITH_TIMEOUT(delays.size() >= 6 && dueAt.size() >= 6, 15000);
    for (int i = 0; i < 6; ++i) {
        // When the retry is due, as the client says it: its delay from when it was said (a little less, as
        // it was taken just before).
        const qint64 ahead = saidAt.at(i).msecsTo(dueAt.at(i));
        QVERIFY2(ahead <= delays.at(i) && ahead >= delays.at(i) - 1000,
                 qPrintable(u"retry %1 due in %2 ms, delay %3 ms"_s.arg(i + 1).arg(ahead).arg(delays.at(i))));
    }
    client.close();
    for (int i = 0; i < 6; ++i) {
        // Attempt n waits initial·2^(n-1), capped, shortened by at most the jitter's share.
        const double base = std::min(double(initial) * double(1 << i), double(maximum));
        QVERIFY2(delays.at(i) <= base && delays.at(i) >= std::floor(base * (1.0 - jitter)),
                 qPrintable(u"attempt %1: %2 ms, base %3"_s.arg(i + 1).arg(delays.at(i)).arg(base)));
        // The retry did not come before its time (generously: timers may round).
        if (i + 1 < attemptsAt.size())
            QVERIFY2(attemptsAt.at(i + 1) - scheduledAt.at(i) >= delays.at(i) * 9 / 10 - 5,
                     qPrintable(u"retry %1 after %2 ms, scheduled in %3 ms"_s.arg(i + 1)
                                    .arg(attemptsAt.at(i + 1) - scheduledAt.at(i))
                                    .arg(delays.at(i))));
    }
    if (jitter == 0.0)
        QCOMPARE(delays.at(1), 2 * delays.at(0));
    QCOMPARE(client.state(), State::Idle);
    QVERIFY(!client.nextRetryAt().isValid());
}

void tst_HeraldClient::tokenRefusal_data()
{
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<QString>("user");
    QTest::addColumn<int>("error"); // -1: accepted
    QTest::addColumn<QString>("textPart");
    const Herald::TokenVerifier verifier(Secret);
    const Herald::TokenVerifier other("another-secret-another-secret-another");
    QTest::newRow("valid") << verifier.mint(u"1"_s, Herald::Role::Subscriber, std::chrono::hours(1)) << u"1"_s
                           << -1 << u"Connected"_s;
    QTest::newRow("bad signature") << other.mint(u"1"_s, Herald::Role::Subscriber, std::chrono::hours(1))
                                   << u"1"_s << int(Client::Error::TokenRefused) << u"HTTP 401"_s;
    QTest::newRow("another user's queue")
        << verifier.mint(u"2"_s, Herald::Role::Subscriber, std::chrono::hours(1)) << u"1"_s
        << int(Client::Error::Forbidden) << u"HTTP 403"_s;
    QTest::newRow("no token") << QByteArray() << u"1"_s << int(Client::Error::TokenRefused)
                              << u"authentication required"_s;
}

void tst_HeraldClient::tokenRefusal()
{
    QFETCH(QByteArray, token);
    QFETCH(QString, user);
    QFETCH(int, error);
    QFETCH(QString, textPart);
    const QString secretFile = m_dir->filePath(u"secret"_s);
    QFile f(secretFile);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(Secret);
    f.close();
    QVERIFY(stopTestServer(m_server));
    QVERIFY(startServer(0, {}, [&secretFile](Herald::ServerConfig &c) {
        c.authMode = Herald::ServerConfig::AuthMode::Token;
        c.jwtSecretFile = secretFile;
        c.handshakeTimeout = ms(300); // how long a connection without a token may wait for its auth frame
    }));

    m_publishToken =
        Herald::TokenVerifier(Secret).mint(u"root"_s, Herald::Role::Admin, std::chrono::hours(1));

    Client client;
    client.backoff().setRange(ms(50), ms(50));
    QSignalSpy errors(&client, &Client::errorOccurred);
    QSignalSpy retries(client.connection(), &Herald::Connection::retryScheduled);
    client.setServerUrl(QUrl(url()));
    client.setUserId(user);
    client.setToken(QString::fromLatin1(token));
    client.open();
    if (error < 0) {
        QTRY_COMPARE(client.state(), State::Connected);
        Received got;
        got.watch(client);
        const qint64 id = publish(u"user:1"_s, u"for 1"_s);
        QTRY_COMPARE(got.ids, QList<qint64>{id});
        QVERIFY(errors.isEmpty());
        return;
    }
    QTRY_COMPARE_WITH_TIMEOUT(client.state(), State::Refused, 5000);
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.first().at(0).value<Client::Error>(), Client::Error(error));
    QVERIFY2(errors.first().at(1).toString().contains(textPart), qPrintable(errors.first().at(1).toString()));
    QTest::qWait(200); // several backoff periods: a refused token is not retried
    QCOMPARE(retries.size(), 0);
    QCOMPARE(client.state(), State::Refused);
}

void tst_HeraldClient::typedEvents()
{
    // A stand-in server that sends the events of the wire design (read state on reads:<user>, settings,
    // withdrawn, an update), the way Herald sends them, and records what the client asks for.
    QWebSocketServer fake(u"fake"_s, QWebSocketServer::NonSecureMode);
    QVERIFY(fake.listen(QHostAddress::LocalHost, 0));
    QWebSocket *peer = nullptr;
    QUrl requested;
    connect(&fake, &QWebSocketServer::newConnection, &fake, [&] {
        peer = fake.nextPendingConnection();
        requested = peer->requestUrl();
        peer->sendTextMessage(
            uR"({"type":"connected","client_id":"c","channels":["user:1","reads:1"],"last_id":10,"epoch":"e1"})"_s);
    });
    Client client;
    Received got;
    got.watch(client);
    QList<Herald::ReadEvent> reads;
    connect(&client, &Client::readStateChanged, this, [&](const Herald::ReadEvent &e) { reads.append(e); });
    QSignalSpy settings(&client, &Client::settingsChanged);
    QSignalSpy withdrawn(&client, &Client::withdrawn);
    QSignalSpy replaced(&client, &Client::replaced);
    QSignalSpy errors(&client, &Client::errorOccurred);
    QSignalSpy expired(&client, &Client::expired);
    client.setServerUrl(QUrl(u"ws://127.0.0.1:%1"_s.arg(fake.serverPort())));
    client.setUserId(u"1"_s);
    client.open();
    QTRY_COMPARE(client.state(), State::Connected);
    QCOMPARE(QUrlQuery(requested).queryItemValue(u"user_id"_s), u"1"_s);
    QCOMPARE(QUrlQuery(requested).queryItemValue(u"channels"_s), u"reads:1"_s);
    QCOMPARE(client.lastId(), qint64(10));
    QCOMPARE(client.epoch(), u"e1"_s);

    const QString ts = u"\"timestamp\":\"2026-12-07T10:00:00.000Z\""_s;
    const QString soon =
        Herald::formatTimestamp(QDateTime::currentDateTimeUtc().addMSecs(1500)); // expires while watched
    const QStringList frames{
        uR"({"id":11,"channel":"user:1","type":"notification","title":"a",%1})"_s.arg(ts),
        uR"({"id":12,"channel":"reads:1","type":"read","ids":[11],"unread":0,%1})"_s.arg(ts),
        uR"({"id":13,"channel":"reads:1","type":"unread","ids":[11,9],"unread":2,%1})"_s.arg(ts),
        uR"({"id":14,"channel":"reads:1","type":"deleted","ids":[9],"unread":1,%1})"_s.arg(ts),
        uR"({"id":15,"channel":"reads:1","type":"read","all":true,"up_to":14,"unread":0,%1})"_s.arg(ts),
        uR"({"id":16,"channel":"reads:1","type":"settings","settings":{"min_priority":4},%1})"_s.arg(ts),
        uR"({"id":17,"channel":"user:1","type":"notification","title":"a2","replaces":11,%1})"_s.arg(ts),
        uR"({"id":18,"channel":"user:1","type":"withdrawn","withdraws":17,%1})"_s.arg(ts),
        uR"({"id":19,"channel":"user:1","type":"notification","expires":"2001-01-01T00:00:00.000Z",%1})"_s
            .arg(ts),
        uR"({"id":12,"channel":"reads:1","type":"read","ids":[11],"unread":0,%1})"_s.arg(ts), // a duplicate
        uR"({"id":20,"channel":"reads:1","type":"archived","ids":[1],%1})"_s.arg(ts), // unknown: ignored
        uR"({"type":"error","code":"forbidden","message":"not yours"})"_s,
        uR"({"id":21,"channel":"user:1","type":"notification","title":"b",%1})"_s.arg(ts),
        uR"({"id":22,"channel":"user:1","type":"notification","title":"c","expires":"%2",%1})"_s.arg(ts,
                                                                                                     soon),
        uR"({"id":23,"channel":"user:1","type":"notification","title":"d","expires":"%2",%1})"_s.arg(ts,
                                                                                                     soon),
        uR"({"id":24,"channel":"user:1","type":"withdrawn","withdraws":23,%1})"_s.arg(ts),
    };
    for (const QString &f : frames)
        peer->sendTextMessage(f);
    QTRY_COMPARE(got.ids.size(), 4);
    QCOMPARE(got.ids,
             (QList<qint64>{11, 21, 22, 23})); // not the update, withdrawals, the expired one, events
    QCOMPARE(reads.size(), 4);
    QCOMPARE(reads.at(0).kind, Herald::ReadEvent::Kind::Read);
    QCOMPARE(reads.at(0).ids, QList<qint64>{11});
    QCOMPARE(reads.at(0).unread, 0);
    QCOMPARE(reads.at(0).userId, u"1"_s);
    QCOMPARE(reads.at(1).kind, Herald::ReadEvent::Kind::Unread);
    QCOMPARE(reads.at(1).ids, (QList<qint64>{11, 9}));
    QCOMPARE(reads.at(1).unread, 2);
    QCOMPARE(reads.at(2).kind, Herald::ReadEvent::Kind::Deleted);
    QVERIFY(reads.at(3).all);
    QCOMPARE(reads.at(3).upTo, qint64(14));
    QCOMPARE(reads.at(3).id, qint64(15));
    QCOMPARE(settings.size(), 1);
    QCOMPARE(settings.first().at(1).toJsonObject().value("min_priority"_L1).toInt(), 4);
    QCOMPARE(replaced.size(), 1);
    QCOMPARE(replaced.first().at(0).toLongLong(), 11LL);
    QCOMPARE(replaced.first().at(1).value<Herald::Message>().title, u"a2"_s);
    QCOMPARE(withdrawn.size(), 2);
    QCOMPARE(withdrawn.first().at(0).toLongLong(), 17LL);
    QCOMPARE(withdrawn.first().at(1).toString(), u"user:1"_s);
    QCOMPARE(withdrawn.first().at(2).toLongLong(), 17LL); // no `chain` sent: the id stands for it
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.first().at(0).value<Client::Error>(), Client::Error::ServerError);
    QCOMPARE(client.lastId(), qint64(24));
    // 22 expires while shown; 23 was withdrawn before it could.
    QTRY_COMPARE(expired.size(), 1);
    QCOMPARE(expired.first().at(0).toLongLong(), 22LL);
    QTest::qWait(50);
    QCOMPARE(expired.size(), 1);
    client.close();
}

void tst_HeraldClient::markAllRead()
{
    const qint64 a = publish(u"user:1"_s, u"a"_s);
    publish(u"user:1"_s, u"b"_s);
    Client client;
    client.setServerUrl(QUrl(url()));
    client.setUserId(u"1"_s);
    QSignalSpy finished(&client, &Client::requestFinished);
    const int req = client.markAllRead();
    QTRY_COMPARE(finished.size(), 1);
    QCOMPARE(finished.first().at(0).toInt(), req);
    QVERIFY2(finished.first().at(1).toBool(), qPrintable(finished.first().at(3).toString()));
    QCOMPARE(finished.first().at(2).toInt(), 200);
    QCOMPARE(finished.first().at(3).toJsonObject().value("unread"_L1).toInt(), 0);
    const QJsonObject queue = http("GET", m_port, u"/api/notifications?user_id=1"_s).json();
    QCOMPARE(queue.value("unread"_L1).toInt(), 0);

    // A failure says so, with the server's error.
    QSignalSpy errors(&client, &Client::errorOccurred);
    client.deleteNotification(a + 1000);
    QTRY_COMPARE(finished.size(), 2);
    QVERIFY(!finished.last().at(1).toBool());
    QVERIFY(finished.last().at(2).toInt() >= 400);
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.first().at(0).value<Client::Error>(), Client::Error::RequestFailed);
}

void tst_HeraldClient::updatesAndWithdrawals()
{
    Client client;
    Received got;
    got.watch(client);
    QSignalSpy replaced(&client, &Client::replaced);
    QSignalSpy withdrawn(&client, &Client::withdrawn);
    QSignalSpy finished(&client, &Client::requestFinished);
    client.setServerUrl(QUrl(url()));
    client.setChannels({u"builds"_s});
    client.open();
    QTRY_COMPARE(client.state(), State::Connected);
    const qint64 first = publish(u"builds"_s, u"40 %"_s);
    QTRY_COMPARE(got.ids, QList<qint64>{first});

    // An update names the message it replaces; the client says which.
    client.publish(u"builds"_s, QJsonObject{{"title"_L1, u"80 %"_s}, {"replaces"_L1, first}});
    QTRY_COMPARE(replaced.size(), 1);
    QCOMPARE(replaced.first().at(0).toLongLong(), first);
    const auto update = replaced.first().at(1).value<Herald::Message>();
    QCOMPARE(update.title, u"80 %"_s);
    QCOMPARE(got.ids.size(), 1); // an update is not a new message

    // Withdrawn through the client: the chain's latest goes.
    client.withdraw(first);
    QTRY_COMPARE(withdrawn.size(), 1);
    QCOMPARE(withdrawn.first().at(0).toLongLong(), update.id);
    QCOMPARE(withdrawn.first().at(1).toString(), u"builds"_s);

    // Withdrawn while the client was away: the resume brings the withdrawal.
    const qint64 second = publish(u"builds"_s, u"build 8"_s);
    QTRY_COMPARE(got.ids.size(), 2);
    client.close();
    QCOMPARE(http("DELETE", m_port, u"/api/messages/%1"_s.arg(second)).status, 200);
    client.open();
    QTRY_COMPARE(withdrawn.size(), 2);
    QCOMPARE(withdrawn.last().at(0).toLongLong(), second);
    QCOMPARE(got.ids.size(), 2);
    QTRY_COMPARE(finished.size(), 2);
    QVERIFY(finished.at(0).at(1).toBool() && finished.at(1).at(1).toBool());
}

void tst_HeraldClient::chainAcrossResume()
{
    // A client that saw A resumes after A became B and then C: the update names B, which it never saw, and
    // the chain's first id, A, which it holds. A consumer that keeps one entry per chain (the dashboard, the
    // notifier) drops A for C, and on a later resume drops C for the withdrawal.
    struct Entry
    {
        qint64 id;
        qint64 chain;
        bool operator==(const Entry &) const = default;
    };
    QList<Entry> shown;
    const auto chainOf = [](const Herald::Message &m) {
        return m.chainId();
    };
    Client client;
    connect(&client, &Client::messageReceived, this, [&](const Herald::Message &m, Delivery) {
        shown.append({m.id, chainOf(m)});
    });
    QList<qint64> replacedIds;
    connect(&client, &Client::replaced, this, [&](qint64 replacedId, const Herald::Message &m, Delivery) {
        replacedIds.append(replacedId);
        shown.removeIf([&](const Entry &e) {
            return e.id == replacedId || (m.notification.chain > 0 && e.chain == m.notification.chain);
        });
        shown.append({m.id, chainOf(m)});
    });
    QSignalSpy withdrawn(&client, &Client::withdrawn);
    connect(&client, &Client::withdrawn, this, [&](qint64 id, const QString &, qint64 chain) {
        shown.removeIf([&](const Entry &e) { return e.id == id || e.chain == chain; });
    });
    client.setServerUrl(QUrl(url()));
    client.setChannels({u"builds"_s});
    client.open();
    QTRY_COMPARE(client.state(), State::Connected);
    const qint64 a = publish(u"builds"_s, u"40 %"_s);
    QTRY_COMPARE(shown, (QList<Entry>{{a, a}}));
    client.close();

    const auto update = [this](const QString &title, qint64 replaces) {
        const HttpResult r =
            http("POST", m_port, u"/api/publish"_s,
                 Herald::compactJson(
                     {{"channel"_L1, "builds"_L1}, {"title"_L1, title}, {"replaces"_L1, replaces}}));
        return r.status == 202 ? r.json().value("id"_L1).toInteger() : 0;
    };
    const qint64 b = update(u"80 %"_s, a);
    const qint64 c = update(u"done"_s, b);
    QVERIFY(b > a && c > b);
    client.open();
    QTRY_COMPARE(shown, (QList<Entry>{{c, a}}));
    QCOMPARE(replacedIds, QList<qint64>{b});

    client.close();
    QCOMPARE(http("DELETE", m_port, u"/api/messages/%1"_s.arg(a)).status, 200);
    client.open();
    QTRY_COMPARE(withdrawn.size(), 1);
    QCOMPARE(withdrawn.first().at(0).toLongLong(), c);
    QCOMPARE(withdrawn.first().at(1).toString(), u"builds"_s);
    QCOMPARE(withdrawn.first().at(2).toLongLong(), a);
    QVERIFY(shown.isEmpty());
}

void tst_HeraldClient::readEventsFromServer()
{
    // The read state as the server publishes it on reads:1, whoever changes it (this client's REST helpers, a
    // browser), live and, after an outage, replayed in order with the messages.
    Client client;
    Received got;
    got.watch(client);
    QList<Herald::ReadEvent> reads;
    QList<Delivery> readDeliveries;
    connect(&client, &Client::readStateChanged, this, [&](const Herald::ReadEvent &e) {
        reads.append(e);
        readDeliveries.append(client.isReplaying() ? Delivery::Replayed : Delivery::Live);
    });
    QSignalSpy settings(&client, &Client::settingsChanged);
    QSignalSpy finished(&client, &Client::requestFinished);
    client.setServerUrl(QUrl(url()));
    client.setUserId(u"1"_s);
    client.setResumeFile(resumeFile());
    client.open();
    QTRY_COMPARE(client.state(), State::Connected);
    const qint64 a = publish(u"user:1"_s, u"a"_s);
    const qint64 b = publish(u"user:1"_s, u"b"_s);
    QTRY_COMPARE(got.ids, (QList<qint64>{a, b}));

    client.markRead({a});
    QTRY_COMPARE(reads.size(), 1);
    QCOMPARE(reads.at(0).kind, Herald::ReadEvent::Kind::Read);
    QCOMPARE(reads.at(0).ids, QList<qint64>{a});
    QCOMPARE(reads.at(0).unread, 1);
    QCOMPARE(reads.at(0).userId, u"1"_s);
    client.markUnread({a});
    QTRY_COMPARE(reads.size(), 2);
    QCOMPARE(reads.at(1).kind, Herald::ReadEvent::Kind::Unread);
    QCOMPARE(reads.at(1).unread, 2);
    client.markAllRead();
    QTRY_COMPARE(reads.size(), 3);
    QVERIFY(reads.at(2).all);
    QVERIFY(reads.at(2).upTo >= b);
    QCOMPARE(reads.at(2).unread, 0);
    client.deleteNotification(b);
    QTRY_COMPARE(reads.size(), 4);
    QCOMPARE(reads.at(3).kind, Herald::ReadEvent::Kind::Deleted);
    QCOMPARE(reads.at(3).ids, QList<qint64>{b});
    QTRY_COMPARE(finished.size(), 4);
    for (const auto &f : std::as_const(finished))
        QVERIFY2(f.at(1).toBool(),
                 qPrintable(QString::fromUtf8(QJsonDocument(f.at(3).toJsonObject()).toJson())));
    QCOMPARE(readDeliveries.count(Delivery::Live), 4);

    const HttpResult put = http("PUT", m_port, u"/api/users/1/settings"_s, R"({"min_priority":5})");
    QCOMPARE(put.status, 200);
    QTRY_COMPARE(settings.size(), 1);
    QCOMPARE(settings.first().at(0).toString(), u"1"_s);
    QCOMPARE(settings.first().at(1).toJsonObject().value("min_priority"_L1).toInt(), 5);

    // Away: a browser marks one unread and a new one arrives; back, both come in order, once.
    client.close();
    QCOMPARE(http("POST", m_port, u"/api/notifications/unread"_s,
                  R"({"user_id":"1","ids":[%1]})"_ba.replace("%1", QByteArray::number(a)))
                 .status,
             200);
    const qint64 c = publish(u"user:1"_s, u"c"_s);
    client.open();
    QTRY_COMPARE(got.ids.size(), 3);
    QCOMPARE(got.ids.last(), c);
    QTRY_COMPARE(reads.size(), 5);
    QCOMPARE(reads.at(4).kind, Herald::ReadEvent::Kind::Unread);
    QCOMPARE(reads.at(4).ids, QList<qint64>{a});
    QCOMPARE(readDeliveries.at(4), Delivery::Replayed);
    QVERIFY(reads.at(4).id < c); // in id order with the message
    QTest::qWait(100);
    QCOMPARE(reads.size(), 5);
    QCOMPARE(got.ids.size(), 3);
}

QTEST_MAIN(tst_HeraldClient)
#include "tst_heraldclient.moc"
