#include "auth.h"
#include "datarows.h"
#include "expirytimer.h"
#include "hub.h"
#include "rawclient.h"
#include "server.h"
#include "serveroptions.h"
#include "testclient.h"
#include "testserver.h"

#include <QCryptographicHash>
#include <QFile>
#include <QMessageAuthenticationCode>
#include <QMutex>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using namespace HeraldTest;
using Herald::Role;
using Herald::ServerConfig;

namespace {

// The server's HS256 key (at least 32 bytes), and another one that must never be accepted.
const QByteArray Secret = "tst_security: a test key for HS256, 0123456789abcdef";
const QByteArray OtherSecret = "tst_security: not the server's key, fedcba9876543210";

QByteArray b64url(const QByteArray &bytes)
{
    return bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

qint64 nowSecs()
{
    return QDateTime::currentSecsSinceEpoch();
}

QByteArray mint(const QString &sub, Role role, const QStringList &channels = {},
                std::chrono::seconds ttl = std::chrono::hours(1), const QByteArray &key = Secret)
{
    return Herald::TokenVerifier(key).mint(sub, role, ttl, channels);
}

Role roleNamed(const QString &name)
{
    return Herald::roleFromName(name).value_or(Role::Subscriber);
}

// A JWT built by hand, for what mint() never produces: other algorithms, odd or missing claims.
QByteArray craft(const QJsonObject &header, const QJsonObject &claims, const QByteArray &key = Secret,
                 QCryptographicHash::Algorithm hash = QCryptographicHash::Sha256)
{
    const QByteArray input = b64url(Herald::compactJson(header)) + '.' + b64url(Herald::compactJson(claims));
    return input + '.' + b64url(QMessageAuthenticationCode::hash(input, key, hash));
}

QJsonObject jwtHeader(const char *alg)
{
    return {{"alg"_L1, QLatin1StringView(alg)}, {"typ"_L1, "JWT"_L1}};
}

// alice, a subscriber, valid for an hour.
QJsonObject aliceClaims()
{
    return {{"sub"_L1, "alice"_L1}, {"role"_L1, "subscriber"_L1}, {"exp"_L1, nowSecs() + 3600}};
}

// Remove: with(o, key, Remove) drops the claim.
const QJsonValue Remove(QJsonValue::Undefined);

QJsonObject with(QJsonObject o, const QString &key, const QJsonValue &value)
{
    if (value.isUndefined())
        o.remove(key);
    else
        o.insert(key, value);
    return o;
}

QByteArray publishBody(const QString &channel, const QString &text)
{
    return Herald::compactJson({{"channel"_L1, channel}, {"message"_L1, text}});
}

// Collects the warnings logged while it lives, from any thread (the server's I/O threads log here too).
class WarningWatch
{
public:
    WarningWatch()
    {
        QMutexLocker lock(&s_mutex);
        s_warnings.clear();
        s_previous = qInstallMessageHandler(handler);
    }
    ~WarningWatch() { qInstallMessageHandler(s_previous); }
    QStringList warnings() const
    {
        QMutexLocker lock(&s_mutex);
        return s_warnings;
    }

private:
    static void handler(QtMsgType type, const QMessageLogContext &context, const QString &message)
    {
        if (type == QtWarningMsg) {
            QMutexLocker lock(&s_mutex);
            s_warnings.append(message);
        }
        if (s_previous)
            s_previous(type, context, message);
    }
    static inline QMutex s_mutex;
    static inline QStringList s_warnings;
    static inline QtMessageHandler s_previous = nullptr;
};

QByteArray dump(const HttpReply &r)
{
    return r.head + "\n" + r.body;
}

qsizetype countFrames(const QList<QJsonObject> &frames, const QString &key, const QString &value)
{
    return std::count_if(frames.cbegin(), frames.cend(),
                         [&](const QJsonObject &o) { return o.value(key).toString() == value; });
}

std::optional<QJsonObject> findFrame(const QList<QJsonObject> &frames, const QString &key,
                                     const QString &value)
{
    for (const QJsonObject &o : frames) {
        if (o.value(key).toString() == value)
            return o;
    }
    return std::nullopt;
}

QList<qint64> idsOn(const QList<QJsonObject> &frames, const QString &channel)
{
    QList<qint64> ids;
    for (const QJsonObject &o : frames) {
        if (o.value("channel"_L1).toString() == channel && o.value("id"_L1).toInteger() > 0)
            ids.append(o.value("id"_L1).toInteger());
    }
    return ids;
}

// A JSON object of exactly `size` bytes, padded in its "message".
QByteArray paddedJson(QJsonObject o, qsizetype size)
{
    o.insert("message"_L1, QString());
    const qsizetype base = Herald::compactJson(o).size();
    o.insert("message"_L1, QString(qMax<qsizetype>(0, size - base), u'x'));
    return Herald::compactJson(o);
}

QStringList channelNames(const QJsonObject &channelsReply)
{
    QStringList names;
    for (const QJsonValue &v : channelsReply.value("channels"_L1).toArray())
        names.append(v.toObject().value("name"_L1).toString());
    return names;
}

} // namespace

// SPEC section 7 on real sockets: token authentication on every transport, roles and channel allow-lists,
// origins, size and rate limits, the per-IP cap, slow consumers, idle connections, and the configuration
// that turns it on. Each test starts its own in-process server on 127.0.0.1, port 0.
class tst_Security : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    // 1. Token mode without a token.
    void publicRoutesNeedNoToken_data();
    void publicRoutesNeedNoToken();
    void protectedRoutesNeedToken_data();
    void protectedRoutesNeedToken();
    void sseNeedsToken_data();
    void sseNeedsToken();
    void wsFirstFrameMustAuthenticate_data();
    void wsFirstFrameMustAuthenticate();
    void wsAuthenticationTimesOut();
    void unauthenticatedWsGetsNoBroadcasts();
    void clientIdBelongsToItsUser();
    void clientIdOwnership_data();
    void clientIdOwnership();
    void clientIdClaimLingers();
    void clientIdsInOpenMode();

    // 2. The tokens themselves and where they travel.
    void tokens_data();
    void tokens();
    void tokenTransports_data();
    void tokenTransports();
    void openModeBrowserRules_data();
    void openModeBrowserRules();
    void httpConformance_data();
    void httpConformance();
    void headerTokenWins_data();
    void headerTokenWins();
    void senderIsTheIdentity_data();
    void senderIsTheIdentity();

    // 3. Roles and channels.
    void wsRoutes_data();
    void wsRoutes();
    void wsActions_data();
    void wsActions();
    void sseRoutes_data();
    void sseRoutes();
    void restRules_data();
    void restRules();
    void notificationsOfAnotherUser();
    void channelListIsFiltered();
    void statsDoNotRevealOtherUsersQueues();

    // 4. and 5.
    void refusalsAreCounted();
    void tokenExpiryEndsConnections();
    void tokenLifetimes_data();
    void tokenLifetimes();
    void expiryTimer_data();
    void expiryTimer();
    void tokenRefresh();

    // 6. Origins and CORS.
    void originAllowList_data();
    void originAllowList();
    void corsWithoutAllowList();
    void corsPreflight();

    // 7. Limits (open mode).
    void messageSizeLimits();
    void bodyAnnouncedTwiceIsRefused();
    void requestSmugglingIsRefused_data();
    void requestSmugglingIsRefused();
    void perIpConnectionCap();
    void rateLimitBurst();
    void rateLimitSteadyStream();
    void rateLimitFlood();
    void slowConsumerIsCutOff();
    void idleTimeout();
    void slowBodyTimesOut_data();
    void slowBodyTimesOut();
    void unreadAnswerTimesOut();
    void slowHeadTimesOut_data();
    void slowHeadTimesOut();
    void keepAliveUnreadAnswersTimeOut();
    void unreadStreamTimesOut_data();
    void unreadStreamTimesOut();
    void subscriptionCap();
    void subscriptionCapAtConnect_data();
    void subscriptionCapAtConnect();
    void channelListIsPaged();
    void channelListLimits_data();
    void channelListLimits();

    // 10. Keep-alive: the hot REST routes keep their connection, and every head on it is still checked.
    void keepAlivePublishesOnOneConnection();
    void keepAlivePipelined();
    void keepAliveSecondHeadIsChecked_data();
    void keepAliveSecondHeadIsChecked();
    void keepAliveThenSession_data();
    void keepAliveThenSession();
    void hotRoutesAnswerAsQHttpServer_data();
    void hotRoutesAnswerAsQHttpServer();
    void keepAliveEnds_data();
    void keepAliveEnds();
    void keepAliveOtherRoutesClose();
    void keepAliveIdleTimeout();
    void keepAliveBodyInPieces();
    void keepAliveHeadInPieces_data();
    void keepAliveHeadInPieces();
    void keepAliveOtherHeadInPieces();
    void keepAliveClientLeavesMidBody();
    void keepAliveWaitsForASlowReader();

    // 8. and 9. Configuration.
    void startRefusals_data();
    void startRefusals();
    void authModeResolution_data();
    void authModeResolution();
    void tokenSubcommand_data();
    void tokenSubcommand();

private:
    bool startServer(const std::function<void(ServerConfig &)> &adjust = {});
    // In open mode (no tokens), then `adjust`ed.
    bool startOpenServer(const std::function<void(ServerConfig &)> &adjust = {})
    {
        return startServer([&adjust](ServerConfig &c) {
            c.authMode = ServerConfig::AuthMode::Open;
            if (adjust)
                adjust(c);
        });
    }
    QByteArray adminToken() const { return mint(u"root"_s, Role::Admin); }
    HttpReply request(const QByteArray &method, const QByteArray &target, const QByteArray &token = {},
                      const QByteArray &body = {}, const QByteArray &headers = {});
    int upgrade(const QByteArray &target, const QByteArray &headers = {}, HttpReply *reply = nullptr);
    HttpReply sse(const QByteArray &target, const QByteArray &headers = {});
    std::unique_ptr<WsClient> ws(const QByteArray &target);
    HttpReply raw(const QByteArray &bytes);
    qint64 publishAsAdmin(const QString &channel, const QString &text);
    qint64 metric(const QByteArray &sample);

    std::unique_ptr<QTemporaryDir> m_dir;
    QString m_secretFile;
    std::unique_ptr<Herald::Server> m_server;
    quint16 m_port = 0;
};

void tst_Security::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_secretFile = m_dir->filePath(u"jwt.secret"_s);
    QFile f(m_secretFile);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(Secret + '\n');
}

void tst_Security::cleanup()
{
    m_server.reset();
    m_dir.reset();
}

bool tst_Security::startServer(const std::function<void(ServerConfig &)> &adjust)
{
    m_server.reset();
    m_server = startTestServer(m_dir->filePath(u"data"_s), [this, &adjust](ServerConfig &config) {
        config.authMode = ServerConfig::AuthMode::Token;
        config.jwtSecretFile = m_secretFile;
        if (adjust)
            adjust(config);
    });
    if (!m_server)
        return false;
    m_port = m_server->port();
    return true;
}

HttpReply tst_Security::request(const QByteArray &method, const QByteArray &target, const QByteArray &token,
                                const QByteArray &body, const QByteArray &headers)
{
    RawClient c;
    if (!c.connectTo(m_port))
        return {};
    c.write(httpRequest(method, target, headers + (token.isEmpty() ? QByteArray() : bearer(token)), body));
    return c.readResponse();
}

int tst_Security::upgrade(const QByteArray &target, const QByteArray &headers, HttpReply *reply)
{
    RawClient c;
    if (!c.connectTo(m_port))
        return -1;
    c.write(upgradeRequest(target, headers));
    const HttpReply r = c.readResponse();
    if (reply)
        *reply = r;
    return r.status;
}

HttpReply tst_Security::sse(const QByteArray &target, const QByteArray &headers)
{
    RawClient c;
    if (!c.connectTo(m_port))
        return {};
    c.write(httpRequest("GET", target, "Accept: text/event-stream\r\n" + headers));
    return c.readResponse();
}

std::unique_ptr<WsClient> tst_Security::ws(const QByteArray &target)
{
    return openWs(m_port, QString::fromLatin1(target));
}

qint64 tst_Security::publishAsAdmin(const QString &channel, const QString &text)
{
    const HttpReply r = request("POST", "/api/publish", adminToken(),
                                Herald::compactJson({{"channel"_L1, channel}, {"message"_L1, text}}));
    return r.status == 202 ? r.json().value("id"_L1).toInteger() : -1;
}

qint64 tst_Security::metric(const QByteArray &sample)
{
    const HttpReply r = request("GET", "/metrics", adminToken());
    for (const QByteArray &line : r.body.split('\n')) {
        if (line.startsWith(QByteArray(sample + ' ')))
            return line.mid(sample.size() + 1).toLongLong();
    }
    return -1;
}

// ---- 1. Token mode without a token ----

void tst_Security::publicRoutesNeedNoToken_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QByteArray>("contentType");
    QTest::newRow("client page") << QByteArray("/") << QByteArray("text/html");
    QTest::newRow("stylesheet") << QByteArray("/static/bootstrap/css/bootstrap.min.css")
                                << QByteArray("text/css");
    QTest::newRow("sound") << QByteArray("/static/notification.wav") << QByteArray("audio/wav");
    QTest::newRow("health") << QByteArray("/healthz") << QByteArray("application/json");
}

void tst_Security::publicRoutesNeedNoToken()
{
    QFETCH(QByteArray, path);
    QFETCH(QByteArray, contentType);
    QVERIFY(startServer());
    const HttpReply r = request("GET", path);
    QCOMPARE(r.status, 200);
    QVERIFY2(r.header("content-type").startsWith(contentType), r.head.constData());
    QVERIFY(!r.body.isEmpty());
    // A bad token does not turn a public page into a refusal either.
    QCOMPARE(request("GET", path, "garbage").status, 200);
}

void tst_Security::protectedRoutesNeedToken_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("adminStatus"); // the same request with an admin token

    QTest::newRow("GET /ws/stats") << QByteArray("GET") << QByteArray("/ws/stats") << QByteArray() << 200;
    QTest::newRow("GET /api/stats") << QByteArray("GET") << QByteArray("/api/stats") << QByteArray() << 200;
    QTest::newRow("GET /metrics") << QByteArray("GET") << QByteArray("/metrics") << QByteArray() << 200;
    QTest::newRow("GET /api/notifications")
        << QByteArray("GET") << QByteArray("/api/notifications?user_id=1") << QByteArray() << 200;
    QTest::newRow("GET /api/channels")
        << QByteArray("GET") << QByteArray("/api/channels") << QByteArray() << 200;
    QTest::newRow("GET history") << QByteArray("GET") << QByteArray("/api/channels/news/history")
                                 << QByteArray() << 404;
    QTest::newRow("GET /users/") << QByteArray("GET") << QByteArray("/users/") << QByteArray() << 200;
    QTest::newRow("GET /users/1") << QByteArray("GET") << QByteArray("/users/1") << QByteArray() << 404;
    QTest::newRow("GET /posts/") << QByteArray("GET") << QByteArray("/posts/") << QByteArray() << 200;
    QTest::newRow("POST /users/") << QByteArray("POST") << QByteArray("/users/")
                                  << QByteArray(R"({"email":"ann@example.com","name":"Ann"})") << 201;
    QTest::newRow("PATCH /users/1") << QByteArray("PATCH") << QByteArray("/users/1")
                                    << QByteArray(R"({"name":"Bea"})") << 404;
    QTest::newRow("DELETE /users/1") << QByteArray("DELETE") << QByteArray("/users/1") << QByteArray() << 404;
    QTest::newRow("POST /api/publish") << QByteArray("POST") << QByteArray("/api/publish")
                                       << QByteArray(R"({"channel":"news","message":"hi"})") << 202;
    QTest::newRow("POST /api/broadcast")
        << QByteArray("POST") << QByteArray("/api/broadcast") << QByteArray(R"({"message":"all"})") << 202;
    QTest::newRow("POST custom event") << QByteArray("POST") << QByteArray("/api/channels/news/events")
                                       << QByteArray(R"({"type":"deploy"})") << 202;
    QTest::newRow("POST read") << QByteArray("POST") << QByteArray("/api/notifications/1/read")
                               << QByteArray() << 404;
    QTest::newRow("POST read-all") << QByteArray("POST")
                                   << QByteArray("/api/notifications/read-all?user_id=1") << QByteArray()
                                   << 200;
}

void tst_Security::protectedRoutesNeedToken()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, path);
    QFETCH(QByteArray, body);
    QFETCH(int, adminStatus);
    QVERIFY(startServer());

    const HttpReply anonymous = request(method, path, {}, body);
    QCOMPARE(anonymous.status, 401);
    QVERIFY2(anonymous.header("content-type").startsWith("application/json"), anonymous.head.constData());
    QCOMPARE(anonymous.json().value("error"_L1).toString(), u"unauthorized"_s);
    QVERIFY(!anonymous.json().value("detail"_L1).toString().isEmpty());
    QCOMPARE(anonymous.header("www-authenticate"), QByteArray("Bearer"));

    QCOMPARE(request(method, path, "not.a.token", body).status, 401);
    const HttpReply admin = request(method, path, adminToken(), body);
    QVERIFY2(admin.status == adminStatus, dump(admin).constData());
}

void tst_Security::sseNeedsToken_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::newRow("user queue") << QByteArray("/events?user_id=1");
    QTest::newRow("seed 002 path") << QByteArray("/events/1");
    QTest::newRow("channels") << QByteArray("/events?channels=news");
    QTest::newRow("nothing") << QByteArray("/events");
}

void tst_Security::sseNeedsToken()
{
    QFETCH(QByteArray, path);
    QVERIFY(startServer());
    const HttpReply anonymous = sse(path);
    QCOMPARE(anonymous.status, 401);
    QCOMPARE(anonymous.json().value("error"_L1).toString(), u"unauthorized"_s);
    QCOMPARE(anonymous.header("www-authenticate"), QByteArray("Bearer"));
    QCOMPARE(sse(withToken(path, "garbage")).status, 401);

    const HttpReply admin = sse(withToken(path, adminToken()));
    QCOMPARE(admin.status, 200);
    QVERIFY(admin.header("content-type").startsWith("text/event-stream"));
}

void tst_Security::wsFirstFrameMustAuthenticate_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QString>("frame");
    QTest::addColumn<QString>("welcome");    // the frame the route sends once authenticated; empty: refused
    QTest::addColumn<QString>("reasonPart"); // part of the close reason when refused

    const auto auth = [](const QByteArray &token) {
        return QString::fromUtf8(
            Herald::compactJson({{"type"_L1, "auth"_L1}, {"token"_L1, QString::fromLatin1(token)}}));
    };
    QTest::newRow("ping") << QByteArray("/ws") << u"{\"type\":\"ping\"}"_s << QString()
                          << u"authentication required"_s;
    QTest::newRow("subscribe") << QByteArray("/ws") << u"{\"action\":\"subscribe\",\"channel\":\"news\"}"_s
                               << QString() << u"authentication required"_s;
    QTest::newRow("publish") << QByteArray("/ws")
                             << u"{\"action\":\"publish\",\"channel\":\"news\",\"message\":\"x\"}"_s
                             << QString() << u"authentication required"_s;
    QTest::newRow("invalid json") << QByteArray("/ws") << u"{"_s << QString() << u"authentication required"_s;
    QTest::newRow("auth without token")
        << QByteArray("/ws") << u"{\"type\":\"auth\"}"_s << QString() << u"token"_s;
    QTest::newRow("auth with garbage") << QByteArray("/ws") << auth("garbage") << QString() << u"invalid"_s;
    QTest::newRow("auth, other key") << QByteArray("/ws")
                                     << auth(mint(u"alice"_s, Role::Subscriber, {}, 1h, OtherSecret))
                                     << QString() << u"invalid"_s;
    QTest::newRow("admin feed, ping")
        << QByteArray("/ws/server") << u"{\"type\":\"ping\"}"_s << QString() << u"authentication required"_s;
    QTest::newRow("alice on her queue")
        << QByteArray("/ws?user_id=alice") << auth(mint(u"alice"_s, Role::Subscriber)) << u"connected"_s
        << QString();
    QTest::newRow("bob on alice's queue")
        << QByteArray("/ws?user_id=alice") << auth(mint(u"bob"_s, Role::Subscriber)) << QString()
        << u"another user"_s;
    QTest::newRow("allow-list, outside")
        << QByteArray("/ws?channels=other") << auth(mint(u"alice"_s, Role::Subscriber, {u"news"_s}))
        << QString() << u"other"_s;
    QTest::newRow("admin on the admin feed")
        << QByteArray("/ws/server") << auth(mint(u"root"_s, Role::Admin)) << u"snapshot"_s << QString();
    QTest::newRow("publisher on the admin feed")
        << QByteArray("/ws/server") << auth(mint(u"pub"_s, Role::Publisher)) << QString() << u"admin"_s;
    QTest::newRow("model channel") << QByteArray("/ws/users")
                                   << auth(mint(u"alice"_s, Role::Subscriber, {u"users"_s}))
                                   << u"connection"_s << QString();
}

void tst_Security::wsFirstFrameMustAuthenticate()
{
    QFETCH(QByteArray, path);
    QFETCH(QString, frame);
    QFETCH(QString, welcome);
    QFETCH(QString, reasonPart);
    QVERIFY(startServer());

    // No token at the upgrade: it goes ahead, and nothing is said before the first frame authenticates.
    auto c = ws(path);
    QVERIFY(c);
    c->sendText(frame);
    if (welcome.isEmpty()) {
        QVERIFY(c->waitDisconnected());
        QCOMPARE(c->closeCode(), 1008);
        QVERIFY2(c->closeReason().contains(reasonPart), qPrintable(c->closeReason()));
        QVERIFY(!findFrame(c->frames(), u"type"_s, u"connected"_s));
        QVERIFY(!findFrame(c->frames(), u"type"_s, u"snapshot"_s));
        QVERIFY(!findFrame(c->frames(), u"type"_s, u"authenticated"_s));
        return;
    }
    const auto authenticated = c->waitFor(u"authenticated"_s);
    QVERIFY(authenticated);
    QCOMPARE(authenticated->value("auth"_L1).toString(), u"token"_s);
    QVERIFY(c->waitFor(welcome));
    if (welcome == u"connected"_s) {
        QCOMPARE(c->frames().size(), 0);
        c->send({{"type"_L1, "ping"_L1}});
        QVERIFY(c->waitFor(u"pong"_s));
    }
    QVERIFY(c->isConnected());
}

void tst_Security::wsAuthenticationTimesOut()
{
    QVERIFY(startServer([](ServerConfig &c) { c.handshakeTimeout = 400ms; }));
    auto silent = ws("/ws");
    auto prompt = ws("/ws");
    QVERIFY(silent && prompt);
    prompt->send(
        {{"type"_L1, "auth"_L1}, {"token"_L1, QString::fromLatin1(mint(u"alice"_s, Role::Subscriber))}});
    QVERIFY(prompt->waitFor(u"authenticated"_s));

    QVERIFY(silent->waitDisconnected());
    QCOMPARE(silent->closeCode(), 1008);
    QVERIFY2(silent->closeReason().startsWith(u"authentication required"_s),
             qPrintable(silent->closeReason()));
    // The one that authenticated in time is past the same deadline and still served.
    QVERIFY(prompt->isConnected());
    prompt->send({{"type"_L1, "ping"_L1}});
    QVERIFY(prompt->waitFor(u"pong"_s));
}

void tst_Security::unauthenticatedWsGetsNoBroadcasts()
{
    QVERIFY(startServer());
    auto member = ws(withToken("/ws", mint(u"alice"_s, Role::Subscriber)));
    QVERIFY(member);
    QVERIFY(member->waitFor(u"connected"_s));
    auto stranger = ws("/ws"); // upgraded, its auth frame still to come
    QVERIFY(stranger);
    QTRY_COMPARE(m_server->hub()->counts().clients, 2);

    const HttpReply r = request("POST", "/api/broadcast", adminToken(), R"({"message":"members only"})");
    QCOMPARE(r.status, 202);
    QTRY_VERIFY(findFrame(member->frames(), u"message"_s, u"members only"_s));
    // Delivery to both happens in the same pass of each worker; give the other worker a moment too.
    QTest::qWait(200);
    QVERIFY(!findFrame(stranger->frames(), u"message"_s, u"members only"_s));
}

void tst_Security::clientIdBelongsToItsUser()
{
    // A client id's personal channel (client:<id>) is its user's: another user cannot take the id while it is
    // connected, neither at the upgrade nor by authenticating with the first frame.
    QVERIFY(startServer());
    auto alice = ws(withToken("/ws?client_id=shared", mint(u"alice"_s, Role::Subscriber)));
    QVERIFY(alice);
    QVERIFY(alice->waitFor(u"connected"_s));

    QCOMPARE(upgrade(withToken("/ws?client_id=shared", mint(u"bob"_s, Role::Subscriber))), 403);

    auto bob = ws("/ws?client_id=shared");
    QVERIFY(bob);
    bob->send({{"type"_L1, "auth"_L1}, {"token"_L1, QString::fromLatin1(mint(u"bob"_s, Role::Subscriber))}});
    QVERIFY(bob->waitDisconnected());
    QCOMPARE(bob->closeCode(), 1008);
    QVERIFY2(bob->closeReason().contains(u"in use by another user"_s), qPrintable(bob->closeReason()));

    // The same user may open it twice (two tabs), and by the first frame too.
    auto again = ws("/ws?client_id=shared");
    QVERIFY(again);
    again->send(
        {{"type"_L1, "auth"_L1}, {"token"_L1, QString::fromLatin1(mint(u"alice"_s, Role::Subscriber))}});
    QVERIFY(again->waitFor(u"authenticated"_s));
    QVERIFY(again->waitFor(u"connected"_s));
    QCOMPARE(upgrade(withToken("/ws?client_id=shared", mint(u"alice"_s, Role::Subscriber))), 101);
}

void tst_Security::clientIdOwnership_data()
{
    // The holder has the id first; then the asker, another identity or the same one, asks for it. A sub of
    // "root" is an admin; an empty holderSub is a WebSocket with no token yet (it would authenticate with its
    // first frame).
    QTest::addColumn<QByteArray>("holder");
    QTest::addColumn<QString>("holderSub");
    QTest::addColumn<QByteArray>("asker");
    QTest::addColumn<QString>("askerSub");
    QTest::addColumn<QString>("clientId");
    QTest::addColumn<bool>("allowed");

    const QString bob = u"bob"_s;
    const QString alice = u"alice"_s;
    QTest::newRow("SSE vs WS") << QByteArray("/ws?client_id=bobtab") << bob
                               << QByteArray("/events?client_id=bobtab") << alice << u"bobtab"_s << false;
    QTest::newRow("WS vs SSE") << QByteArray("/events?client_id=bob-laptop") << bob
                               << QByteArray("/ws?client_id=bob-laptop") << alice << u"bob-laptop"_s << false;
    QTest::newRow("SSE vs SSE") << QByteArray("/events?client_id=bob-laptop") << bob
                                << QByteArray("/events?client_id=bob-laptop") << alice << u"bob-laptop"_s
                                << false;
    QTest::newRow("WS vs WS") << QByteArray("/ws?client_id=bobtab") << bob
                              << QByteArray("/ws?client_id=bobtab") << alice << u"bobtab"_s << false;
    QTest::newRow("seed chat route") << QByteArray("/ws/carol-phone") << u"carol"_s
                                     << QByteArray("/ws/carol-phone") << alice << u"carol-phone"_s << false;
    QTest::newRow("seed chat route vs SSE")
        << QByteArray("/ws/carol-phone") << u"carol"_s << QByteArray("/events?client_id=carol-phone") << alice
        << u"carol-phone"_s << false;
    QTest::newRow("seed client route vs native")
        << QByteArray("/ws/client?client_id=bobdash") << bob << QByteArray("/ws?client_id=bobdash") << alice
        << u"bobdash"_s << false;
    QTest::newRow("model channel route")
        << QByteArray("/ws/users?client_id=bobm") << bob << QByteArray("/ws/users?client_id=bobm") << alice
        << u"bobm"_s << false;

    // A connection without a token holds nothing: the owner still gets in, on any route and transport.
    QTest::newRow("unauthenticated WS squats, owner on WS")
        << QByteArray("/ws?client_id=bobphone") << QString() << QByteArray("/ws?client_id=bobphone") << bob
        << u"bobphone"_s << true;
    QTest::newRow("unauthenticated WS squats, owner on SSE")
        << QByteArray("/ws?client_id=bobphone") << QString() << QByteArray("/events?client_id=bobphone")
        << bob << u"bobphone"_s << true;
    QTest::newRow("unauthenticated WS squats the seed chat route")
        << QByteArray("/ws/carol-phone") << QString() << QByteArray("/ws/carol-phone") << u"carol"_s
        << u"carol-phone"_s << true;
    QTest::newRow("unauthenticated WS squats as the user it names")
        << QByteArray("/ws?client_id=bobphone&user_id=bob") << QString()
        << QByteArray("/ws?client_id=bobphone") << bob << u"bobphone"_s << true;

    // The same identity may use its id on several connections (two tabs, a socket and a stream).
    QTest::newRow("same identity, WS twice")
        << QByteArray("/ws?client_id=bobtab") << bob << QByteArray("/ws?client_id=bobtab") << bob
        << u"bobtab"_s << true;
    QTest::newRow("same identity, WS then SSE")
        << QByteArray("/ws?client_id=bobtab") << bob << QByteArray("/events?client_id=bobtab") << bob
        << u"bobtab"_s << true;
    QTest::newRow("same identity, SSE then WS")
        << QByteArray("/events?client_id=bobtab") << bob << QByteArray("/ws?client_id=bobtab") << bob
        << u"bobtab"_s << true;
    QTest::newRow("same identity, seed chat route twice")
        << QByteArray("/ws/carol-phone") << u"carol"_s << QByteArray("/ws/carol-phone") << u"carol"_s
        << u"carol-phone"_s << true;
    // As before: an administrator may use any id.
    QTest::newRow("admin") << QByteArray("/ws?client_id=bobtab") << bob
                           << QByteArray("/events?client_id=bobtab") << u"root"_s << u"bobtab"_s << true;
}

void tst_Security::clientIdOwnership()
{
    QFETCH(QByteArray, holder);
    QFETCH(QString, holderSub);
    QFETCH(QByteArray, asker);
    QFETCH(QString, askerSub);
    QFETCH(QString, clientId);
    QFETCH(bool, allowed);
    QVERIFY(startServer());
    const auto tokenFor = [](const QString &sub) {
        return mint(sub, sub == u"root"_s ? Role::Admin : Role::Subscriber);
    };
    const auto isSse = [](const QByteArray &target) {
        return target.startsWith("/events");
    };

    std::unique_ptr<WsClient> holderWs;
    RawClient holderSse;
    if (isSse(holder)) {
        QVERIFY(holderSse.connectTo(m_port));
        holderSse.write(
            httpRequest("GET", withToken(holder, tokenFor(holderSub)), "Accept: text/event-stream\r\n"));
        QCOMPARE(holderSse.readResponse().status, 200);
    } else {
        holderWs = ws(holderSub.isEmpty() ? holder : withToken(holder, tokenFor(holderSub)));
        QVERIFY(holderWs);
    }
    QTRY_COMPARE(m_server->hub()->counts().clients, 1);

    // A bare socket, to see the status of a refused upgrade.
    RawClient asking;
    QVERIFY(asking.connectTo(m_port));
    const QByteArray target = withToken(asker, tokenFor(askerSub));
    asking.write(isSse(asker) ? httpRequest("GET", target, "Accept: text/event-stream\r\n")
                              : upgradeRequest(target));
    const HttpReply r = asking.readResponse();
    if (allowed) {
        QVERIFY2(r.status == (isSse(asker) ? 200 : 101), dump(r).constData());
    } else {
        // The refusal the WebSocket path has always given, on SSE too.
        QVERIFY2(r.status == 403, dump(r).constData());
        QCOMPARE(r.json().value("error"_L1).toString(), u"forbidden"_s);
        QVERIFY2(r.json().value("detail"_L1).toString().contains(u"in use by another user"_s),
                 dump(r).constData());
        QVERIFY(asking.waitClosed(5000));
    }
    QTRY_COMPARE(m_server->hub()->counts().clients, allowed ? 2 : 1);

    // A personal message (a publisher's "2FA code") reaches the id's owner, and nobody else.
    const QString secret = u"2FA code 123456"_s;
    QVERIFY(publishAsAdmin(u"client:"_s + clientId, secret) > 0);
    if (allowed)
        QVERIFY(asking.waitForText(secret.toUtf8()));
    if (!holderSub.isEmpty()) {
        if (holderWs)
            QTRY_VERIFY(findFrame(holderWs->frames(), u"message"_s, secret));
        else
            QVERIFY(holderSse.waitForText(secret.toUtf8()));
        return;
    }
    // The squatter got nothing, and authenticating now, as someone else, is too late: the id is taken.
    QTest::qWait(200);
    QVERIFY(!findFrame(holderWs->frames(), u"message"_s, secret));
    holderWs->send({{"type"_L1, "auth"_L1}, {"token"_L1, QString::fromLatin1(tokenFor(u"alice"_s))}});
    QVERIFY(holderWs->waitDisconnected());
    QCOMPARE(holderWs->closeCode(), 1008);
    // "client id … is in use by another user" (or, for /ws?user_id=bob, that user:bob is another user's).
    QVERIFY2(holderWs->closeReason().contains(u"another user"_s), qPrintable(holderWs->closeReason()));
    QVERIFY(!findFrame(holderWs->frames(), u"type"_s, u"authenticated"_s));
}

void tst_Security::clientIdClaimLingers()
{
    // A tab that reloads, or reconnects after a network blip, comes back with the same id: in between, the id
    // is still its owner's, or anyone watching for the gap could take it (and its personal messages).
    QVERIFY(startServer());
    const QByteArray bob = mint(u"bob"_s, Role::Subscriber);
    const QByteArray alice = mint(u"alice"_s, Role::Subscriber);
    auto tab = ws(withToken("/ws?client_id=bobtab", bob));
    QVERIFY(tab && tab->waitFor(u"connected"_s));
    tab->close();
    QTRY_COMPARE(m_server->hub()->counts().clients, 0);

    QCOMPARE(upgrade(withToken("/ws?client_id=bobtab", alice)), 403);
    QCOMPARE(sse(withToken("/events?client_id=bobtab", alice)).status, 403);
    auto squatter = ws("/ws?client_id=bobtab");
    QVERIFY(squatter);
    squatter->send({{"type"_L1, "auth"_L1}, {"token"_L1, QString::fromLatin1(alice)}});
    QVERIFY(squatter->waitDisconnected());
    QCOMPARE(squatter->closeCode(), 1008);
    // Its owner comes back to it, on either transport.
    QCOMPARE(upgrade(withToken("/ws?client_id=bobtab", bob)), 101);
    QCOMPARE(sse(withToken("/events?client_id=bobtab", bob)).status, 200);

    // Once the linger has passed, the id is free again.
    m_server->hub()->setClaimLinger(300ms);
    auto again = ws(withToken("/ws?client_id=bobtab2", bob));
    QVERIFY(again && again->waitFor(u"connected"_s));
    again->close();
    QTRY_COMPARE(m_server->hub()->counts().clients, 0);
    QCOMPARE(upgrade(withToken("/ws?client_id=bobtab2", alice)), 403);
    QTest::qWait(400);
    QCOMPARE(upgrade(withToken("/ws?client_id=bobtab2", alice)), 101);
}

void tst_Security::clientIdsInOpenMode()
{
    // Open mode has no identities (and is loopback-only by default): every id is free for anyone, as the
    // seeds had it, on every transport.
    QVERIFY(startOpenServer());
    auto first = ws("/ws?client_id=shared&user_id=alice");
    QVERIFY(first && first->waitFor(u"connected"_s));
    auto second = ws("/ws?client_id=shared&user_id=bob");
    QVERIFY(second && second->waitFor(u"connected"_s));
    QCOMPARE(sse("/events?client_id=shared&user_id=carol").status, 200);
    QCOMPARE(upgrade("/ws/shared"), 101);
}

// ---- 2. Tokens ----

void tst_Security::tokens_data()
{
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<bool>("accepted");

    const QJsonObject alice = aliceClaims();
    const qint64 now = nowSecs();
    QTest::newRow("minted") << mint(u"alice"_s, Role::Subscriber) << true;
    QTest::newRow("crafted HS256") << craft(jwtHeader("HS256"), alice) << true;
    QTest::newRow("no role: a subscriber")
        << craft(jwtHeader("HS256"), with(alice, u"role"_s, Remove)) << true;
    QTest::newRow("no exp: no expiry") << craft(jwtHeader("HS256"), with(alice, u"exp"_s, Remove)) << true;
    QTest::newRow("fractional exp") << craft(jwtHeader("HS256"),
                                             with(alice, u"exp"_s, double(now + 60) + 0.5))
                                    << true;
    QTest::newRow("exp past year 9999")
        << craft(jwtHeader("HS256"), with(alice, u"exp"_s, qint64(1) << 40)) << true;
    QTest::newRow("exp past 2^63 ms")
        << craft(jwtHeader("HS256"), with(alice, u"exp"_s, qint64(1) << 60)) << true;
    QTest::newRow("nbf in the past") << craft(jwtHeader("HS256"), with(alice, u"nbf"_s, now - 60)) << true;
    QTest::newRow("nbf within the leeway")
        << craft(jwtHeader("HS256"), with(alice, u"nbf"_s, now + 10)) << true;

    QTest::newRow("other key") << mint(u"alice"_s, Role::Subscriber, {}, 1h, OtherSecret) << false;
    {
        // alice's signature on a payload that says admin
        const QByteArray good = craft(jwtHeader("HS256"), alice);
        const QList<QByteArray> parts = good.split('.');
        const QByteArray forged = b64url(Herald::compactJson(with(alice, u"role"_s, u"admin"_s)));
        QTest::newRow("tampered claims")
            << QByteArray(parts.at(0) + '.' + forged + '.' + parts.at(2)) << false;
        QTest::newRow("signature cut off") << QByteArray(parts.at(0) + '.' + parts.at(1) + '.') << false;
        QTest::newRow("signature of another token")
            << QByteArray(parts.at(0) + '.' + parts.at(1) + '.' +
                          craft(jwtHeader("HS256"), with(alice, u"sub"_s, u"bob"_s)).split('.').at(2))
            << false;
    }
    {
        const QByteArray input =
            b64url(Herald::compactJson(jwtHeader("none"))) + '.' + b64url(Herald::compactJson(alice));
        QTest::newRow("alg none, unsigned") << QByteArray(input + '.') << false;
        QTest::newRow("alg none, signed")
            << QByteArray(input + '.' +
                          b64url(QMessageAuthenticationCode::hash(input, Secret, QCryptographicHash::Sha256)))
            << false;
    }
    QTest::newRow("HS512, same key") << craft(jwtHeader("HS512"), alice, Secret, QCryptographicHash::Sha512)
                                     << false;
    QTest::newRow("HS384, same key") << craft(jwtHeader("HS384"), alice, Secret, QCryptographicHash::Sha384)
                                     << false;
    QTest::newRow("no alg") << craft({{"typ"_L1, "JWT"_L1}}, alice) << false;
    QTest::newRow("expired") << craft(jwtHeader("HS256"), with(alice, u"exp"_s, now - 60)) << false;
    QTest::newRow("expired, exp as a string")
        << craft(jwtHeader("HS256"), with(alice, u"exp"_s, u"1000"_s)) << false;
    QTest::newRow("expired, fractional exp")
        << craft(jwtHeader("HS256"), with(alice, u"exp"_s, double(now - 60) + 0.5)) << false;
    QTest::newRow("nbf in the future")
        << craft(jwtHeader("HS256"), with(alice, u"nbf"_s, now + 600)) << false;
    QTest::newRow("nbf as a string") << craft(jwtHeader("HS256"), with(alice, u"nbf"_s, u"0"_s)) << false;
    QTest::newRow("no sub") << craft(jwtHeader("HS256"), with(alice, u"sub"_s, Remove)) << false;
    QTest::newRow("empty sub") << craft(jwtHeader("HS256"), with(alice, u"sub"_s, u""_s)) << false;
    QTest::newRow("sub with a space")
        << craft(jwtHeader("HS256"), with(alice, u"sub"_s, u"al ice"_s)) << false;
    QTest::newRow("sub not a string") << craft(jwtHeader("HS256"), with(alice, u"sub"_s, 42)) << false;
    QTest::newRow("unknown role") << craft(jwtHeader("HS256"), with(alice, u"role"_s, u"root"_s)) << false;
    QTest::newRow("role in capitals")
        << craft(jwtHeader("HS256"), with(alice, u"role"_s, u"Admin"_s)) << false;
    // A role in another form is malformed, never quietly a subscriber.
    QTest::newRow("role an array") << craft(jwtHeader("HS256"),
                                            with(alice, u"role"_s, QJsonArray{u"admin"_s}))
                                   << false;
    QTest::newRow("role a number") << craft(jwtHeader("HS256"), with(alice, u"role"_s, 1)) << false;
    QTest::newRow("role null") << craft(jwtHeader("HS256"), with(alice, u"role"_s, QJsonValue())) << false;
    QTest::newRow("role an object") << craft(jwtHeader("HS256"),
                                             with(alice, u"role"_s, QJsonObject{{"admin"_L1, true}}))
                                    << false;
    QTest::newRow("channels a string")
        << craft(jwtHeader("HS256"), with(alice, u"channels"_s, u"news"_s)) << false;
    QTest::newRow("channels with a number")
        << craft(jwtHeader("HS256"), with(alice, u"channels"_s, QJsonArray{u"news"_s, 1})) << false;
    QTest::newRow("channels with an empty pattern")
        << craft(jwtHeader("HS256"), with(alice, u"channels"_s, QJsonArray{u""_s})) << false;
    QTest::newRow("channels an object")
        << craft(jwtHeader("HS256"), with(alice, u"channels"_s, QJsonObject{{"news"_L1, true}})) << false;
    QTest::newRow("one part") << QByteArray("abc") << false;
    QTest::newRow("two parts") << QByteArray("abc.def") << false;
    QTest::newRow("not base64") << QByteArray("!!!.###.$$$") << false;
    QTest::newRow("too long") << craft(jwtHeader("HS256"), with(alice, u"pad"_s, QString(9000, u'x')))
                              << false;
}

void tst_Security::tokens()
{
    QFETCH(QByteArray, token);
    QFETCH(bool, accepted);
    QVERIFY(startServer());
    const QByteArray query = QUrl::toPercentEncoding(QString::fromLatin1(token));

    const HttpReply rest = request("GET", "/api/channels", token);
    QVERIFY2(rest.status == (accepted ? 200 : 401), dump(rest).constData());
    QCOMPARE(request("GET", "/api/channels?token=" + query).status, accepted ? 200 : 401);
    HttpReply refused;
    QCOMPARE(upgrade("/ws?token=" + query, {}, &refused), accepted ? 101 : 401);
    if (!accepted)
        QCOMPARE(refused.json().value("error"_L1).toString(), u"unauthorized"_s);
    QCOMPARE(sse("/events?token=" + query).status, accepted ? 200 : 401);

    auto c = ws("/ws");
    QVERIFY(c);
    c->send({{"type"_L1, "auth"_L1}, {"token"_L1, QString::fromLatin1(token)}});
    if (accepted) {
        const auto a = c->waitFor(u"authenticated"_s);
        QVERIFY(a);
        QCOMPARE(a->value("sub"_L1).toString(), u"alice"_s);
        QCOMPARE(a->value("role"_L1).toString(), u"subscriber"_s);
        QVERIFY(c->waitFor(u"connected"_s));
    } else {
        QVERIFY(c->waitDisconnected());
        QCOMPARE(c->closeCode(), 1008);
    }
}

void tst_Security::tokenTransports_data()
{
    namedRows("transport", {"rest bearer", "rest bearer lowercase", "rest query", "ws query", "ws bearer",
                            "ws first frame", "sse query", "sse bearer"});
}

void tst_Security::tokenTransports()
{
    QFETCH(QString, transport);
    QVERIFY(startServer());
    // Each transport with a good token (alice's own queue: allowed) and a bad one (another key: refused).
    for (const bool good : {true, false}) {
        const QByteArray t = mint(u"alice"_s, Role::Subscriber, {}, 1h, good ? Secret : OtherSecret);
        const int refusedStatus = 401;
        int status = 0;
        if (transport == u"rest bearer"_s)
            status = request("GET", "/api/notifications?user_id=alice", t).status;
        else if (transport == u"rest bearer lowercase"_s)
            status = request("GET", "/api/notifications?user_id=alice", {}, {},
                             "Authorization: bearer " + t + "\r\n")
                         .status;
        else if (transport == u"rest query"_s)
            status = request("GET", withToken("/api/notifications?user_id=alice", t)).status;
        else if (transport == u"ws query"_s)
            status = upgrade(withToken("/ws?user_id=alice", t));
        else if (transport == u"ws bearer"_s)
            status = upgrade("/ws?user_id=alice", bearer(t));
        else if (transport == u"sse query"_s)
            status = sse(withToken("/events?user_id=alice", t)).status;
        else if (transport == u"sse bearer"_s)
            status = sse("/events?user_id=alice", bearer(t)).status;
        if (transport == u"ws first frame"_s) {
            auto c = ws("/ws?user_id=alice");
            QVERIFY(c);
            c->send({{"type"_L1, "auth"_L1}, {"token"_L1, QString::fromLatin1(t)}});
            if (good) {
                QVERIFY(c->waitFor(u"authenticated"_s));
                const auto connected = c->waitFor(u"connected"_s);
                QVERIFY(connected);
                QCOMPARE(connected->value("channels"_L1).toArray(), QJsonArray{u"user:alice"_s});
            } else {
                QVERIFY(c->waitDisconnected());
                QCOMPARE(c->closeCode(), 1008);
            }
            continue;
        }
        const int allowed = transport.startsWith(u"ws"_s) ? 101 : 200;
        QCOMPARE(status, good ? allowed : refusedStatus);
    }
}

void tst_Security::headerTokenWins_data()
{
    namedRows("transport", {"rest", "ws", "sse"});
}

void tst_Security::headerTokenWins()
{
    // One order on every transport: Authorization first, then ?token= (WebSocket once preferred the query).
    QFETCH(QString, transport);
    QVERIFY(startServer());
    const QByteArray good = mint(u"alice"_s, Role::Subscriber);
    const QByteArray bad = mint(u"alice"_s, Role::Subscriber, {}, 1h, OtherSecret);
    int status = 0;
    if (transport == u"rest"_s)
        status = request("GET", withToken("/api/notifications?user_id=alice", bad), good).status;
    else if (transport == u"ws"_s)
        status = upgrade(withToken("/ws?user_id=alice", bad), bearer(good));
    else
        status = sse(withToken("/events?user_id=alice", bad), bearer(good)).status;
    QCOMPARE(status, transport == u"ws"_s ? 101 : 200);
}

void tst_Security::senderIsTheIdentity_data()
{
    namedRows("how", {"rest publish", "rest channel event", "ws publish", "ws broadcast", "ws chat"});
}

void tst_Security::senderIsTheIdentity()
{
    // A publisher "svc" claims to be "bob": every message says "svc", whatever the request named.
    QFETCH(QString, how);
    QVERIFY(startServer());
    auto listener = ws(withToken("/ws?channels=news,chat", adminToken()));
    QVERIFY(listener);
    QVERIFY(listener->waitFor(u"connected"_s));
    const QByteArray svc = mint(u"svc"_s, Role::Publisher);
    const QJsonObject claim{{"sender"_L1, "bob"_L1}, {"message"_L1, "hi"_L1}};
    QString type = u"message"_s;
    if (how.startsWith(u"rest"_s)) {
        QJsonObject body = claim;
        body.insert("channel"_L1, "news"_L1);
        QByteArray target = "/api/publish";
        if (how == u"rest channel event"_s) {
            body.insert("type"_L1, "alert"_L1);
            target = "/api/channels/news/events";
            type = u"alert"_s;
        }
        QCOMPARE(request("POST", target, svc, Herald::compactJson(body)).status, 202);
    } else {
        auto c = ws(withToken("/ws/tab-svc", svc));
        QVERIFY(c);
        QJsonObject frame = claim;
        if (how == u"ws publish"_s) {
            frame.insert("action"_L1, "publish"_L1);
            frame.insert("channel"_L1, "news"_L1);
        } else if (how == u"ws broadcast"_s) {
            frame.insert("type"_L1, "broadcast"_L1);
            type = u"broadcast"_s;
        } else {
            frame.insert("type"_L1, "chat"_L1);
            type = u"chat"_s;
        }
        c->send(frame);
    }
    const auto got = listener->waitFor(type);
    QVERIFY2(got, qPrintable(listener->raw().join(u'\n')));
    QCOMPARE(got->value("sender"_L1).toString(), u"svc"_s);
}

HttpReply tst_Security::raw(const QByteArray &bytes)
{
    RawClient c;
    if (!c.connectTo(m_port))
        return {};
    c.write(bytes);
    return c.readResponse();
}

void tst_Security::openModeBrowserRules_data()
{
    // What an open server answers a browser: only its own host names and pages (DNS rebinding, cross-site).
    QTest::addColumn<QByteArray>("host"); // "{port}" is replaced by the server's port
    QTest::addColumn<QByteArray>("origin");
    QTest::addColumn<QString>("allowedHost");
    QTest::addColumn<QString>("allowedOrigin");
    QTest::addColumn<int>("status");
    const QString none;
    QTest::newRow("localhost") << QByteArray("localhost:{port}") << QByteArray() << none << none << 200;
    QTest::newRow("127.0.0.1") << QByteArray("127.0.0.1:{port}") << QByteArray() << none << none << 200;
    QTest::newRow("[::1]") << QByteArray("[::1]:{port}") << QByteArray() << none << none << 200;
    QTest::newRow("a LAN address") << QByteArray("192.168.1.20:{port}") << QByteArray() << none << none
                                   << 200;
    QTest::newRow("*.localhost") << QByteArray("herald.localhost:{port}") << QByteArray() << none << none
                                 << 200;
    QTest::newRow("a rebound name") << QByteArray("evil.example:{port}") << QByteArray() << none << none
                                    << 403;
    QTest::newRow("a rebound name, with its page")
        << QByteArray("evil.example:{port}") << QByteArray("http://evil.example:{port}") << none << none
        << 403;
    QTest::newRow("a configured name")
        << QByteArray("herald.lan:{port}") << QByteArray() << u"herald.lan"_s << none << 200;
    QTest::newRow("the server's own page")
        << QByteArray("127.0.0.1:{port}") << QByteArray("http://127.0.0.1:{port}") << none << none << 200;
    QTest::newRow("another site's page")
        << QByteArray("127.0.0.1:{port}") << QByteArray("https://evil.example") << none << none << 403;
    QTest::newRow("another site's page, allowed")
        << QByteArray("127.0.0.1:{port}") << QByteArray("https://app.example") << none
        << u"https://app.example"_s << 200;
    QTest::newRow("another site's page, not the allowed one")
        << QByteArray("127.0.0.1:{port}") << QByteArray("https://evil.example") << none
        << u"https://app.example"_s << 403;
}

void tst_Security::openModeBrowserRules()
{
    QFETCH(QByteArray, host);
    QFETCH(QByteArray, origin);
    QFETCH(QString, allowedHost);
    QFETCH(QString, allowedOrigin);
    QFETCH(int, status);
    QVERIFY(startServer([&](ServerConfig &c) {
        c.authMode = ServerConfig::AuthMode::Open;
        if (!allowedHost.isEmpty())
            c.allowedHosts = {allowedHost};
        if (!allowedOrigin.isEmpty())
            c.allowedOrigins = {allowedOrigin};
    }));
    const QByteArray port = QByteArray::number(m_port);
    host.replace("{port}", port);
    origin.replace("{port}", port);
    const QByteArray headers = origin.isEmpty() ? QByteArray() : "Origin: " + origin + "\r\n";
    // The REST API, a WebSocket upgrade, an SSE stream and a publish: one rule for all.
    const HttpReply rest =
        raw("GET /api/channels HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n" + headers + "\r\n");
    QCOMPARE(rest.status, status);
    if (status == 200 && !origin.isEmpty() && !origin.contains("127.0.0.1"))
        QCOMPARE(rest.header("Access-Control-Allow-Origin"), origin); // echoed, never "*" in open mode
    if (status == 200 && origin.isEmpty())
        QVERIFY(rest.header("Access-Control-Allow-Origin").isEmpty());
    const HttpReply upgrade =
        raw("GET /ws HTTP/1.1\r\nHost: " + host +
            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n" +
            headers + "\r\n");
    QCOMPARE(upgrade.status, status == 200 ? 101 : status);
    const QByteArray body = R"({"channel":"news","message":"m"})";
    const HttpReply publish = raw(
        "POST /api/publish HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n" + headers +
        "Content-Type: text/plain\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
    QCOMPARE(publish.status, status == 200 ? 202 : status);
}

void tst_Security::httpConformance_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");
    const QByteArray upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
    const QByteArray key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    const QByteArray version = "Sec-WebSocket-Version: 13\r\n";
    QTest::newRow("HTTP/1.1 without Host")
        << QByteArray("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n") << 400;
    QTest::newRow("two Hosts")
        << QByteArray(
               "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        << 400;
    QTest::newRow("Host with a space and @")
        << QByteArray("GET /api/stats HTTP/1.1\r\nHost: a b@c\r\nConnection: close\r\n\r\n") << 400;
    QTest::newRow("Host with a bad port")
        << QByteArray("GET /healthz HTTP/1.1\r\nHost: localhost:80x\r\nConnection: close\r\n\r\n") << 400;
    QTest::newRow("HTTP/1.0 without Host") << QByteArray("GET /healthz HTTP/1.0\r\n\r\n") << 200;
    QTest::newRow("unknown method")
        << QByteArray("BREW /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n") << 501;
    QTest::newRow("TRACE") << QByteArray("TRACE / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                           << 501;
    QTest::newRow("upgrade over HTTP/1.0")
        << QByteArray("GET /ws HTTP/1.0\r\nHost: 127.0.0.1\r\n" + upgrade + key + version + "\r\n") << 400;
    QTest::newRow("two keys") << QByteArray("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n" + upgrade + key + key +
                                            version + "\r\n")
                              << 400;
    QTest::newRow("two versions") << QByteArray("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n" + upgrade + key +
                                                version + version + "\r\n")
                                  << 400;
    {
        const QByteArray body("{\"channel\":\"news\",\"message\":\"x\0y\"}", 33);
        QTest::newRow("raw NUL in a JSON string")
            << QByteArray(
                   "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: " +
                   QByteArray::number(body.size()) + "\r\n\r\n" + body)
            << 400;
    }
    QTest::newRow("an upgrade by POST")
        << QByteArray("POST /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n" + upgrade + key +
                      version + "\r\n")
        << 405;
    QTest::newRow("a good upgrade") << QByteArray("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n" + upgrade + key +
                                                  version + "\r\n")
                                    << 101;
}

void tst_Security::httpConformance()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);
    QVERIFY(startServer([](ServerConfig &c) { c.authMode = ServerConfig::AuthMode::Open; }));
    const HttpReply r = raw(request);
    QCOMPARE(r.status, status);
    if (status >= 400)
        QVERIFY2(r.body.contains("\"error\""), r.body.constData());
    if (status == 405) {
        // What the route takes, and the code every 405 has.
        QCOMPARE(r.header("allow"), QByteArray("GET"));
        QCOMPARE(r.json().value("error"_L1).toString(), u"method_not_allowed"_s);
    }
}

// ---- 3. Roles and channels ----

void tst_Security::wsRoutes_data()
{
    QTest::addColumn<QString>("role");
    QTest::addColumn<QStringList>("channels");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<int>("status");

    const QString sub = u"subscriber"_s, pub = u"publisher"_s, admin = u"admin"_s;
    const QStringList none, newsTeam{u"news"_s, u"team.*"_s}, news{u"news"_s};
    QTest::newRow("own queue") << sub << none << QByteArray("/ws?user_id=alice") << 101;
    QTest::newRow("another user's queue") << sub << none << QByteArray("/ws?user_id=bob") << 403;
    QTest::newRow("publisher, another user's queue") << pub << none << QByteArray("/ws?user_id=bob") << 403;
    QTest::newRow("admin, another user's queue") << admin << none << QByteArray("/ws?user_id=bob") << 101;
    QTest::newRow("another user's queue by name")
        << sub << none << QByteArray("/ws?channels=user:bob") << 403;
    QTest::newRow("allow-list, exact") << sub << newsTeam << QByteArray("/ws?channels=news") << 101;
    QTest::newRow("allow-list, wildcard") << sub << newsTeam << QByteArray("/ws?channels=team.x") << 101;
    QTest::newRow("allow-list, both") << sub << newsTeam << QByteArray("/ws?channels=news,team.x.y") << 101;
    QTest::newRow("outside the allow-list") << sub << newsTeam << QByteArray("/ws?channels=other") << 403;
    QTest::newRow("wildcard keeps its dot") << sub << newsTeam << QByteArray("/ws?channels=teamx") << 403;
    QTest::newRow("one of two outside") << sub << newsTeam << QByteArray("/ws?channels=news,other") << 403;
    QTest::newRow("own queue beside the allow-list")
        << sub << news << QByteArray("/ws?user_id=alice&channels=news") << 101;
    QTest::newRow("no allow-list") << sub << none << QByteArray("/ws?channels=anything") << 101;
    QTest::newRow("admin feed, admin") << admin << none << QByteArray("/ws/server") << 101;
    QTest::newRow("admin feed, publisher") << pub << none << QByteArray("/ws/server") << 403;
    QTest::newRow("admin feed, subscriber") << sub << none << QByteArray("/ws/server") << 403;
    QTest::newRow("model channel, allowed")
        << sub << QStringList{u"users"_s} << QByteArray("/ws/users") << 101;
    QTest::newRow("model channel, outside") << sub << news << QByteArray("/ws/users") << 403;
    QTest::newRow("model channel, no allow-list") << sub << none << QByteArray("/ws/posts") << 101;
    QTest::newRow("chat, no allow-list") << sub << none << QByteArray("/ws/tab-1") << 101;
    QTest::newRow("chat, allowed") << sub << QStringList{u"chat"_s} << QByteArray("/ws/tab-1") << 101;
    QTest::newRow("chat, outside") << sub << news << QByteArray("/ws/tab-1") << 403;
    QTest::newRow("seed 003 client") << sub << news << QByteArray("/ws/client") << 101;
}

void tst_Security::wsRoutes()
{
    QFETCH(QString, role);
    QFETCH(QStringList, channels);
    QFETCH(QByteArray, path);
    QFETCH(int, status);
    QVERIFY(startServer());
    const QByteArray t = mint(role == u"admin"_s ? u"root"_s : u"alice"_s, roleNamed(role), channels);

    HttpReply byQuery;
    QCOMPARE(upgrade(withToken(path, t), {}, &byQuery), status);
    if (status == 403) {
        QCOMPARE(byQuery.json().value("error"_L1).toString(), u"forbidden"_s);
        QVERIFY(!byQuery.json().value("detail"_L1).toString().isEmpty());
    }
    QCOMPARE(upgrade(path, bearer(t)), status);
}

void tst_Security::wsActions_data()
{
    QTest::addColumn<QString>("role");
    QTest::addColumn<QStringList>("channels");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QJsonObject>("frame");
    QTest::addColumn<QString>("expect"); // a reply type, "error:<code>", or "ok" (no error)

    const QString sub = u"subscriber"_s, pub = u"publisher"_s, admin = u"admin"_s;
    const QStringList none, news{u"news"_s}, newsTeam{u"news"_s, u"team.*"_s};
    const auto subscribe = [](const char *key, const char *value) {
        return QJsonObject{{"action"_L1, "subscribe"_L1}, {QLatin1StringView(key), QLatin1StringView(value)}};
    };
    const auto publish = [](const char *key, const char *value) {
        return QJsonObject{{"action"_L1, "publish"_L1},
                           {QLatin1StringView(key), QLatin1StringView(value)},
                           {"message"_L1, "m"_L1}};
    };
    const auto seed = [](const char *type) {
        return QJsonObject{{"type"_L1, QLatin1StringView(type)}, {"message"_L1, "m"_L1}};
    };
    const QByteArray native("/ws"), client("/ws/client"), chat("/ws/tab-1");

    QTest::newRow("subscribe, no allow-list")
        << sub << none << native << subscribe("channel", "news") << u"subscribed"_s;
    QTest::newRow("subscribe, wildcard")
        << sub << newsTeam << native << subscribe("channel", "team.a") << u"subscribed"_s;
    QTest::newRow("subscribe, outside")
        << sub << newsTeam << native << subscribe("channel", "other") << u"error:forbidden"_s;
    QTest::newRow("subscribe own queue")
        << sub << news << native << subscribe("user_id", "alice") << u"subscribed"_s;
    QTest::newRow("subscribe another's queue")
        << sub << none << native << subscribe("user_id", "bob") << u"error:forbidden"_s;
    QTest::newRow("subscribe another's queue by name")
        << sub << none << native << subscribe("channel", "user:bob") << u"error:forbidden"_s;
    QTest::newRow("admin subscribes another's queue")
        << admin << none << native << subscribe("user_id", "bob") << u"subscribed"_s;
    QTest::newRow("subscriber publishes")
        << sub << none << native << publish("channel", "news") << u"error:forbidden"_s;
    QTest::newRow("publisher, in its list")
        << pub << news << native << publish("channel", "news") << u"published"_s;
    QTest::newRow("publisher, outside its list")
        << pub << news << native << publish("channel", "other") << u"error:forbidden"_s;
    QTest::newRow("publisher, a user outside its list")
        << pub << news << native << publish("user_id", "bob") << u"error:forbidden"_s;
    QTest::newRow("publisher without list, a user")
        << pub << none << native << publish("user_id", "bob") << u"published"_s;
    QTest::newRow("subscriber broadcasts")
        << sub << none << native << seed("broadcast") << u"error:forbidden"_s;
    QTest::newRow("publisher broadcasts") << pub << none << native << seed("broadcast") << u"published"_s;
    QTest::newRow("publisher with a list broadcasts")
        << pub << news << native << seed("broadcast") << u"error:forbidden"_s;
    QTest::newRow("subscriber notifies")
        << sub << none << client << QJsonObject{{"action"_L1, "notify"_L1}, {"message"_L1, "m"_L1}}
        << u"error:forbidden"_s;
    QTest::newRow("publisher notifies")
        << pub << none << client << QJsonObject{{"action"_L1, "notify"_L1}, {"message"_L1, "m"_L1}}
        << u"ok"_s;
    QTest::newRow("subscriber broadcast_notification")
        << sub << none << chat << seed("broadcast_notification") << u"error:forbidden"_s;
    QTest::newRow("publisher broadcast_notification")
        << pub << none << chat << seed("broadcast_notification") << u"ok"_s;
    QTest::newRow("personal notification") << sub << none << chat << seed("notification") << u"ok"_s;
    // chat publishes to the stored chat channel: a publisher's right (SPEC section 7), not a subscriber's.
    QTest::newRow("subscriber chats") << sub << none << chat << seed("chat") << u"error:forbidden"_s;
    QTest::newRow("publisher chats") << pub << none << chat << seed("chat") << u"chat"_s;
    QTest::newRow("chat without the chat channel")
        << pub << news << native << seed("chat") << u"error:forbidden"_s;
    QTest::newRow("publisher disconnects a client")
        << pub << none << native << QJsonObject{{"action"_L1, "disconnect"_L1}, {"client_id"_L1, "x"_L1}}
        << u"error:forbidden"_s;
    QTest::newRow("admin disconnects a client")
        << admin << none << native << QJsonObject{{"action"_L1, "disconnect"_L1}, {"client_id"_L1, "x"_L1}}
        << u"error:not_found"_s;
    QTest::newRow("subscriber asks for stats")
        << sub << none << native << QJsonObject{{"type"_L1, "get_stats"_L1}} << u"stats"_s;
}

void tst_Security::wsActions()
{
    QFETCH(QString, role);
    QFETCH(QStringList, channels);
    QFETCH(QByteArray, path);
    QFETCH(QJsonObject, frame);
    QFETCH(QString, expect);
    QVERIFY(startServer());
    auto c =
        ws(withToken(path, mint(role == u"admin"_s ? u"root"_s : u"alice"_s, roleNamed(role), channels)));
    QVERIFY(c);

    frame.insert("ref"_L1, 1);
    c->send(frame);
    // Replies come in order: whatever the frame caused arrives before this pong.
    c->send({{"type"_L1, "ping"_L1}, {"ref"_L1, 2}});
    QVERIFY(c->waitFor(u"pong"_s));
    const auto error = findFrame(c->frames(), u"type"_s, u"error"_s);
    if (expect.startsWith(u"error:"_s)) {
        QVERIFY2(error, qPrintable(c->raw().join(u'\n')));
        QCOMPARE(error->value("code"_L1).toString(), expect.mid(6));
        QCOMPARE(error->value("ref"_L1).toInt(), 1);
        QVERIFY(!error->value("message"_L1).toString().isEmpty());
        return;
    }
    QVERIFY2(!error, qPrintable(c->raw().join(u'\n')));
    // Messages published through the hub (chat) are delivered asynchronously, possibly after the pong.
    if (expect != u"ok"_s)
        QVERIFY2(c->waitFor(expect), qPrintable(c->raw().join(u'\n')));
    QVERIFY(c->isConnected());
}

void tst_Security::sseRoutes_data()
{
    QTest::addColumn<QString>("role");
    QTest::addColumn<QStringList>("channels");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<int>("status");
    const QString sub = u"subscriber"_s;
    const QStringList none, newsTeam{u"news"_s, u"team.*"_s};
    QTest::newRow("own queue") << sub << none << QByteArray("/events?user_id=alice") << 200;
    QTest::newRow("own queue, seed path") << sub << none << QByteArray("/events/alice") << 200;
    QTest::newRow("another user's queue") << sub << none << QByteArray("/events?user_id=bob") << 403;
    QTest::newRow("another user's queue, seed path") << sub << none << QByteArray("/events/bob") << 403;
    QTest::newRow("another user's queue by name")
        << sub << none << QByteArray("/events?channels=user:bob") << 403;
    QTest::newRow("admin, another user's queue") << u"admin"_s << none << QByteArray("/events/bob") << 200;
    QTest::newRow("allow-list, exact") << sub << newsTeam << QByteArray("/events?channels=news") << 200;
    QTest::newRow("allow-list, wildcard") << sub << newsTeam << QByteArray("/events?channels=team.x") << 200;
    QTest::newRow("outside the allow-list")
        << sub << newsTeam << QByteArray("/events?channels=news,other") << 403;
}

void tst_Security::sseRoutes()
{
    QFETCH(QString, role);
    QFETCH(QStringList, channels);
    QFETCH(QByteArray, path);
    QFETCH(int, status);
    QVERIFY(startServer());
    const QByteArray t = mint(role == u"admin"_s ? u"root"_s : u"alice"_s, roleNamed(role), channels);
    const HttpReply byQuery = sse(withToken(path, t));
    QCOMPARE(byQuery.status, status);
    if (status == 403)
        QCOMPARE(byQuery.json().value("error"_L1).toString(), u"forbidden"_s);
    QCOMPARE(sse(path, bearer(t)).status, status);
}

void tst_Security::restRules_data()
{
    QTest::addColumn<QString>("role");
    QTest::addColumn<QStringList>("channels");
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");

    const QString sub = u"subscriber"_s, pub = u"publisher"_s, admin = u"admin"_s;
    const QStringList none, news{u"news"_s}, users{u"users"_s};
    const QByteArray get("GET"), post("POST"), patch("PATCH"), del("DELETE");
    const QByteArray toNews(R"({"channel":"news","message":"m"})");
    const QByteArray toOther(R"({"channel":"other","message":"m"})");
    const QByteArray toBob(R"({"channel":"user:bob","message":"m"})");
    const QByteArray all(R"({"message":"m"})"), event(R"({"type":"deploy"})");
    const QByteArray newUser(R"({"email":"new@example.com","name":"New"})"), renamed(R"({"name":"Renamed"})");

    QTest::newRow("subscriber publishes")
        << sub << none << post << QByteArray("/api/publish") << toNews << 403;
    QTest::newRow("publisher, in its list")
        << pub << news << post << QByteArray("/api/publish") << toNews << 202;
    QTest::newRow("publisher, outside its list")
        << pub << news << post << QByteArray("/api/publish") << toOther << 403;
    QTest::newRow("publisher, a user outside its list")
        << pub << news << post << QByteArray("/api/publish") << toBob << 403;
    QTest::newRow("publisher without list, a user")
        << pub << none << post << QByteArray("/api/publish") << toBob << 202;
    QTest::newRow("subscriber broadcasts")
        << sub << none << post << QByteArray("/api/broadcast") << all << 403;
    QTest::newRow("publisher broadcasts")
        << pub << none << post << QByteArray("/api/broadcast") << all << 202;
    QTest::newRow("publisher with a list broadcasts")
        << pub << news << post << QByteArray("/api/broadcast") << all << 403;
    QTest::newRow("subscriber custom event")
        << sub << none << post << QByteArray("/api/channels/news/events") << event << 403;
    QTest::newRow("publisher custom event, in its list")
        << pub << news << post << QByteArray("/api/channels/news/events") << event << 202;
    QTest::newRow("publisher custom event, outside")
        << pub << news << post << QByteArray("/api/channels/other/events") << event << 403;
    QTest::newRow("history, in the list")
        << sub << news << get << QByteArray("/api/channels/news/history") << QByteArray() << 200;
    QTest::newRow("history, outside the list")
        << sub << news << get << QByteArray("/api/channels/other/history") << QByteArray() << 403;
    QTest::newRow("history of own queue")
        << sub << news << get << QByteArray("/api/channels/user:alice/history") << QByteArray() << 200;
    QTest::newRow("history of another's queue")
        << sub << none << get << QByteArray("/api/channels/user:bob/history") << QByteArray() << 403;
    QTest::newRow("own notifications")
        << sub << news << get << QByteArray("/api/notifications?user_id=alice") << QByteArray() << 200;
    QTest::newRow("another's notifications")
        << sub << none << get << QByteArray("/api/notifications?user_id=bob") << QByteArray() << 403;
    QTest::newRow("publisher reads another's notifications")
        << pub << none << get << QByteArray("/api/notifications?user_id=bob") << QByteArray() << 403;
    QTest::newRow("admin reads another's notifications")
        << admin << none << get << QByteArray("/api/notifications?user_id=bob") << QByteArray() << 200;
    QTest::newRow("read-all, own") << sub << none << post
                                   << QByteArray("/api/notifications/read-all?user_id=alice") << QByteArray()
                                   << 200;
    QTest::newRow("read-all, another's")
        << sub << none << post << QByteArray("/api/notifications/read-all?user_id=bob") << QByteArray()
        << 403;
    QTest::newRow("admin creates a user") << admin << none << post << QByteArray("/users/") << newUser << 201;
    QTest::newRow("publisher creates a user")
        << pub << none << post << QByteArray("/users/") << newUser << 403;
    QTest::newRow("subscriber creates a user")
        << sub << none << post << QByteArray("/users/") << newUser << 403;
    QTest::newRow("subscriber lists users")
        << sub << none << get << QByteArray("/users/") << QByteArray() << 200;
    QTest::newRow("subscriber lists users, allowed")
        << sub << users << get << QByteArray("/users/") << QByteArray() << 200;
    QTest::newRow("subscriber lists users, outside")
        << sub << news << get << QByteArray("/users/") << QByteArray() << 403;
    QTest::newRow("subscriber reads a user, allowed")
        << sub << users << get << QByteArray("/users/1") << QByteArray() << 200;
    QTest::newRow("subscriber reads a user, outside")
        << sub << news << get << QByteArray("/users/1") << QByteArray() << 403;
    QTest::newRow("subscriber lists posts, outside")
        << sub << users << get << QByteArray("/posts/") << QByteArray() << 403;
    QTest::newRow("publisher updates a user")
        << pub << none << patch << QByteArray("/users/1") << renamed << 403;
    QTest::newRow("admin updates a user")
        << admin << none << patch << QByteArray("/users/1") << renamed << 200;
    QTest::newRow("publisher deletes a user")
        << pub << none << del << QByteArray("/users/1") << QByteArray() << 403;
    QTest::newRow("admin deletes a user")
        << admin << none << del << QByteArray("/users/1") << QByteArray() << 200;
}

void tst_Security::restRules()
{
    QFETCH(QString, role);
    QFETCH(QStringList, channels);
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, path);
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QVERIFY(startServer());
    // Something on each channel and user 1, so that an allowed read is a 200.
    for (const QString &ch : {u"news"_s, u"other"_s, u"user:alice"_s, u"user:bob"_s})
        QVERIFY(publishAsAdmin(ch, u"seed"_s) > 0);
    QCOMPARE(request("POST", "/users/", adminToken(), R"({"email":"seed@example.com","name":"Seed"})").status,
             201);

    const HttpReply r = request(
        method, path, mint(role == u"admin"_s ? u"root"_s : u"alice"_s, roleNamed(role), channels), body);
    QVERIFY2(r.status == status, dump(r).constData());
    if (status == 403) {
        QCOMPARE(r.json().value("error"_L1).toString(), u"forbidden"_s);
        QVERIFY(!r.json().value("detail"_L1).toString().isEmpty());
    }
}

void tst_Security::notificationsOfAnotherUser()
{
    QVERIFY(startServer());
    const qint64 forBob = publishAsAdmin(u"user:bob"_s, u"bob's"_s);
    const qint64 forAlice = publishAsAdmin(u"user:alice"_s, u"alice's"_s);
    QVERIFY(forBob > 0 && forAlice > 0);
    const QByteArray alice = mint(u"alice"_s, Role::Subscriber);
    const QByteArray bob = mint(u"bob"_s, Role::Subscriber);

    const HttpReply own = request("GET", "/api/notifications?user_id=alice", alice);
    QCOMPARE(own.status, 200);
    const QJsonArray list = own.json().value("notifications"_L1).toArray();
    QCOMPARE(list.size(), 1);
    QCOMPARE(list.at(0).toObject().value("id"_L1).toInteger(), forAlice);
    QCOMPARE(request("GET", "/api/notifications?user_id=bob", alice).status, 403);

    // Marking bob's: "not found", exactly like an id that does not exist, and bob's stays unread.
    const HttpReply others =
        request("POST", "/api/notifications/" + QByteArray::number(forBob) + "/read", alice);
    QCOMPARE(others.status, 404);
    const HttpReply missing = request("POST", "/api/notifications/999999/read", alice);
    QCOMPARE(missing.status, 404);
    QCOMPARE(others.json().value("error"_L1), missing.json().value("error"_L1));
    QCOMPARE(request("GET", "/api/notifications?user_id=bob", bob).json().value("unread"_L1).toInt(), 1);

    QCOMPARE(request("POST", "/api/notifications/" + QByteArray::number(forAlice) + "/read", alice).status,
             200);
    const HttpReply bobs = request("POST", "/api/notifications/" + QByteArray::number(forBob) + "/read", bob);
    QCOMPARE(bobs.status, 200);
    QCOMPARE(bobs.json().value("unread"_L1).toInt(), 0);
}

void tst_Security::channelListIsFiltered()
{
    QVERIFY(startServer());
    for (const QString &ch : {u"news"_s, u"other"_s, u"team.a"_s, u"user:alice"_s, u"user:bob"_s})
        QVERIFY(publishAsAdmin(ch, u"m"_s) > 0);
    // A channel that is only live: subscribed, nothing stored.
    auto ops = ws(withToken("/ws?channels=ops.live", adminToken()));
    QVERIFY(ops && ops->waitFor(u"connected"_s));

    const auto names = [this](const QByteArray &token) {
        const HttpReply r = request("GET", "/api/channels", token);
        return r.status == 200 ? channelNames(r.json()) : QStringList{u"status %1"_s.arg(r.status)};
    };
    QCOMPARE(names(adminToken()), QStringList({u"news"_s, u"ops.live"_s, u"other"_s, u"team.a"_s,
                                               u"user:alice"_s, u"user:bob"_s}));
    QCOMPARE(names(mint(u"alice"_s, Role::Subscriber)),
             QStringList({u"news"_s, u"ops.live"_s, u"other"_s, u"team.a"_s, u"user:alice"_s}));
    QCOMPARE(names(mint(u"alice"_s, Role::Subscriber, {u"news"_s, u"team.*"_s})),
             QStringList({u"news"_s, u"team.a"_s, u"user:alice"_s}));
    QCOMPARE(names(mint(u"bob"_s, Role::Publisher, {u"news"_s})), QStringList({u"news"_s, u"user:bob"_s}));
}

void tst_Security::statsDoNotRevealOtherUsersQueues()
{
    QVERIFY(startServer());
    auto bob = ws(withToken("/ws?user_id=bob", mint(u"bob"_s, Role::Subscriber)));
    QVERIFY(bob && bob->waitFor(u"connected"_s));
    const auto listed = [this](const QByteArray &token) {
        return request("GET", "/api/stats", token).json().value("channels"_L1).toObject().keys();
    };
    // The admin sees bob's queue: the check below can fail.
    QVERIFY(listed(adminToken()).contains(u"user:bob"_s));

    const QByteArray alice = mint(u"alice"_s, Role::Subscriber, {u"news"_s});
    auto c = ws(withToken("/ws", alice));
    QVERIFY(c && c->waitFor(u"connected"_s));
    c->send({{"type"_L1, "get_stats"_L1}});
    const auto stats = c->waitFor(u"stats"_s);
    QVERIFY(stats);
    QVERIFY(!listed(alice).contains(u"user:bob"_s));
    QVERIFY(!stats->value("data"_L1).toObject().value("channels"_L1).toObject().contains(u"user:bob"_s));
}

// ---- 4. Refusals are counted ----

void tst_Security::refusalsAreCounted()
{
    QVERIFY(startServer());
    const QByteArray unauthorized = "herald_refusals_total{reason=\"unauthorized\"}";
    const QByteArray forbidden = "herald_refusals_total{reason=\"forbidden\"}";
    const qint64 u0 = metric(unauthorized);
    const qint64 f0 = metric(forbidden);
    QVERIFY(u0 >= 0 && f0 >= 0);
    const QByteArray alice = mint(u"alice"_s, Role::Subscriber, {u"news"_s});

    // Four times unauthorized: REST, SSE, an upgrade with a bad token, a first frame that is not auth.
    QCOMPARE(request("GET", "/api/channels").status, 401);
    QCOMPARE(sse("/events?user_id=alice").status, 401);
    QCOMPARE(upgrade("/ws?token=bad"), 401);
    auto anonymous = ws("/ws");
    QVERIFY(anonymous);
    anonymous->send({{"type"_L1, "ping"_L1}});
    QVERIFY(anonymous->waitDisconnected());
    QCOMPARE(metric(unauthorized), u0 + 4);
    QCOMPARE(metric(forbidden), f0);

    // Four times forbidden: REST, SSE, an upgrade, a frame.
    QCOMPARE(request("POST", "/api/publish", alice, R"({"channel":"news","message":"m"})").status, 403);
    QCOMPARE(sse(withToken("/events?user_id=bob", alice)).status, 403);
    QCOMPARE(upgrade(withToken("/ws/server", alice)), 403);
    auto c = ws(withToken("/ws", alice));
    QVERIFY(c && c->waitFor(u"connected"_s));
    c->send({{"action"_L1, "subscribe"_L1}, {"channel"_L1, "other"_L1}});
    const auto error = c->waitFor(u"error"_s);
    QVERIFY(error);
    QCOMPARE(error->value("code"_L1).toString(), u"forbidden"_s);
    QCOMPARE(metric(forbidden), f0 + 4);
    QCOMPARE(metric(unauthorized), u0 + 4);
}

// ---- 5. Token expiry and refresh ----

void tst_Security::tokenExpiryEndsConnections()
{
    QVERIFY(startServer());
    // exp is in whole seconds: 2 s from now leaves at least one to set everything up.
    const QByteArray shortLived = mint(u"alice"_s, Role::Subscriber, {}, 2s);
    const QByteArray longLived = mint(u"alice"_s, Role::Subscriber);

    auto byQuery = ws(withToken("/ws?channels=news", shortLived));
    QVERIFY(byQuery && byQuery->waitFor(u"connected"_s));
    auto byFrame = ws("/ws?channels=news");
    QVERIFY(byFrame);
    byFrame->send({{"type"_L1, "auth"_L1}, {"token"_L1, QString::fromLatin1(shortLived)}});
    const auto authenticated = byFrame->waitFor(u"authenticated"_s);
    QVERIFY(authenticated);
    QVERIFY(!authenticated->value("expires_at"_L1).toString().isEmpty());
    auto refreshed = ws(withToken("/ws?channels=news", shortLived));
    QVERIFY(refreshed && refreshed->waitFor(u"connected"_s));
    refreshed->send({{"type"_L1, "auth"_L1}, {"token"_L1, QString::fromLatin1(longLived)}});
    QVERIFY(refreshed->waitFor(u"authenticated"_s));
    RawClient stream;
    QVERIFY(stream.connectTo(m_port));
    stream.write(httpRequest("GET", withToken("/events?user_id=alice", shortLived)));
    QCOMPARE(stream.readResponse().status, 200);

    QVERIFY(byQuery->waitDisconnected(5000));
    QCOMPARE(byQuery->closeCode(), 1008);
    QCOMPARE(byQuery->closeReason(), u"token expired"_s);
    QVERIFY(byFrame->waitDisconnected(2000));
    QCOMPARE(byFrame->closeCode(), 1008);
    QCOMPARE(byFrame->closeReason(), u"token expired"_s);

    // The connection that presented a fresh token in time lives on, and is still delivered to.
    QVERIFY(refreshed->isConnected());
    const qint64 id = publishAsAdmin(u"news"_s, u"after expiry"_s);
    QTRY_VERIFY(idsOn(refreshed->frames(), u"news"_s).contains(id));
    // An expired token opens nothing new.
    QCOMPARE(upgrade(withToken("/ws", shortLived)), 401);
    QCOMPARE(sse(withToken("/events?user_id=alice", shortLived)).status, 401);

    const bool streamEnded = spinUntil([&] { return !stream.isConnected(); }, 1000);
    QVERIFY(streamEnded);
}

void tst_Security::tokenLifetimes_data()
{
    QTest::addColumn<qint64>("expIn");   // seconds from now
    QTest::addColumn<QVariant>("nbfIn"); // seconds from now; null: no nbf
    QTest::addColumn<QString>("expect"); // "closes" at exp, "stays", or "refused"
    const QVariant none;
    QTest::newRow("exp in 3 s: closed on time") << qint64(3) << none << u"closes"_s;
    QTest::newRow("exp in 30 days") << qint64(30 * 86400) << none << u"stays"_s;
    // 2^32 ms and 3 s: an int of milliseconds wraps to 1 to 3 s.
    QTest::newRow("exp in 49.7 days") << qint64(4294970) << none << u"stays"_s;
    QTest::newRow("nbf in the future") << qint64(3600) << QVariant(qint64(600)) << u"refused"_s;
    QTest::newRow("nbf in the past") << qint64(3600) << QVariant(qint64(-600)) << u"stays"_s;
    QTest::newRow("nbf within the leeway") << qint64(3600) << QVariant(qint64(10)) << u"stays"_s;
}

// A token's lifetime on every transport: a connection ends when its token expires (SPEC section 7: 1008
// "token expired"), not before, however far off that is; a token is not accepted before its nbf.
void tst_Security::tokenLifetimes()
{
    QFETCH(qint64, expIn);
    QFETCH(QVariant, nbfIn);
    QFETCH(QString, expect);
    QVERIFY(startServer());
    // A timer that QTimer refuses (an interval past an int of ms) only says so in a warning.
    const WarningWatch watch;
    const qint64 exp = nowSecs() + expIn;
    QJsonObject claims = with(aliceClaims(), u"exp"_s, exp);
    if (!nbfIn.isNull())
        claims.insert("nbf"_L1, nowSecs() + nbfIn.toLongLong());
    const QByteArray token = craft(jwtHeader("HS256"), claims);
    const QString text = QString::fromLatin1(token);
    const bool refused = expect == u"refused"_s;

    QCOMPARE(request("GET", "/api/channels", token).status, refused ? 401 : 200);
    // When each connection ended (wall clock, ms).
    QHash<QString, qint64> endedAt;
    const auto noteEnd = [&endedAt](const QString &name) {
        return [&endedAt, name] {
            endedAt.insert(name, QDateTime::currentMSecsSinceEpoch());
        };
    };
    std::vector<std::pair<QString, std::unique_ptr<WsClient>>> sockets;
    if (refused) {
        QCOMPARE(upgrade(withToken("/ws", token)), 401);
    } else {
        auto byQuery = ws(withToken("/ws?channels=news", token));
        QVERIFY(byQuery && byQuery->waitFor(u"connected"_s));
        sockets.emplace_back(u"ws query"_s, std::move(byQuery));
    }
    auto byFrame = ws("/ws?channels=news");
    QVERIFY(byFrame);
    byFrame->send({{"type"_L1, "auth"_L1}, {"token"_L1, text}});
    if (refused) {
        QVERIFY(byFrame->waitDisconnected());
        QCOMPARE(byFrame->closeCode(), 1008);
    } else {
        QVERIFY(byFrame->waitFor(u"authenticated"_s));
        sockets.emplace_back(u"ws first frame"_s, std::move(byFrame));
    }
    // A refresh replaces the expiry of the token it came with.
    auto refreshed = ws(withToken("/ws?channels=news", mint(u"alice"_s, Role::Subscriber)));
    QVERIFY(refreshed && refreshed->waitFor(u"connected"_s));
    refreshed->send({{"type"_L1, "auth"_L1}, {"token"_L1, text}});
    if (refused) {
        const auto error = refreshed->waitFor(u"error"_s);
        QVERIFY(error);
        QCOMPARE(error->value("code"_L1).toString(), u"unauthorized"_s);
        QVERIFY(refreshed->isConnected());
    } else {
        QVERIFY(refreshed->waitFor(u"authenticated"_s));
        sockets.emplace_back(u"ws refresh"_s, std::move(refreshed));
    }
    for (const auto &[name, c] : sockets)
        QObject::connect(&c->socket(), &QWebSocket::disconnected, c.get(), noteEnd(name));
    RawClient stream;
    QVERIFY(stream.connectTo(m_port));
    stream.write(httpRequest("GET", withToken("/events?user_id=alice", token)));
    QCOMPARE(stream.readResponse().status, refused ? 401 : 200);
    if (refused)
        return;
    QObject::connect(&stream.socket(), &QTcpSocket::disconnected, &stream.socket(), noteEnd(u"sse"_s));

    const auto timerRefused = [&watch] {
        return watch.warnings().filter(u"startTimer"_s).join(u'\n');
    };
    if (expect == u"stays"_s) {
        // Past where a wrapped timer would have fired.
        QTest::qWait(4000);
        QVERIFY2(timerRefused().isEmpty(), qPrintable(timerRefused()));
        QVERIFY2(endedAt.isEmpty(), qPrintable(endedAt.keys().join(u", "_s)));
        for (const auto &[name, c] : sockets)
            QVERIFY2(c->isConnected(), qPrintable(name));
        QVERIFY(stream.isConnected());
        return;
    }
    QTRY_COMPARE_WITH_TIMEOUT(endedAt.size(), qsizetype(sockets.size() + 1), 8000);
    for (const auto &[name, c] : sockets) {
        QCOMPARE(c->closeCode(), 1008);
        QCOMPARE(c->closeReason(), u"token expired"_s);
    }
    // On time: not before exp (a few ms for reading the clock), and soon after.
    for (auto it = endedAt.cbegin(); it != endedAt.cend(); ++it) {
        const qint64 late = it.value() - exp * 1000;
        QVERIFY2(late >= -20 && late < 2000, qPrintable(u"%1: %2 ms after exp"_s.arg(it.key()).arg(late)));
    }
    QVERIFY2(timerRefused().isEmpty(), qPrintable(timerRefused()));
}

void tst_Security::expiryTimer_data()
{
    QTest::addColumn<QVariant>("inMs");  // the deadline, from now; null: none
    QTest::addColumn<int>("stepMs");     // 0: the default, a day
    QTest::addColumn<qint64>("armedMs"); // what the first arm waits for
    QTest::addColumn<bool>("fires");     // within this test

    const qint64 day = 86400 * 1000;
    QTest::newRow("past") << QVariant(qint64(-1000)) << 0 << qint64(0) << true;
    QTest::newRow("300 ms") << QVariant(qint64(300)) << 0 << qint64(300) << true;
    QTest::newRow("350 ms in steps of 100") << QVariant(qint64(350)) << 100 << qint64(100) << true;
    QTest::newRow("30 days") << QVariant(30 * day) << 0 << day << false;
    QTest::newRow("49.7 days") << QVariant(qint64(1) << 32) << 0 << day << false;
    QTest::newRow("year 9999") << QVariant(qint64(253402300799000) - QDateTime::currentMSecsSinceEpoch()) << 0
                               << day << false;
    QTest::newRow("no deadline") << QVariant() << 0 << qint64(0) << false;
}

// The timer behind token expiry: any deadline, armed a day at most at a time, fired once and not early.
void tst_Security::expiryTimer()
{
    QFETCH(QVariant, inMs);
    QFETCH(int, stepMs);
    QFETCH(qint64, armedMs);
    QFETCH(bool, fires);
    Herald::ExpiryTimer timer(nullptr,
                              stepMs > 0 ? std::chrono::milliseconds(stepMs) : Herald::ExpiryTimer::MaxStep);
    QList<qint64> firedAt;
    connect(&timer, &Herald::ExpiryTimer::expired, this,
            [&firedAt] { firedAt.append(QDateTime::currentMSecsSinceEpoch()); });
    const QDateTime deadline =
        inMs.isNull() ? QDateTime() : QDateTime::currentDateTimeUtc().addMSecs(inMs.toLongLong());
    timer.start(deadline);

    QCOMPARE(timer.isActive(), !inMs.isNull());
    QCOMPARE(timer.deadline(), deadline);
    const qint64 armed = timer.armedFor().count();
    // Set from the time left, which is a few ms less than inMs by now.
    QVERIFY2(armed <= armedMs && armed >= armedMs - 50, qPrintable(QString::number(armed)));
    if (!fires) {
        QTest::qWait(50);
        QVERIFY(firedAt.isEmpty());
        return;
    }
    QTRY_COMPARE_WITH_TIMEOUT(firedAt.size(), 1, 3000);
    QVERIFY2(firedAt.first() >= deadline.toMSecsSinceEpoch(),
             qPrintable(u"%1 ms early"_s.arg(deadline.toMSecsSinceEpoch() - firedAt.first())));
    QVERIFY(!timer.isActive());
    QVERIFY(!timer.deadline().isValid());
    QTest::qWait(150);
    QCOMPARE(firedAt.size(), 1);
}

void tst_Security::tokenRefresh()
{
    QVERIFY(startServer());
    auto c = ws(withToken("/ws", mint(u"alice"_s, Role::Subscriber, {u"news"_s, u"other"_s})));
    QVERIFY(c && c->waitFor(u"connected"_s));
    c->send({{"action"_L1, "subscribe"_L1}, {"channels"_L1, QJsonArray{u"news"_s, u"other"_s}}});
    QVERIFY(c->waitFor(u"subscribed"_s));
    QVERIFY(c->waitFor(u"subscribed"_s));

    // A failed refresh is an error frame; the connection stays as it was.
    c->send({{"type"_L1, "auth"_L1}, {"token"_L1, "garbage"_L1}});
    auto error = c->waitFor(u"error"_s);
    QVERIFY(error);
    QCOMPARE(error->value("code"_L1).toString(), u"unauthorized"_s);
    QVERIFY(c->isConnected());

    // Another user's token cannot take over a connection with subscriptions.
    c->send({{"type"_L1, "auth"_L1}, {"token"_L1, QString::fromLatin1(mint(u"bob"_s, Role::Subscriber))}});
    error = c->waitFor(u"error"_s);
    QVERIFY(error);
    QCOMPARE(error->value("code"_L1).toString(), u"forbidden"_s);
    c->send({{"action"_L1, "subscribe"_L1}, {"user_id"_L1, "bob"_L1}});
    error = c->waitFor(u"error"_s);
    QVERIFY(error);
    QCOMPARE(error->value("code"_L1).toString(), u"forbidden"_s);

    // A narrower token for the same user: new subscriptions follow it at once...
    c->send({{"type"_L1, "auth"_L1},
             {"token"_L1, QString::fromLatin1(mint(u"alice"_s, Role::Subscriber, {u"other"_s}))}});
    QVERIFY(c->waitFor(u"authenticated"_s));
    c->send({{"action"_L1, "subscribe"_L1}, {"channel"_L1, "news"_L1}});
    error = c->waitFor(u"error"_s);
    QVERIFY(error);
    QCOMPARE(error->value("code"_L1).toString(), u"forbidden"_s);
    // ...and the subscription it no longer allows should end with it.
    const qint64 onNews = publishAsAdmin(u"news"_s, u"no longer yours"_s);
    const qint64 onOther = publishAsAdmin(u"other"_s, u"still yours"_s);
    QTRY_VERIFY(idsOn(c->frames(), u"other"_s).contains(onOther));
    QVERIFY(!idsOn(c->frames(), u"news"_s).contains(onNews));
}

// ---- 6. Origins ----

void tst_Security::originAllowList_data()
{
    QTest::addColumn<QByteArray>("origin");
    QTest::addColumn<bool>("allowed");
    QTest::newRow("no Origin (a program)") << QByteArray() << true;
    QTest::newRow("the allowed origin") << QByteArray("https://good.example") << true;
    QTest::newRow("in capitals") << QByteArray("HTTPS://GOOD.EXAMPLE") << true;
    QTest::newRow("evil") << QByteArray("https://evil.example") << false;
    QTest::newRow("lookalike") << QByteArray("https://good.example.evil.example") << false;
    QTest::newRow("other scheme") << QByteArray("http://good.example") << false;
    QTest::newRow("other port") << QByteArray("https://good.example:8443") << false;
    QTest::newRow("null") << QByteArray("null") << false;
}

void tst_Security::originAllowList()
{
    QFETCH(QByteArray, origin);
    QFETCH(bool, allowed);
    QVERIFY(startServer([](ServerConfig &c) { c.allowedOrigins = {u"https://good.example"_s}; }));
    const QByteArray originHeader =
        origin.isEmpty() ? QByteArray() : QByteArray("Origin: " + origin + "\r\n");
    const QByteArray admin = adminToken();
    const QByteArray refusedOrigins = "herald_refusals_total{reason=\"origin\"}";
    const qint64 before = metric(refusedOrigins);

    HttpReply wsReply;
    QCOMPARE(upgrade(withToken("/ws", admin), originHeader, &wsReply), allowed ? 101 : 403);
    const HttpReply sseReply = sse(withToken("/events?user_id=alice", admin), originHeader);
    QCOMPARE(sseReply.status, allowed ? 200 : 403);
    const HttpReply rest = request("GET", "/api/channels", admin, {}, originHeader);
    QCOMPARE(rest.status, allowed ? 200 : 403);
    if (allowed) {
        QCOMPARE(rest.header("access-control-allow-origin"), origin);
        if (!origin.isEmpty())
            QCOMPARE(sseReply.header("access-control-allow-origin"), origin);
    } else {
        for (const HttpReply *r : std::initializer_list<const HttpReply *>{&wsReply, &sseReply, &rest})
            QCOMPARE(r->json().value("error"_L1).toString(), u"forbidden"_s);
        QVERIFY(rest.header("access-control-allow-origin").isEmpty());
    }
    QCOMPARE(metric(refusedOrigins), before + (allowed ? 0 : 3));
    // The origin is checked whatever the token: none at all is still refused for the origin first.
    if (!allowed)
        QCOMPARE(request("GET", "/api/channels", {}, {}, originHeader).status, 403);
}

void tst_Security::corsWithoutAllowList()
{
    QVERIFY(startServer());
    const QByteArray anyOrigin = "Origin: https://anywhere.example\r\n";
    const HttpReply r = request("GET", "/api/channels", adminToken(), {}, anyOrigin);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("access-control-allow-origin"), QByteArray("*"));
    QCOMPARE(request("GET", "/healthz", {}, {}, anyOrigin).header("access-control-allow-origin"),
             QByteArray("*"));
    QCOMPARE(upgrade(withToken("/ws", adminToken()), anyOrigin), 101);
}

void tst_Security::corsPreflight()
{
    QVERIFY(startServer([](ServerConfig &c) { c.allowedOrigins = {u"https://good.example"_s}; }));
    // A page's fetch() with an Authorization header is preflighted, without the token.
    const auto preflight = [this](const QByteArray &path, const QByteArray &origin,
                                  const QByteArray &method) {
        return request("OPTIONS", path, {}, {},
                       "Origin: " + origin + "\r\nAccess-Control-Request-Method: " + method +
                           "\r\nAccess-Control-Request-Headers: authorization, content-type\r\n");
    };
    const HttpReply users = preflight("/users/1", "https://good.example", "PATCH");
    QCOMPARE(users.status, 204);
    QCOMPARE(users.header("access-control-allow-origin"), QByteArray("https://good.example"));
    QVERIFY(users.header("access-control-allow-headers").contains("Authorization"));
    const HttpReply evil = preflight("/users/1", "https://evil.example", "PATCH");
    QVERIFY(evil.header("access-control-allow-origin").isEmpty());

    const HttpReply publish = preflight("/api/publish", "https://good.example", "POST");
    QCOMPARE(publish.status, 204);
    QCOMPARE(publish.header("access-control-allow-origin"), QByteArray("https://good.example"));
}

// ---- 7. Limits ----

void tst_Security::messageSizeLimits()
{
    QVERIFY(startOpenServer([](ServerConfig &c) { c.maxMessageSize = 4096; }));
    // WebSocket: 4096 bytes is a message, 4097 closes 1009.
    auto c = ws("/ws");
    QVERIFY(c && c->waitFor(u"connected"_s));
    const QByteArray fits = paddedJson({{"type"_L1, "ping"_L1}}, 4096);
    QCOMPARE(fits.size(), 4096);
    c->sendText(QString::fromLatin1(fits));
    QVERIFY(c->waitFor(u"pong"_s));
    c->sendText(QString::fromLatin1(paddedJson({{"type"_L1, "ping"_L1}}, 4097)));
    QVERIFY(c->waitDisconnected());
    QCOMPARE(c->closeCode(), 1009);

    // REST: the same boundary.
    const QJsonObject publish{{"channel"_L1, "news"_L1}};
    QCOMPARE(request("POST", "/api/publish", {}, paddedJson(publish, 4096)).status, 202);
    const HttpReply tooLarge = request("POST", "/api/publish", {}, paddedJson(publish, 4097));
    QCOMPARE(tooLarge.status, 413);
    QCOMPARE(tooLarge.json().value("error"_L1).toString(), u"too_large"_s);

    // Refused on the announced length, without waiting for a byte of the body: QHttpServer never buffers it.
    RawClient announced;
    QVERIFY(announced.connectTo(m_port));
    announced.write("POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Content-Length: 100000000\r\n\r\n");
    const HttpReply early = announced.readResponse();
    QCOMPARE(early.status, 413);
    QCOMPARE(early.json().value("error"_L1).toString(), u"too_large"_s);

    // A body without a length is refused outright.
    RawClient chunked;
    QVERIFY(chunked.connectTo(m_port));
    chunked.write("POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n");
    QCOMPARE(chunked.readResponse().status, 411);
}

void tst_Security::bodyAnnouncedTwiceIsRefused()
{
    QVERIFY(startOpenServer([](ServerConfig &c) { c.maxMessageSize = 4096; }));
    // A small Content-Length beside Transfer-Encoding: chunked (RFC 9112 6.3: chunked wins) must not let a
    // large chunked body past the size check.
    const QByteArray body = paddedJson({{"channel"_L1, "news"_L1}}, 20000);
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    c.write("POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n" +
            QByteArray::number(body.size(), 16) + "\r\n" + body + "\r\n0\r\n\r\n");
    const HttpReply r = c.readResponse();
    QVERIFY2(r.status == 400 || r.status == 411, dump(r).constData());
}

void tst_Security::requestSmugglingIsRefused_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");

    // A GET hidden in a chunk. A front end that honours Transfer-Encoding sees one request; a reader that
    // frames by the Content-Length (which covers the chunk's size line only) finds the GET next.
    const QByteArray hidden = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    const QByteArray sizeLine = QByteArray::number(hidden.size(), 16) + "\r\n";
    const QByteArray chunked = sizeLine + hidden + "\r\n0\r\n\r\n";
    const QByteArray toSizeLine = "Content-Length: " + QByteArray::number(sizeLine.size()) + "\r\n";
    // Bodies a Content-Length reader would take whole, with the GET behind them.
    const QByteArray publish = publishBody(u"news"_s, u"smuggled"_s);
    const QByteArray user = R"({"email":"ann@example.com","name":"Ann"})";
    const auto length = [](const QByteArray &body) {
        return QByteArray::number(body.size());
    };

    // A hot route (served by the worker, keep-alive) and two of QHttpServer's.
    for (const auto &[route, body] : {std::pair<QByteArray, QByteArray>{"/api/publish", publish},
                                      {"/api/broadcast", publish},
                                      {"/users/", user}}) {
        const QByteArray post =
            "POST " + route + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n";
        const auto row = [&route](const char *what) {
            return QByteArray(route + ", " + what);
        };
        QTest::addRow("%s", row("empty TE, then chunked, and a length").constData())
            << QByteArray(post + "Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n" + toSizeLine +
                          "\r\n" + chunked)
            << 400;
        QTest::addRow("%s", row("chunked, then empty TE").constData())
            << QByteArray(post + "Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n" + toSizeLine +
                          "\r\n" + chunked)
            << 400;
        QTest::addRow("%s", row("TE list ending in chunked").constData())
            << QByteArray(post + "Transfer-Encoding: identity, chunked\r\n" + toSizeLine + "\r\n" + chunked)
            << 400;
        QTest::addRow("%s", row("chunked and a length").constData())
            << QByteArray(post + "Transfer-Encoding: chunked\r\n" + toSizeLine + "\r\n" + chunked) << 411;
        QTest::addRow("%s", row("length list of equal values").constData())
            << QByteArray(post + "Content-Length: " + length(body) + ", " + length(body) + "\r\n\r\n" + body +
                          hidden)
            << 400;
        QTest::addRow("%s", row("length twice").constData())
            << QByteArray(post + "Content-Length: " + length(body) + "\r\nContent-Length: " + length(body) +
                          "\r\n\r\n" + body + hidden)
            << 400;
        QTest::addRow("%s", row("length with a sign").constData())
            << QByteArray(post + "Content-Length: +" + length(body) + "\r\n\r\n" + body + hidden) << 400;
    }
    // WebSocket and SSE requests are held to the same rule.
    QTest::newRow("SSE, chunked") << QByteArray("GET /events?channels=news HTTP/1.1\r\nHost: localhost\r\n"
                                                "Transfer-Encoding: chunked\r\n\r\n" +
                                                chunked)
                                  << 411;
    QTest::newRow("WebSocket, length twice")
        << QByteArray(upgradeRequest("/ws", "Content-Length: 0\r\nContent-Length: 0\r\n") + hidden) << 400;
}

void tst_Security::requestSmugglingIsRefused()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);
    QVERIFY(startOpenServer());
    const qint64 lastId = m_server->hub()->lastId();
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    c.write(request);
    const HttpReply r = c.readResponse();
    QVERIFY2(r.status == status, dump(r).constData());
    QCOMPARE(r.json().value("error"_L1).toString(), u"bad_request"_s);
    QCOMPARE(r.header("connection"), QByteArray("close"));
    // Closed after the answer: the hidden GET is never read as a request, and nothing was published.
    QVERIFY(c.waitClosed(5000));
    const QByteArray rest = c.unread();
    QVERIFY2(!rest.contains("HTTP/1."), rest.constData());
    QCOMPARE(m_server->hub()->lastId(), lastId);
    QCOMPARE(m_server->hub()->counts().clients, 0);
}

void tst_Security::perIpConnectionCap()
{
    QVERIFY(startOpenServer([](ServerConfig &c) { c.maxConnectionsPerIp = 3; }));
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(ws("/ws"));
        QVERIFY(clients.back() && clients.back()->waitFor(u"connected"_s));
    }
    // The fourth is answered before it has sent a byte.
    RawClient fourth;
    QVERIFY(fourth.connectTo(m_port));
    const HttpReply refused = fourth.readResponse();
    QCOMPARE(refused.status, 429);
    QCOMPARE(refused.json().value("error"_L1).toString(), u"rate_limited"_s);
    QCOMPARE(Herald::Metrics::get(m_server->hub()->metrics().connectionsCapped), 1);
    for (const auto &c : clients)
        QVERIFY(c->isConnected());

    // Closing one lets a new one in.
    clients.front()->close();
    QVERIFY(clients.front()->waitDisconnected());
    QVERIFY(spinUntil([this] { return request("GET", "/healthz").status == 200; }, 5000));
}

void tst_Security::rateLimitBurst()
{
    QVERIFY(startOpenServer([](ServerConfig &c) {
        c.rateLimit = 10; // burst 20
    }));
    auto c = ws("/ws");
    QVERIFY(c && c->waitFor(u"connected"_s));
    for (int i = 0; i < 30; ++i)
        c->send({{"type"_L1, "ping"_L1}});
    QTRY_VERIFY(findFrame(c->frames(), u"code"_s, u"rate_limited"_s));
    // A marker once the bucket has a token again: every frame of the burst has been handled before its pong.
    QVERIFY(spinUntil(
        [&] {
            c->send({{"type"_L1, "ping"_L1}, {"ref"_L1, "marker"_L1}});
            QTest::qWait(150);
            return findFrame(c->frames(), u"ref"_s, u"marker"_s).has_value();
        },
        5000));
    const qsizetype pongs =
        countFrames(c->frames(), u"type"_s, u"pong"_s) - countFrames(c->frames(), u"ref"_s, u"marker"_s);
    QVERIFY2(pongs >= 20 && pongs < 30, qPrintable(QString::number(pongs)));
    QCOMPARE(countFrames(c->frames(), u"code"_s, u"rate_limited"_s), 1); // once per burst
    QVERIFY(Herald::Metrics::get(m_server->hub()->metrics().rateLimited) >= 30 - pongs);
    QVERIFY(c->isConnected());
}

void tst_Security::rateLimitSteadyStream()
{
    QVERIFY(startOpenServer([](ServerConfig &c) { c.rateLimit = 10; }));
    auto c = ws("/ws");
    QVERIFY(c && c->waitFor(u"connected"_s));
    // Empty the bucket (the whole burst passes), then half the rate: every frame then needs a refill.
    for (int i = 0; i < 20; ++i)
        c->send({{"type"_L1, "ping"_L1}});
    QTRY_COMPARE(countFrames(c->frames(), u"type"_s, u"pong"_s), 20);
    for (int i = 0; i < 10; ++i) {
        QTest::qWait(200); // 5 per second
        c->send({{"type"_L1, "ping"_L1}});
    }
    QTRY_COMPARE(countFrames(c->frames(), u"type"_s, u"pong"_s), 30);
    QCOMPARE(countFrames(c->frames(), u"type"_s, u"error"_s), 0);
    QCOMPARE(Herald::Metrics::get(m_server->hub()->metrics().rateLimited), 0);
}

void tst_Security::rateLimitFlood()
{
    QVERIFY(startOpenServer([](ServerConfig &c) { c.rateLimit = 10; }));
    auto reader = ws("/ws?channels=news");
    QVERIFY(reader && reader->waitFor(u"connected"_s));
    auto flooder = ws("/ws");
    QVERIFY(flooder && flooder->waitFor(u"connected"_s));

    // Ten times the rate, for as long as the publishing below lasts.
    int sent = 0;
    QTimer flood;
    connect(&flood, &QTimer::timeout, flooder.get(), [&] {
        for (int i = 0; i < 5; ++i, ++sent)
            flooder->send({{"type"_L1, "ping"_L1}});
    });
    flood.start(50);
    QList<qint64> published;
    for (int i = 0; i < 20; ++i) {
        published.append(publishAsAdmin(u"news"_s, u"during the flood %1"_s.arg(i)));
        QTest::qWait(50);
    }
    // The other client got every message, in order, while the flood went on.
    QTRY_COMPARE(idsOn(reader->frames(), u"news"_s), published);
    QVERIFY(findFrame(flooder->frames(), u"code"_s, u"rate_limited"_s));
    QVERIFY(countFrames(flooder->frames(), u"type"_s, u"pong"_s) < sent);
    QVERIFY(Herald::Metrics::get(m_server->hub()->metrics().rateLimited) > 0);

    // A long flood ends the connection.
    const bool closedBySustainedFlood = spinUntil([&] { return !flooder->isConnected(); }, 1500);
    flood.stop();
    QVERIFY(closedBySustainedFlood);

    // A burst far over 2x the rate is closed at once, and the other client is still served.
    if (flooder->isConnected()) {
        for (int i = 0; i < 300; ++i)
            flooder->send({{"type"_L1, "ping"_L1}});
    }
    published.append(publishAsAdmin(u"news"_s, u"after the flood"_s));
    QVERIFY(flooder->waitDisconnected());
    QCOMPARE(flooder->closeCode(), 1008);
    QCOMPARE(flooder->closeReason(), u"rate limit exceeded"_s);
    QTRY_COMPARE(idsOn(reader->frames(), u"news"_s), published);
    QCOMPARE(countFrames(reader->frames(), u"type"_s, u"error"_s), 0);
    QVERIFY(reader->isConnected());
}

void tst_Security::slowConsumerIsCutOff()
{
    QVERIFY(startOpenServer([](ServerConfig &c) {
        c.maxSendBuffer = 64 * 1024;
        c.sendStallTimeout = std::chrono::milliseconds(500); // cut half a second after its last read
        c.rateLimit = 0;
    }));
    auto reader = ws("/ws?channels=bulk");
    QVERIFY(reader && reader->waitFor(u"connected"_s));
    auto publisher = ws("/ws");
    QVERIFY(publisher && publisher->waitFor(u"connected"_s));
    RawClient slow;
    QVERIFY(slow.connectTo(m_port, 4096));
    slow.write(upgradeRequest("/ws?channels=bulk&client_id=slow"));
    QCOMPARE(slow.readResponse().status, 101);
    slow.socket().setReadBufferSize(1024); // from here on it reads nothing
    QTRY_COMPARE(m_server->hub()->channelCounts().value(u"bulk"_s), 2);

    // Publish until the server gives up on the reader that does not read (the kernel buffers a few MB first,
    // then its queue stops draining for the stall timeout).
    const Herald::Metrics &metrics = m_server->hub()->metrics();
    const QString text(32000, u'x');
    QList<qint64> sent, received;
    for (int i = 0; i < 2000 && Herald::Metrics::get(metrics.slowConsumers) == 0; ++i) {
        publisher->send({{"action"_L1, "publish"_L1}, {"channel"_L1, "bulk"_L1}, {"message"_L1, text}});
        const auto ack = publisher->waitFor(u"published"_s);
        QVERIFY(ack);
        sent.append(ack->value("id"_L1).toInteger());
        // The reader that reads keeps up (its frames are dropped once counted: they are 32 KB each).
        QVERIFY(spinUntil(
            [&] {
                received += idsOn(reader->frames(), u"bulk"_s);
                reader->frames().clear();
                return received.size() >= sent.size();
            },
            5000));
    }
    QVERIFY2(Herald::Metrics::get(metrics.slowConsumers) == 1,
             qPrintable(u"not cut off after %1 messages"_s.arg(sent.size())));
    qInfo() << "the reader that does not read was cut off after" << sent.size() << "messages of 32 KB";
    QCOMPARE(metric("herald_slow_consumers_total"), 1);
    // The reader that reads got every one, in order, and is still connected.
    QCOMPARE(received, sent);
    QVERIFY(reader->isConnected());

    // The slow one reads again: what it finds ends with the close (4002), or the server reset the connection.
    slow.socket().setReadBufferSize(0);
    QVERIFY(slow.waitClosed(10000));
    const QList<WsFrame> &frames = slow.frames();
    const qsizetype texts =
        std::count_if(frames.cbegin(), frames.cend(), [](const WsFrame &f) { return f.opcode == 0x1; });
    QVERIFY(texts < sent.size() + 1); // its backlog was dropped
    const auto close =
        std::find_if(frames.cbegin(), frames.cend(), [](const WsFrame &f) { return f.opcode == 0x8; });
    QVERIFY2(close != frames.cend(), qPrintable(u"%1 frames, no close"_s.arg(frames.size())));
    QCOMPARE(close->closeCode(), 4002);
}

void tst_Security::idleTimeout()
{
    QVERIFY(startOpenServer([](ServerConfig &c) { c.idleTimeout = 2s; }));
    QElapsedTimer since;
    since.start();
    RawClient silent; // reads everything, answers nothing, not even pings
    QVERIFY(silent.connectTo(m_port));
    silent.write(upgradeRequest("/ws?client_id=silent"));
    QCOMPARE(silent.readResponse().status, 101);
    auto live = ws("/ws?client_id=live"); // QWebSocket answers pings by itself
    QVERIFY(live && live->waitFor(u"connected"_s));

    QVERIFY(silent.waitClosed(8000));
    const QList<WsFrame> &frames = silent.frames();
    QVERIFY(std::any_of(frames.cbegin(), frames.cend(), [](const WsFrame &f) { return f.opcode == 0x9; }));
    const auto close =
        std::find_if(frames.cbegin(), frames.cend(), [](const WsFrame &f) { return f.opcode == 0x8; });
    QVERIFY(close != frames.cend());
    QCOMPARE(close->closeCode(), 4003);
    QCOMPARE(close->closeReason(), u"idle timeout"_s);
    QCOMPARE(Herald::Metrics::get(m_server->hub()->metrics().idleTimeouts), 1);

    // The client that answers pings outlives the timeout by far.
    const qint64 wait = 3500 - since.elapsed();
    if (wait > 0)
        QTest::qWait(int(wait));
    QVERIFY(live->isConnected());
    live->send({{"type"_L1, "ping"_L1}});
    QVERIFY(live->waitFor(u"pong"_s));
    QCOMPARE(Herald::Metrics::get(m_server->hub()->metrics().idleTimeouts), 1);
}

// ---- 10. Keep-alive ----

void tst_Security::keepAlivePublishesOnOneConnection()
{
    QVERIFY(startOpenServer());
    auto subscriber = ws("/ws?channels=kept");
    QVERIFY(subscriber && subscriber->waitFor(u"connected"_s));
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    QList<qint64> acked;
    for (int i = 0; i < 200; ++i) {
        c.write(keptRequest("POST", "/api/publish", "Content-Type: application/json\r\n",
                            publishBody(u"kept"_s, u"message %1"_s.arg(i))));
        // A closed connection would answer nothing here: all 200 go over the one socket.
        const HttpReply r = c.readResponse();
        QVERIFY2(r.status == 202, qPrintable(u"request %1: "_s.arg(i) + QString::fromLatin1(dump(r))));
        QCOMPARE(r.header("connection"), QByteArray("keep-alive"));
        acked.append(r.json().value("id"_L1).toInteger());
    }
    QVERIFY(c.isConnected());
    QList<qint64> received;
    QVERIFY(spinUntil(
        [&] {
            received = idsOn(subscriber->frames(), u"kept"_s);
            return received.size() >= acked.size();
        },
        10000));
    QCOMPARE(received, acked);
}

void tst_Security::keepAlivePipelined()
{
    QVERIFY(startOpenServer());
    auto subscriber = ws("/ws?channels=piped");
    QVERIFY(subscriber && subscriber->waitFor(u"connected"_s));
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    // One write: the server finds many requests in one read, and answers them in order.
    QByteArray burst;
    for (int i = 0; i < 50; ++i)
        burst += keptRequest("POST", "/api/publish", {}, publishBody(u"piped"_s, u"message %1"_s.arg(i)));
    burst += keptRequest("GET", "/healthz");
    c.write(burst);
    QList<qint64> acked;
    for (int i = 0; i < 50; ++i) {
        const HttpReply r = c.readResponse();
        QVERIFY2(r.status == 202, qPrintable(u"request %1: "_s.arg(i) + QString::fromLatin1(dump(r))));
        acked.append(r.json().value("id"_L1).toInteger());
    }
    const HttpReply health = c.readResponse();
    QCOMPARE(health.status, 200);
    QCOMPARE(health.json().value("last_id"_L1).toInteger(), acked.last());
    QVERIFY(std::is_sorted(acked.cbegin(), acked.cend()));
    QCOMPARE(std::adjacent_find(acked.cbegin(), acked.cend()), acked.cend());
    QList<qint64> received;
    QVERIFY(spinUntil(
        [&] {
            received = idsOn(subscriber->frames(), u"piped"_s);
            return received.size() >= acked.size();
        },
        10000));
    QCOMPARE(received, acked);
    QVERIFY(c.isConnected());
}

void tst_Security::keepAliveSecondHeadIsChecked_data()
{
    QTest::addColumn<QByteArray>("second");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("error");
    const QByteArray post =
        "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    // No body follows: the answer must not wait for one.
    QTest::newRow("body too large") << QByteArray(post + "Content-Length: 100000000\r\n\r\n") << 413
                                    << u"too_large"_s;
    QTest::newRow("body too large, other route")
        << QByteArray("POST /users/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n") << 413
        << u"too_large"_s;
    QTest::newRow("chunked") << QByteArray(post +
                                           "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n")
                             << 411 << u"bad_request"_s;
    QTest::newRow("length and chunked")
        << QByteArray(post + "Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n") << 411
        << u"bad_request"_s;
    QTest::newRow("conflicting lengths")
        << QByteArray(post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n") << 400 << u"bad_request"_s;
    QTest::newRow("head too large") << QByteArray(post + "X-Pad: " + QByteArray(17000, 'a') + "\r\n\r\n")
                                    << 431 << u"bad_request"_s;
    QTest::newRow("not http") << QByteArray("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n") << 400
                              << u"bad_request"_s;
}

void tst_Security::keepAliveSecondHeadIsChecked()
{
    QFETCH(QByteArray, second);
    QFETCH(int, status);
    QFETCH(QString, error);
    QVERIFY(startOpenServer([](ServerConfig &c) { c.maxMessageSize = 4096; }));
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    c.write(keptRequest("POST", "/api/publish", {}, publishBody(u"news"_s, u"first"_s)));
    const HttpReply first = c.readResponse();
    QCOMPARE(first.status, 202);
    QCOMPARE(first.header("connection"), QByteArray("keep-alive"));
    const qint64 lastId = m_server->hub()->lastId();
    c.write(second);
    const HttpReply r = c.readResponse();
    QVERIFY2(r.status == status, dump(r).constData());
    QCOMPARE(r.json().value("error"_L1).toString(), error);
    QCOMPARE(r.header("connection"), QByteArray("close"));
    QVERIFY(c.waitClosed(5000));
    QCOMPARE(m_server->hub()->lastId(), lastId);
}

void tst_Security::keepAliveThenSession_data()
{
    boolRows("webSocket", {{"websocket", true}, {"sse", false}});
}

void tst_Security::keepAliveThenSession()
{
    QFETCH(bool, webSocket);
    QVERIFY(startOpenServer());
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    c.write(keptRequest("POST", "/api/publish", {}, publishBody(u"later"_s, u"before"_s)));
    QCOMPARE(c.readResponse().status, 202);
    // The next request on the reused connection is a subscription (browsers reuse idle connections for an
    // EventSource): it must reach the session code, not a 404.
    if (webSocket) {
        c.write(upgradeRequest("/ws?channels=later"));
        const HttpReply r = c.readResponse();
        QVERIFY2(r.status == 101, dump(r).constData());
        QVERIFY(spinUntil(
            [&] {
                const QList<WsFrame> &frames = c.frames();
                return std::any_of(frames.cbegin(), frames.cend(), [](const WsFrame &f) {
                    return f.opcode == 0x1 && parseObject(f.payload).value("type"_L1) == "connected"_L1;
                });
            },
            5000));
    } else {
        c.write(keptRequest("GET", "/events?channels=later", "Accept: text/event-stream\r\n"));
        const HttpReply r = c.readResponse();
        QVERIFY2(r.status == 200, dump(r).constData());
        QVERIFY(r.header("content-type").startsWith("text/event-stream"));
    }
    QTRY_COMPARE(m_server->hub()->channelCounts().value(u"later"_s), 1);
    QCOMPARE(request("POST", "/api/publish", {}, publishBody(u"later"_s, u"after the switch"_s)).status, 202);
    if (webSocket) {
        QVERIFY(spinUntil(
            [&] {
                const QList<WsFrame> &frames = c.frames();
                return std::any_of(frames.cbegin(), frames.cend(), [](const WsFrame &f) {
                    return f.opcode == 0x1 && f.payload.contains("after the switch");
                });
            },
            5000));
    } else {
        QVERIFY(c.waitForText("after the switch"));
    }
}

void tst_Security::hotRoutesAnswerAsQHttpServer_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QByteArray>("headers");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    const QByteArray publish = R"({"channel":"news","message":"m"})";
    const QByteArray publisher = bearer(mint(u"pub"_s, Role::Publisher));
    const QByteArray subscriber = bearer(mint(u"alice"_s, Role::Subscriber, {u"news"_s}));
    const QByteArray good = "Origin: https://good.example\r\n";
    QTest::newRow("no token") << QByteArray("/api/publish") << QByteArray() << publish << 401;
    QTest::newRow("bad token") << QByteArray("/api/publish") << bearer("x.y.z") << publish << 401;
    QTest::newRow("token in the query") << QByteArray("/api/publish?token=" + mint(u"pub"_s, Role::Publisher))
                                        << QByteArray() << publish << 202;
    QTest::newRow("subscriber") << QByteArray("/api/publish") << subscriber << publish << 403;
    QTest::newRow("publisher") << QByteArray("/api/publish") << publisher << publish << 202;
    QTest::newRow("allowed origin") << QByteArray("/api/publish") << QByteArray(publisher + good) << publish
                                    << 202;
    QTest::newRow("other origin") << QByteArray("/api/publish")
                                  << QByteArray(publisher + "Origin: https://evil.example\r\n") << publish
                                  << 403;
    QTest::newRow("not json") << QByteArray("/api/publish") << publisher << QByteArray("{") << 400;
    QTest::newRow("no channel") << QByteArray("/api/publish") << publisher << QByteArray(R"({"message":"m"})")
                                << 422;
    QTest::newRow("bad channel") << QByteArray("/api/publish") << publisher
                                 << QByteArray(R"({"channel":"a b","message":"m"})") << 422;
    QTest::newRow("over the size") << QByteArray("/api/publish") << publisher
                                   << paddedJson({{"channel"_L1, "news"_L1}}, 4097) << 413;
    QTest::newRow("event") << QByteArray("/api/channels/news/events") << publisher
                           << QByteArray(R"({"type":"user_login","data":{"user_id":1}})") << 202;
    QTest::newRow("event without type")
        << QByteArray("/api/channels/news/events") << publisher << QByteArray(R"({"data":1})") << 422;
    QTest::newRow("event, no token") << QByteArray("/api/channels/news/events") << QByteArray()
                                     << QByteArray(R"({"type":"t"})") << 401;
}

void tst_Security::hotRoutesAnswerAsQHttpServer()
{
    QFETCH(QByteArray, path);
    QFETCH(QByteArray, headers);
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QVERIFY(startServer([](ServerConfig &c) {
        c.allowedOrigins = {u"https://good.example"_s};
        c.maxMessageSize = 4096;
    }));
    // The same request twice on one kept connection (served by the worker), and once with the path
    // percent-encoded, which only QHttpServer's router reads: the answers must match.
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    c.write(keptRequest("POST", path, headers, body));
    const HttpReply kept = c.readResponse();
    QVERIFY2(kept.status == status, dump(kept).constData());
    if (status == 413) {
        // Refused from the head, before the body: the rest of the connection cannot be trusted.
        QCOMPARE(kept.header("connection"), QByteArray("close"));
    } else {
        QCOMPARE(kept.header("connection"), QByteArray("keep-alive"));
        c.write(keptRequest("POST", path, headers, body));
        QCOMPARE(c.readResponse().status, status);
    }
    QByteArray encoded = path;
    encoded.replace("/api/", "/%61pi/");
    RawClient other;
    QVERIFY(other.connectTo(m_port));
    other.write(keptRequest("POST", encoded, headers, body));
    const HttpReply routed = other.readResponse();
    QCOMPARE(routed.header("connection"), QByteArray("close"));
    QVERIFY2(routed.status == status, dump(routed).constData());
    QJsonObject keptJson = kept.json();
    QJsonObject routedJson = routed.json();
    QVERIFY(!keptJson.isEmpty());
    if (status == 202) {
        QVERIFY(keptJson.value("id"_L1).toInteger() > 0);
        keptJson.remove("id"_L1);
        routedJson.remove("id"_L1);
    }
    QCOMPARE(keptJson, routedJson);
    for (const QByteArrayView name :
         {"content-type", "www-authenticate", "access-control-allow-origin", "vary"})
        QCOMPARE(kept.header(name), routed.header(name));
}

void tst_Security::keepAliveEnds_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<bool>("kept");
    const QByteArray body = publishBody(u"news"_s, u"m"_s);
    const QByteArray length = "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    QTest::newRow("HTTP/1.1") << QByteArray("POST /api/publish HTTP/1.1\r\nHost: localhost\r\n" + length +
                                            "\r\n" + body)
                              << true;
    QTest::newRow("HTTP/1.1, close")
        << QByteArray("POST /api/publish HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + length +
                      "\r\n" + body)
        << false;
    QTest::newRow("HTTP/1.1, close among tokens")
        << QByteArray("POST /api/publish HTTP/1.1\r\nHost: localhost\r\nConnection: foo, Close\r\n" + length +
                      "\r\n" + body)
        << false;
    QTest::newRow("HTTP/1.0") << QByteArray("POST /api/publish HTTP/1.0\r\nHost: localhost\r\n" + length +
                                            "\r\n" + body)
                              << false;
    QTest::newRow("HTTP/1.0, keep-alive")
        << QByteArray("POST /api/publish HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n" + length +
                      "\r\n" + body)
        << true;
    QTest::newRow("health, close")
        << QByteArray("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n") << false;
}

void tst_Security::keepAliveEnds()
{
    QFETCH(QByteArray, request);
    QFETCH(bool, kept);
    QVERIFY(startOpenServer());
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    c.write(request);
    const HttpReply r = c.readResponse();
    QVERIFY2(r.status == 202 || r.status == 200, dump(r).constData());
    QCOMPARE(r.header("connection"), kept ? QByteArray("keep-alive") : QByteArray("close"));
    if (kept) {
        // Still open: a second request is answered on it.
        c.write(request);
        QCOMPARE(c.readResponse().status, r.status);
        QVERIFY(c.isConnected());
    } else {
        QVERIFY(c.waitClosed(5000));
        QVERIFY(c.unread().isEmpty());
    }
}

void tst_Security::keepAliveOtherRoutesClose()
{
    QVERIFY(startOpenServer());
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    c.write(keptRequest("POST", "/api/publish", {}, publishBody(u"news"_s, u"m"_s)));
    QCOMPARE(c.readResponse().status, 202);
    // Any other route goes to QHttpServer for one request, and the connection ends after its answer, even
    // for a client that ignores "Connection: close".
    c.write(keptRequest("GET", "/api/channels"));
    const HttpReply r = c.readResponse();
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("connection"), QByteArray("close"));
    QVERIFY(c.waitClosed(5000));
    const qint64 lastId = m_server->hub()->lastId();
    c.write(keptRequest("POST", "/api/publish", {}, publishBody(u"news"_s, u"ignored"_s)));
    QTest::qWait(100);
    QCOMPARE(m_server->hub()->lastId(), lastId);
}

void tst_Security::keepAliveIdleTimeout()
{
    QVERIFY(startOpenServer([](ServerConfig &c) { c.keepAliveTimeout = 300ms; }));
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    c.write(keptRequest("GET", "/healthz"));
    const HttpReply r = c.readResponse();
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("keep-alive"), QByteArray("timeout=1"));
    // Closed quietly once idle: no 408, nothing at all.
    QVERIFY(c.waitClosed(5000));
    QVERIFY(c.unread().isEmpty());
}

void tst_Security::keepAliveBodyInPieces()
{
    QVERIFY(startOpenServer());
    const QByteArray body = publishBody(u"news"_s, QString(3000, u'x'));
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    // The head first, the body in three pieces.
    const QByteArray length = "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    c.write("POST /api/publish HTTP/1.1\r\nHost: localhost\r\n" + length + "\r\n");
    for (int i = 0; i < 3; ++i) {
        QTest::qWait(30);
        c.write(body.mid(i * 1000, i == 2 ? -1 : 1000));
    }
    HttpReply r = c.readResponse();
    QVERIFY2(r.status == 202, dump(r).constData());
    // A client that asks first gets "100 Continue", then the answer.
    c.write("POST /api/publish HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n" + length + "\r\n");
    QVERIFY(c.takeExactly("HTTP/1.1 100 Continue\r\n\r\n"));
    c.write(body);
    r = c.readResponse();
    QVERIFY2(r.status == 202, dump(r).constData());
    QCOMPARE(r.header("connection"), QByteArray("keep-alive"));
}

void tst_Security::keepAliveHeadInPieces_data()
{
    QTest::addColumn<QByteArray>("cutAfter");
    QTest::newRow("request line") << QByteArray("POST /api/pu");
    QTest::newRow("headers") << QByteArray("Host: 127");
    QTest::newRow("final CRLF") << QByteArray("\r\n\r");
}

// A reused connection whose next head arrives in two pieces stays on the keep-alive engine: the first piece
// is read into the connection's own buffer and the head parsed from there once the rest is in. Before, the
// connection went the one-shot way and closed after that answer.
void tst_Security::keepAliveHeadInPieces()
{
    QFETCH(QByteArray, cutAfter);
    QVERIFY(startOpenServer());
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    c.write(keptRequest("GET", "/healthz"));
    HttpReply r = c.readResponse();
    QVERIFY2(r.status == 200, dump(r).constData());
    const QByteArray second = keptRequest("POST", "/api/publish", "Content-Type: application/json\r\n",
                                          publishBody(u"news"_s, u"in pieces"_s));
    const qsizetype cut = second.indexOf(cutAfter) + cutAfter.size();
    QVERIFY(cut > cutAfter.size() - 1 && cut < second.indexOf("\r\n\r\n") + 4);
    c.write(second.first(cut));
    QTest::qWait(100);
    c.write(second.sliced(cut));
    r = c.readResponse();
    QVERIFY2(r.status == 202, dump(r).constData());
    QCOMPARE(r.header("connection"), QByteArray("keep-alive"));
    // The same connection answers on.
    c.write(keptRequest("GET", "/healthz"));
    r = c.readResponse();
    QVERIFY2(r.status == 200, dump(r).constData());
    QVERIFY(c.isConnected());
}

// A head read in pieces that the engine does not serve itself still reaches QHttpServer whole (the piece
// already read put back in front), which answers it and closes, as for any other route.
void tst_Security::keepAliveOtherHeadInPieces()
{
    QVERIFY(startOpenServer());
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    c.write(keptRequest("GET", "/healthz"));
    QCOMPARE(c.readResponse().status, 200);
    const QByteArray second = keptRequest("GET", "/api/channels");
    const qsizetype cut = second.indexOf("Host:") + 3;
    c.write(second.first(cut));
    QTest::qWait(100);
    c.write(second.sliced(cut));
    const HttpReply r = c.readResponse();
    QVERIFY2(r.status == 200, dump(r).constData());
    QCOMPARE(r.header("connection"), QByteArray("close"));
    QVERIFY(c.waitClosed(5000));
}

void tst_Security::keepAliveClientLeavesMidBody()
{
    QVERIFY(startOpenServer());
    const qint64 lastId = m_server->hub()->lastId();
    {
        RawClient c;
        QVERIFY(c.connectTo(m_port));
        c.write(keptRequest("POST", "/api/publish", {}, publishBody(u"news"_s, u"m"_s)));
        QCOMPARE(c.readResponse().status, 202);
        c.write("POST /api/publish HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n{\"channel\":");
        QTest::qWait(100); // the server holds half a body
    }                      // and the client goes
    RawClient next;
    QVERIFY(next.connectTo(m_port));
    next.write(keptRequest("POST", "/api/publish", {}, publishBody(u"news"_s, u"m"_s)));
    const HttpReply r = next.readResponse();
    QCOMPARE(r.status, 202);
    QCOMPARE(r.json().value("id"_L1).toInteger(), lastId + 2); // nothing was made of the half body
}

void tst_Security::keepAliveWaitsForASlowReader()
{
    QVERIFY(startOpenServer());
    const Herald::Metrics &metrics = m_server->hub()->metrics();
    RawClient c;
    QVERIFY(c.connectTo(m_port, 4096));
    c.socket().setReadBufferSize(1024); // from here on it reads nothing
    // Batches of requests, each written once the server answered the last: it answers until the kernel
    // takes no more of its answers (a few MB), then must stop reading requests until they are sent.
    const QByteArray one = keptRequest("GET", "/healthz");
    constexpr int Batch = 1000;
    qint64 written = 0;
    bool stalled = false;
    for (int i = 0; i < 200 && !stalled; ++i) {
        c.write(one.repeated(Batch));
        written += Batch;
        const qint64 target = written;
        stalled = !spinUntil([&] { return Herald::Metrics::get(metrics.httpRequests) >= target; }, 2000);
    }
    QVERIFY2(stalled, "the server answered everything although the client read nothing");
    const qint64 answeredWhileStalled = Herald::Metrics::get(metrics.httpRequests);
    QVERIFY(answeredWhileStalled < written);
    // The client reads again: every answer arrives, whole and in order, on the same connection.
    c.socket().setReadBufferSize(0);
    for (qint64 i = 0; i < written; ++i) {
        const HttpReply r = c.readResponse(10000);
        QVERIFY2(r.status == 200 && r.json().value("status"_L1) == "ok"_L1,
                 qPrintable(u"answer %1 of %2: "_s.arg(i).arg(written) + QString::fromLatin1(dump(r))));
    }
    QCOMPARE(Herald::Metrics::get(metrics.httpRequests), written);
    QVERIFY(c.isConnected());
}

// --body-timeout, on every route: the hot ones the worker serves and the ones QHttpServer serves (which had
// no deadline at all). The body trickles in, a byte every 200 ms, and never ends in time.
void tst_Security::slowBodyTimesOut_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::newRow("POST /users/ (QHttpServer)") << QByteArray("/users/");
    QTest::newRow("POST /api/broadcast (QHttpServer)") << QByteArray("/api/broadcast");
    QTest::newRow("POST /api/publish (worker)") << QByteArray("/api/publish");
}

void tst_Security::slowBodyTimesOut()
{
    QFETCH(QByteArray, path);
    QVERIFY(startOpenServer([](ServerConfig &c) {
        c.handshakeTimeout = 10s; // the head's deadline is not the one that ends this
        c.bodyTimeout = 1s;
    }));
    const Herald::Metrics &metrics = m_server->hub()->metrics();
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    c.write("POST " + path +
            " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{");
    HttpReply r;
    for (int i = 0; i < 25 && r.status == 0 && c.isConnected(); ++i) {
        c.write(" ");
        r = c.readResponse(200);
    }
    QVERIFY2(r.status == 408, dump(r).constData());
    QCOMPARE(r.json().value("error"_L1).toString(), u"timeout"_s);
    QVERIFY(c.waitClosed(5000));
    QCOMPARE(Herald::Metrics::get(metrics.bodyTimeouts), 1);
    QCOMPARE(Herald::Metrics::get(metrics.headTimeouts), 0);
}

// --write-timeout: a client that never reads a large answer of a QHttpServer route (a history page of a few
// MB) loses its connection, instead of holding it and the answer's memory forever.
void tst_Security::unreadAnswerTimesOut()
{
    QVERIFY(startOpenServer([](ServerConfig &c) {
        c.maxMessageSize = 2 * 1024 * 1024;
        c.writeTimeout = 1s;
    }));
    const Herald::Metrics &metrics = m_server->hub()->metrics();
    const QByteArray big = publishBody(u"big"_s, QString(1024 * 1024, u'x'));
    for (int i = 0; i < 12; ++i) {
        RawClient p;
        QVERIFY(p.connectTo(m_port));
        p.write(httpRequest("POST", "/api/publish", {}, big));
        QCOMPARE(p.readResponse(10000).status, 202);
    }
    RawClient c;
    QVERIFY(c.connectTo(m_port, 4096));
    c.socket().setReadBufferSize(1024); // from here on it reads nothing
    c.write(httpRequest("GET", "/api/channels/big/history?limit=12"));
    QTRY_COMPARE_WITH_TIMEOUT(Herald::Metrics::get(metrics.writeTimeouts), 1, 10000);
    // The client reads again: a part of the answer, then the end of the connection.
    c.socket().setReadBufferSize(0);
    QVERIFY(c.waitClosed(10000));
    QVERIFY(c.unread().size() < 12 * 1024 * 1024);
}

// --request-timeout: a head that never ends gets 408 and is counted, on a fresh connection and on one that
// already served a keep-alive request.
void tst_Security::slowHeadTimesOut_data()
{
    boolRows("afterARequest", {{"first head", false}, {"second head on a keep-alive connection", true}});
}

void tst_Security::slowHeadTimesOut()
{
    QFETCH(bool, afterARequest);
    QVERIFY(startOpenServer([](ServerConfig &c) { c.handshakeTimeout = 500ms; }));
    const Herald::Metrics &metrics = m_server->hub()->metrics();
    RawClient c;
    QVERIFY(c.connectTo(m_port));
    if (afterARequest) {
        c.write(keptRequest("GET", "/healthz"));
        QCOMPARE(c.readResponse().status, 200);
    }
    c.write("GET /heal");
    const HttpReply r = c.readResponse(5000);
    QVERIFY2(r.status == 408, dump(r).constData());
    QCOMPARE(Herald::Metrics::get(metrics.headTimeouts), 1);
    QCOMPARE(Herald::Metrics::get(metrics.bodyTimeouts), 0);
}

// --write-timeout on the worker's keep-alive connections: a client that pipelines requests and never reads
// their answers is dropped once the kernel takes no more of them for that long.
void tst_Security::keepAliveUnreadAnswersTimeOut()
{
    QVERIFY(startOpenServer([](ServerConfig &c) { c.writeTimeout = 1s; }));
    const Herald::Metrics &metrics = m_server->hub()->metrics();
    RawClient c;
    QVERIFY(c.connectTo(m_port, 4096));
    c.socket().setReadBufferSize(1024); // from here on it reads nothing
    const QByteArray batch = keptRequest("GET", "/healthz").repeated(100);
    for (int i = 0; i < 2000 && Herald::Metrics::get(metrics.writeTimeouts) == 0 && c.isConnected(); ++i) {
        c.write(batch);
        QTest::qWait(20);
    }
    QTRY_COMPARE_WITH_TIMEOUT(Herald::Metrics::get(metrics.writeTimeouts), 1, 10000);
}

// --write-timeout on streams: an event stream or a WebSocket whose client stops reading is dropped once it
// has acknowledged nothing for that long (before, it held its connection and its buffer until --send-buffer
// filled, which a quiet channel never does). One that reads the same messages stays.
void tst_Security::unreadStreamTimesOut_data()
{
    boolRows("webSocket", {{"sse", false}, {"websocket", true}});
}

void tst_Security::unreadStreamTimesOut()
{
    QFETCH(bool, webSocket);
    QVERIFY(startOpenServer([](ServerConfig &c) {
        c.writeTimeout = 1s;
        c.idleTimeout = 0s; // not the rule under test
    }));
    const Herald::Metrics &metrics = m_server->hub()->metrics();
    RawClient stuck;
    QVERIFY(stuck.connectTo(m_port, 4096));
    stuck.write(webSocket ? upgradeRequest("/ws?channels=big")
                          : httpRequest("GET", "/events?channels=big", "Accept: text/event-stream\r\n"));
    QCOMPARE(stuck.readResponse().status, webSocket ? 101 : 200);
    stuck.socket().setReadBufferSize(1024); // from here on it reads nothing
    auto reader = ws("/ws?channels=big");
    QVERIFY(reader && reader->waitFor(u"connected"_s));
    QTRY_COMPARE(m_server->hub()->subscriberCount(u"big"_s), 2);
    for (int i = 0; i < 20; ++i)
        QCOMPARE(request("POST", "/api/publish", {}, publishBody(u"big"_s, QString(30000, u'x'))).status,
                 202);
    QTRY_COMPARE_WITH_TIMEOUT(Herald::Metrics::get(metrics.writeTimeouts), 1, 10000);
    QTRY_COMPARE(m_server->hub()->subscriberCount(u"big"_s), 1);
    // The reader got everything and is still there.
    for (int i = 0; i < 20; ++i)
        QVERIFY(reader->waitFor(u"message"_s));
    QVERIFY(reader->isConnected());
    QTest::qWait(1500);
    QCOMPARE(Herald::Metrics::get(metrics.writeTimeouts), 1);
}

// --max-subscriptions: one connection cannot make the hub and every publish's fan-out carry thousands of its
// subscriptions. A subscribe past the cap is an error frame with its own code, the connection stays, and a
// freed slot can be used again.
void tst_Security::subscriptionCap()
{
    QVERIFY(startOpenServer([](ServerConfig &c) { c.maxSubscriptions = 5; }));
    const Herald::Metrics &metrics = m_server->hub()->metrics();
    auto c = ws("/ws?channels=a,b,c");
    QVERIFY(c);
    QVERIFY(c->waitFor(u"connected"_s));
    c->send({{"action"_L1, "subscribe"_L1}, {"channels"_L1, QJsonArray{"d"_L1, "e"_L1, "f"_L1, "a"_L1}}});
    QCOMPARE(c->waitFor(u"subscribed"_s)->value("channel"_L1).toString(), u"d"_s);
    QCOMPARE(c->waitFor(u"subscribed"_s)->value("channel"_L1).toString(), u"e"_s);
    const auto error = c->waitFor(u"error"_s);
    QVERIFY(error);
    QCOMPARE(error->value("code"_L1).toString(), u"too_many_subscriptions"_s);
    QVERIFY2(error->value("message"_L1).toString().contains(u"5"_s),
             qPrintable(error->value("message"_L1).toString()));
    // A channel it already has is not a new subscription.
    QCOMPARE(c->waitFor(u"subscribed"_s)->value("channel"_L1).toString(), u"a"_s);
    QCOMPARE(Herald::Metrics::get(metrics.subscriptionsCapped), 1);
    QTRY_COMPARE(m_server->hub()->subscriberCount(u"e"_s), 1);
    QCOMPARE(m_server->hub()->subscriberCount(u"f"_s), 0);
    // Unsubscribe, then the slot is free again; and f is delivered.
    c->send({{"action"_L1, "unsubscribe"_L1}, {"channel"_L1, "a"_L1}});
    QVERIFY(c->waitFor(u"unsubscribed"_s));
    c->send({{"action"_L1, "subscribe"_L1}, {"channel"_L1, "f"_L1}});
    QCOMPARE(c->waitFor(u"subscribed"_s)->value("channel"_L1).toString(), u"f"_s);
    QTRY_COMPARE(m_server->hub()->subscriberCount(u"f"_s), 1);
    QCOMPARE(request("POST", "/api/publish", {}, publishBody(u"f"_s, u"hello"_s)).status, 202);
    const auto message = c->waitFor(u"message"_s);
    QVERIFY(message);
    QCOMPARE(message->value("channel"_L1).toString(), u"f"_s);
    QVERIFY(c->isConnected());
}

void tst_Security::subscriptionCapAtConnect_data()
{
    QTest::addColumn<bool>("webSocket");
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<bool>("refused");
    QTest::newRow("ws at the cap") << true << QByteArray("/ws?channels=a,b,c,d,e") << false;
    QTest::newRow("ws over it") << true << QByteArray("/ws?channels=a,b,c,d,e,f") << true;
    QTest::newRow("ws duplicates count once") << true << QByteArray("/ws?channels=a,b,c,d,e,a,b") << false;
    QTest::newRow("ws with user_id over it")
        << true << QByteArray("/ws?user_id=u&channels=a,b,c,d,e") << true;
    QTest::newRow("sse at the cap") << false << QByteArray("/events?user_id=u&channels=a,b,c,d") << false;
    QTest::newRow("sse over it") << false << QByteArray("/events?channels=a,b,c,d,e,f") << true;
}

void tst_Security::subscriptionCapAtConnect()
{
    QFETCH(bool, webSocket);
    QFETCH(QByteArray, target);
    QFETCH(bool, refused);
    QVERIFY(startOpenServer([](ServerConfig &c) { c.maxSubscriptions = 5; }));
    HttpReply r;
    if (webSocket)
        upgrade(target, {}, &r);
    else
        r = sse(target);
    if (!refused) {
        QCOMPARE(r.status, webSocket ? 101 : 200);
        return;
    }
    QCOMPARE(r.status, 400);
    RawClient c; // the body of a refusal: read it through a fresh exchange
    QVERIFY(c.connectTo(m_port));
    c.write(webSocket ? upgradeRequest(target) : httpRequest("GET", target, "Accept: text/event-stream\r\n"));
    const HttpReply body = c.readResponse();
    QCOMPARE(body.status, 400);
    QCOMPARE(body.json().value("error"_L1).toString(), u"too_many_subscriptions"_s);
    QCOMPARE(Herald::Metrics::get(m_server->hub()->metrics().subscriptionsCapped), 2);
}

// GET /api/channels is paged: every channel, stored or live or both, exactly once across the pages, in name
// order, each page no longer than its limit.
void tst_Security::channelListIsPaged()
{
    QVERIFY(startOpenServer([](ServerConfig &c) { c.maxSubscriptions = 2000; }));
    auto name = [](int i) {
        return u"ch.%1"_s.arg(i, 4, 10, QChar(u'0'));
    };
    // Stored: ch.0000 to ch.1499, one message each, pipelined on one keep-alive connection.
    {
        RawClient p;
        QVERIFY(p.connectTo(m_port));
        QByteArray all;
        for (int i = 0; i < 1500; ++i)
            all += keptRequest("POST", "/api/publish", {}, publishBody(name(i), u"x"_s));
        p.write(all);
        for (int i = 0; i < 1500; ++i)
            QCOMPARE(p.readResponse(10000).status, 202);
    }
    // Live: ch.1000 to ch.2499, one subscriber each (500 of them stored too).
    auto c = ws("/ws");
    QVERIFY(c && c->waitFor(u"connected"_s));
    QJsonArray live;
    for (int i = 1000; i < 2500; ++i)
        live.append(name(i));
    c->send({{"action"_L1, "subscribe"_L1}, {"channels"_L1, live}});
    QTRY_COMPARE_WITH_TIMEOUT(m_server->hub()->liveChannelCount(), 1500, 10000);

    for (const int limit : {100, 7, 1000}) {
        QStringList seen;
        QByteArray after;
        int pages = 0;
        for (;;) {
            QByteArray target = "/api/channels?limit=" + QByteArray::number(limit);
            if (!after.isEmpty())
                target += "&after=" + after;
            const HttpReply r = request("GET", target);
            QCOMPARE(r.status, 200);
            const QJsonObject o = r.json();
            const QJsonArray page = o.value("channels"_L1).toArray();
            QVERIFY(page.size() <= limit);
            ++pages;
            for (const QJsonValue &v : page) {
                const QJsonObject ch = v.toObject();
                const QString n = ch.value("name"_L1).toString();
                const int i = n.mid(3).toInt();
                QCOMPARE(ch.value("subscribers"_L1).toInt(), i >= 1000 ? 1 : 0);
                QCOMPARE(ch.value("stored"_L1).toInteger(), i < 1500 ? 1 : 0);
                seen.append(n);
            }
            if (!o.value("has_more"_L1).toBool()) {
                QVERIFY(!o.contains("next"_L1));
                break;
            }
            QCOMPARE(page.size(), limit);
            after = o.value("next"_L1).toString().toLatin1();
            QCOMPARE(QString::fromLatin1(after), page.last().toObject().value("name"_L1).toString());
            QVERIFY(pages < 1000);
        }
        QCOMPARE(seen.size(), 2500);
        for (int i = 0; i < 2500; ++i)
            QCOMPARE(seen.at(i), name(i)); // each once, in order
        QCOMPARE(pages, (2500 + limit - 1) / limit);
    }
    // Without a limit: the first 100.
    const HttpReply first = request("GET", "/api/channels");
    QCOMPARE(first.status, 200);
    QCOMPARE(first.json().value("channels"_L1).toArray().size(), 100);
    QVERIFY(first.json().value("has_more"_L1).toBool());
    QCOMPARE(first.json().value("next"_L1).toString(), name(99));
}

void tst_Security::channelListLimits_data()
{
    QTest::addColumn<QByteArray>("query");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("code");
    QTest::newRow("limit 0") << QByteArray("?limit=0") << 422 << u"bad_request"_s;
    QTest::newRow("limit 1001") << QByteArray("?limit=1001") << 422 << u"bad_request"_s;
    QTest::newRow("limit text") << QByteArray("?limit=all") << 422 << u"bad_request"_s;
    QTest::newRow("limit 1000") << QByteArray("?limit=1000") << 200 << QString();
    QTest::newRow("bad cursor") << QByteArray("?after=a%20b") << 422 << u"bad_channel"_s;
    QTest::newRow("cursor past the end") << QByteArray("?after=zzz") << 200 << QString();
}

void tst_Security::channelListLimits()
{
    QFETCH(QByteArray, query);
    QFETCH(int, status);
    QFETCH(QString, code);
    QVERIFY(startOpenServer());
    QCOMPARE(request("POST", "/api/publish", {}, publishBody(u"news"_s, u"x"_s)).status, 202);
    const HttpReply r = request("GET", "/api/channels" + query);
    QCOMPARE(r.status, status);
    if (status != 200) {
        QCOMPARE(r.json().value("error"_L1).toString(), code);
        return;
    }
    QCOMPARE(r.json().value("has_more"_L1).toBool(), false);
    QCOMPARE(r.json().value("channels"_L1).toArray().size(), query.contains("zzz") ? 0 : 1);
}

// ---- 8. Configuration ----

void tst_Security::startRefusals_data()
{
    QTest::addColumn<int>("mode"); // ServerConfig::AuthMode
    QTest::addColumn<QString>("secretFile");
    QTest::addColumn<QByteArray>("secret"); // written to secretFile
    QTest::addColumn<QString>("errorPart"); // empty: starts
    const int automatic = int(ServerConfig::AuthMode::Auto), open = int(ServerConfig::AuthMode::Open),
              token = int(ServerConfig::AuthMode::Token);
    QTest::newRow("token without a secret file")
        << token << QString() << QByteArray() << u"--jwt-secret-file"_s;
    QTest::newRow("token, missing file") << token << u"missing"_s << QByteArray() << u"cannot read"_s;
    QTest::newRow("token, empty secret") << token << u"secret"_s << QByteArray() << u"shorter than 32"_s;
    QTest::newRow("token, 31 bytes") << token << u"secret"_s << Secret.left(31) << u"shorter than 32"_s;
    QTest::newRow("token, 31 bytes and blanks")
        << token << u"secret"_s << QByteArray(Secret.left(31) + " \n\n") << u"shorter than 32"_s;
    QTest::newRow("token, 32 bytes") << token << u"secret"_s << Secret.left(32) << QString();
    QTest::newRow("open without a secret") << open << QString() << QByteArray() << QString();
    QTest::newRow("auto on loopback without a secret") << automatic << QString() << QByteArray() << QString();
}

void tst_Security::startRefusals()
{
    QFETCH(int, mode);
    QFETCH(QString, secretFile);
    QFETCH(QByteArray, secret);
    QFETCH(QString, errorPart);
    QString path;
    if (!secretFile.isEmpty()) {
        path = m_dir->filePath(secretFile);
        if (secretFile != u"missing"_s) {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(secret);
        }
    }
    ServerConfig config;
    config.port = 0;
    config.dataDir = m_dir->filePath(u"data"_s);
    config.workerThreads = 1;
    config.authMode = ServerConfig::AuthMode(mode);
    config.jwtSecretFile = path;
    m_server = std::make_unique<Herald::Server>(config);
    const bool started = m_server->start();
    if (!errorPart.isEmpty()) {
        QVERIFY(!started);
        QVERIFY2(m_server->errorString().contains(errorPart), qPrintable(m_server->errorString()));
        QVERIFY(!m_server->errorString().contains(u'\n'));
        QCOMPARE(m_server->port(), 0); // nothing listens
        return;
    }
    QVERIFY2(started, qPrintable(m_server->errorString()));
    m_port = m_server->port();
    // The mode it started in shows: a token is needed exactly in token mode.
    QCOMPARE(request("GET", "/api/channels").status, config.tokenAuth() ? 401 : 200);
    if (config.tokenAuth())
        QCOMPARE(
            request("GET", "/api/channels", mint(u"a"_s, Role::Subscriber, {}, 1h, Secret.left(32))).status,
            200);
}

void tst_Security::authModeResolution_data()
{
    QTest::addColumn<QString>("bind");
    QTest::addColumn<int>("mode");
    QTest::addColumn<int>("maxPerIp");
    QTest::addColumn<bool>("tokenAuth");
    QTest::addColumn<int>("cap");
    const int automatic = int(ServerConfig::AuthMode::Auto), open = int(ServerConfig::AuthMode::Open),
              token = int(ServerConfig::AuthMode::Token);
    QTest::newRow("auto, 127.0.0.1") << u"127.0.0.1"_s << automatic << -1 << false << 0;
    QTest::newRow("auto, ::1") << u"::1"_s << automatic << -1 << false << 0;
    QTest::newRow("auto, 0.0.0.0") << u"0.0.0.0"_s << automatic << -1 << true << 1000;
    QTest::newRow("auto, ::") << u"::"_s << automatic << -1 << true << 1000;
    QTest::newRow("auto, a LAN address") << u"192.168.1.5"_s << automatic << -1 << true << 1000;
    QTest::newRow("open, 0.0.0.0") << u"0.0.0.0"_s << open << -1 << false << 1000;
    QTest::newRow("token, 127.0.0.1") << u"127.0.0.1"_s << token << -1 << true << 0;
    QTest::newRow("explicit cap") << u"0.0.0.0"_s << automatic << 3 << true << 3;
    QTest::newRow("cap switched off") << u"0.0.0.0"_s << automatic << 0 << true << 0;
}

void tst_Security::authModeResolution()
{
    QFETCH(QString, bind);
    QFETCH(int, mode);
    QFETCH(int, maxPerIp);
    QFETCH(bool, tokenAuth);
    QFETCH(int, cap);
    // The configuration's logic only: nothing listens on a non-loopback address in a unit test.
    ServerConfig config;
    config.bind = QHostAddress(bind);
    config.bindText = bind;
    config.authMode = ServerConfig::AuthMode(mode);
    config.maxConnectionsPerIp = maxPerIp;
    QCOMPARE(config.tokenAuth(), tokenAuth);
    QCOMPARE(config.connectionsPerIpCap(), cap);

    // Through the command line too.
    const auto parsed =
        Herald::parseServerOptions({u"herald-server"_s, u"--bind"_s, bind, u"--auth"_s,
                                    mode == int(ServerConfig::AuthMode::Token) ? u"token"_s : u"open"_s});
    QVERIFY2(parsed, qPrintable(parsed ? QString() : parsed.error()));
    QCOMPARE(parsed->config.tokenAuth(), mode == int(ServerConfig::AuthMode::Token));
    const auto automaticParsed = Herald::parseServerOptions({u"herald-server"_s, u"--bind"_s, bind});
    QVERIFY2(automaticParsed, qPrintable(automaticParsed ? QString() : automaticParsed.error()));
    QCOMPARE(automaticParsed->config.tokenAuth(), !QHostAddress(bind).isLoopback());
}

void tst_Security::tokenSubcommand_data()
{
    QTest::addColumn<QStringList>("arguments"); // after "herald-server token"; SECRET: the secret file
    QTest::addColumn<QString>("errorPart");     // empty: parses
    QTest::addColumn<QString>("role");
    QTest::addColumn<qint64>("ttl");
    QTest::addColumn<QStringList>("channels");
    const QString s = u"SECRET"_s;
    QTest::newRow("publisher for an hour") << QStringList{u"--sub"_s,
                                                          u"alice"_s,
                                                          u"--role"_s,
                                                          u"publisher"_s,
                                                          u"--ttl"_s,
                                                          u"1h"_s,
                                                          u"--jwt-secret-file"_s,
                                                          s}
                                           << QString() << u"publisher"_s << qint64(3600) << QStringList();
    QTest::newRow("with channels") << QStringList{u"--sub"_s,
                                                  u"alice"_s,
                                                  u"--role"_s,
                                                  u"admin"_s,
                                                  u"--ttl"_s,
                                                  u"15m"_s,
                                                  u"--channels"_s,
                                                  u"news, team.*"_s,
                                                  u"--jwt-secret-file"_s,
                                                  s}
                                   << QString() << u"admin"_s << qint64(900)
                                   << QStringList{u"news"_s, u"team.*"_s};
    QTest::newRow("defaults") << QStringList{u"--sub"_s, u"alice"_s, u"--jwt-secret-file"_s, s} << QString()
                              << u"subscriber"_s << qint64(3600) << QStringList();
    QTest::newRow("no expiry")
        << QStringList{u"--sub"_s, u"alice"_s, u"--ttl"_s, u"0"_s, u"--jwt-secret-file"_s, s} << QString()
        << u"subscriber"_s << qint64(0) << QStringList();
    QTest::newRow("bad role")
        << QStringList{u"--sub"_s, u"alice"_s, u"--role"_s, u"root"_s, u"--jwt-secret-file"_s, s}
        << u"--role"_s << QString() << qint64(0) << QStringList();
    QTest::newRow("no sub") << QStringList{u"--role"_s, u"admin"_s, u"--jwt-secret-file"_s, s} << u"--sub"_s
                            << QString() << qint64(0) << QStringList();
    QTest::newRow("bad sub") << QStringList{u"--sub"_s, u"al ice"_s, u"--jwt-secret-file"_s, s} << u"--sub"_s
                             << QString() << qint64(0) << QStringList();
    QTest::newRow("bad ttl")
        << QStringList{u"--sub"_s, u"alice"_s, u"--ttl"_s, u"1x"_s, u"--jwt-secret-file"_s, s} << u"--ttl"_s
        << QString() << qint64(0) << QStringList();
    QTest::newRow("negative ttl")
        << QStringList{u"--sub"_s, u"alice"_s, u"--ttl"_s, u"-5"_s, u"--jwt-secret-file"_s, s} << u"--ttl"_s
        << QString() << qint64(0) << QStringList();
    QTest::newRow("bad channel pattern")
        << QStringList{u"--sub"_s, u"alice"_s, u"--channels"_s, u"a b"_s, u"--jwt-secret-file"_s, s}
        << u"--channels"_s << QString() << qint64(0) << QStringList();
    QTest::newRow("no secret file") << QStringList{u"--sub"_s, u"alice"_s} << u"--jwt-secret-file"_s
                                    << QString() << qint64(0) << QStringList();
}

void tst_Security::tokenSubcommand()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, errorPart);
    QFETCH(QString, role);
    QFETCH(qint64, ttl);
    QFETCH(QStringList, channels);
    arguments.replaceInStrings(u"SECRET"_s, m_secretFile);
    const auto parsed = Herald::parseServerOptions(QStringList{u"herald-server"_s, u"token"_s} + arguments);
    if (!errorPart.isEmpty()) {
        QVERIFY(!parsed);
        QVERIFY2(parsed.error().contains(errorPart), qPrintable(parsed ? QString() : parsed.error()));
        QVERIFY(!parsed.error().contains(u'\n'));
        return;
    }
    QVERIFY2(parsed, qPrintable(parsed ? QString() : parsed.error()));
    QCOMPARE(parsed->action, Herald::ServerOptions::Action::Token);
    QCOMPARE(parsed->token.subject, u"alice"_s);
    QCOMPARE(Herald::roleName(parsed->token.role), role);
    QCOMPARE(qint64(parsed->token.ttl.count()), ttl);
    QCOMPARE(parsed->token.channels, channels);
    QCOMPARE(parsed->config.jwtSecretFile, m_secretFile);

    // What main() does with it: a token the server accepts, saying exactly that.
    const auto secret = Herald::readSecretFile(parsed->config.jwtSecretFile);
    QVERIFY(secret);
    const auto &t = parsed->token;
    const QByteArray token = Herald::TokenVerifier(*secret).mint(t.subject, t.role, t.ttl, t.channels);
    const auto identity = Herald::TokenVerifier(Secret).verify(token);
    QVERIFY2(identity, qPrintable(identity ? QString() : identity.error().message));
    QCOMPARE(identity->subject, u"alice"_s);
    QCOMPARE(Herald::roleName(identity->role), role);
    QCOMPARE(identity->channels, channels);
    QCOMPARE(identity->expiresAt.isValid(), ttl > 0);
    if (ttl > 0)
        QVERIFY(qAbs(QDateTime::currentDateTimeUtc().secsTo(identity->expiresAt) - ttl) <= 2);
}

QTEST_MAIN(tst_Security)
#include "tst_security.moc"
