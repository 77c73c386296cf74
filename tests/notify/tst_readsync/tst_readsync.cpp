// Read state synced to every connection of a user (reads:<id>), and quiet hours with a minimum priority
// (docs/protocol.md, "Read state" and "Quiet hours"): real WebSocket connections to an in-process server, in
// open and token mode.

#include "auth.h"
#include "message.h"
#include "quiethours.h"
#include "rawclient.h"
#include "server.h"
#include "testclient.h"
#include "testserver.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>
#include <QTimeZone>

using namespace Qt::StringLiterals;
using namespace HeraldTest;
using Herald::Role;
using Herald::ServerConfig;

namespace {

const QByteArray Secret = "reads-test-secret-0123456789abcdefghijklmnopqrstuvwxyz";

QByteArray mint(const QString &sub, Role role)
{
    return Herald::TokenVerifier(Secret).mint(sub, role, std::chrono::hours(1));
}

QJsonArray ids(std::initializer_list<qint64> list)
{
    QJsonArray a;
    for (qint64 id : list)
        a.append(id);
    return a;
}

} // namespace

class tst_ReadSync : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void readStateReachesEveryConnection_data();
    void readStateReachesEveryConnection();
    void readsChannelIsTheUsersOnly();
    void readRoutesRefuse_data();
    void readRoutesRefuse();
    void markAllUpTo();

    void quietWindow_data();
    void quietWindow();
    void settingsValidated_data();
    void settingsValidated();
    void quietPublishEndToEnd();

private:
    bool start(bool tokenMode);
    // A request as `token` (none: no header), body as given.
    HttpResult call(const QByteArray &method, const QString &path, const QByteArray &token,
                    const QJsonObject &body = {});
    qint64 publishTo(const QString &channel, int priority = 0);
    // Opens a WebSocket on `path` (with ?token= in token mode) and waits for its "connected" frame.
    std::unique_ptr<WsClient> connect(const QString &path, const QByteArray &token);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Herald::Server> m_server;
    QByteArray m_admin; // empty in open mode
    bool m_tokenMode = false;
};

void tst_ReadSync::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void tst_ReadSync::cleanup()
{
    QVERIFY(stopTestServer(m_server));
    m_dir.reset();
}

bool tst_ReadSync::start(bool tokenMode)
{
    m_tokenMode = tokenMode;
    const QString secretFile = m_dir->filePath(u"jwt.secret"_s);
    QFile f(secretFile);
    if (!f.open(QIODevice::WriteOnly) || f.write(Secret) != Secret.size())
        return false;
    f.close();
    m_server = startTestServer(m_dir->filePath(u"data"_s), [&](ServerConfig &c) {
        c.authMode = tokenMode ? ServerConfig::AuthMode::Token : ServerConfig::AuthMode::Open;
        c.jwtSecretFile = secretFile;
    });
    m_admin = tokenMode ? mint(u"root"_s, Role::Admin) : QByteArray();
    return bool(m_server);
}

HttpResult tst_ReadSync::call(const QByteArray &method, const QString &path, const QByteArray &token,
                              const QJsonObject &body)
{
    QList<QPair<QByteArray, QByteArray>> headers;
    if (!token.isEmpty())
        headers.append({"Authorization", "Bearer " + token});
    return http(method, m_server->port(), path, body.isEmpty() ? QByteArray() : Herald::compactJson(body),
                headers);
}

qint64 tst_ReadSync::publishTo(const QString &channel, int priority)
{
    QJsonObject body{{"channel"_L1, channel}, {"title"_L1, "hello"_L1}};
    if (priority)
        body.insert("priority"_L1, priority);
    const HttpResult r = call("POST", u"/api/publish"_s, m_admin, body);
    if (r.status != 202)
        qWarning() << "publish answered" << r.status << r.body;
    return r.json().value("id"_L1).toInteger();
}

std::unique_ptr<WsClient> tst_ReadSync::connect(const QString &path, const QByteArray &token)
{
    const QString target = m_tokenMode ? QString::fromLatin1(withToken(path.toLatin1(), token)) : path;
    auto ws = openWs(m_server->port(), target);
    if (!ws || !ws->waitFor(u"connected"_s))
        return nullptr;
    return ws;
}

void tst_ReadSync::readStateReachesEveryConnection_data()
{
    QTest::addColumn<bool>("tokenMode");
    QTest::newRow("open") << false;
    QTest::newRow("token") << true;
}

// Two connections of user 1 (a page and a dashboard, say) both hear every change of its read state, with the
// queue's unread count after it, within a second; a third that was away replays them on resume.
void tst_ReadSync::readStateReachesEveryConnection()
{
    QFETCH(bool, tokenMode);
    QVERIFY(start(tokenMode));
    const QByteArray me = tokenMode ? mint(u"1"_s, Role::Subscriber) : QByteArray();
    const QString path = u"/ws?channels=user:1,reads:1"_s;
    auto phone = connect(path, me);
    auto laptop = connect(path, me);
    QVERIFY(phone && laptop);

    const qint64 a = publishTo(u"user:1"_s);
    const qint64 b = publishTo(u"user:1"_s);
    const qint64 c = publishTo(u"user:1"_s);
    const qint64 d = publishTo(u"user:1"_s);
    QVERIFY(a > 0 && b > a && c > b && d > c);
    for (WsClient *ws : {phone.get(), laptop.get()}) {
        for (int i = 0; i < 4; ++i)
            QVERIFY(ws->waitFor(u"message"_s));
    }
    const qint64 before = d; // where the device that goes away has got to

    struct Change
    {
        QByteArray method;
        QString path;
        QJsonObject body;
        QJsonObject event; // what every connection gets, cut to these keys
    };
    const QList<Change> changes = {
        {"POST",
         u"/api/notifications/%1/read"_s.arg(a),
         {},
         {{"type"_L1, "read"_L1}, {"ids"_L1, ids({a})}, {"unread"_L1, 3}}},
        {"POST",
         u"/api/notifications/%1/unread"_s.arg(a),
         {},
         {{"type"_L1, "unread"_L1}, {"ids"_L1, ids({a})}, {"unread"_L1, 4}}},
        {"DELETE",
         u"/api/notifications/%1"_s.arg(b),
         {},
         {{"type"_L1, "deleted"_L1}, {"ids"_L1, ids({b})}, {"unread"_L1, 3}}},
        {"POST",
         u"/api/notifications/read"_s,
         {{"user_id"_L1, "1"_L1}, {"ids"_L1, ids({c, a, 999999})}},
         {{"type"_L1, "read"_L1}, {"ids"_L1, ids({c, a})}, {"unread"_L1, 1}}},
        {"POST",
         u"/api/notifications/unread"_s,
         {{"user_id"_L1, "1"_L1}, {"ids"_L1, ids({c})}},
         {{"type"_L1, "unread"_L1}, {"ids"_L1, ids({c})}, {"unread"_L1, 2}}},
        {"POST",
         u"/api/notifications/read-all?user_id=1"_s,
         {},
         {{"type"_L1, "read"_L1}, {"all"_L1, true}, {"unread"_L1, 0}}},
    };
    QList<qint64> eventIds;
    for (const Change &change : changes) {
        const HttpResult r = call(change.method, change.path, me, change.body);
        QVERIFY2(r.status == 200,
                 qPrintable(u"%1 %2: %3 %4"_s.arg(QString::fromLatin1(change.method), change.path)
                                .arg(r.status)
                                .arg(QString::fromUtf8(r.body))));
        QCOMPARE(r.json().value("unread"_L1), change.event.value("unread"_L1));
        for (WsClient *ws : {phone.get(), laptop.get()}) {
            const auto event = ws->waitFor(change.event.value("type"_L1).toString(), 1000);
            QVERIFY2(event, qPrintable(change.path));
            QCOMPARE(event->value("channel"_L1).toString(), u"reads:1"_s);
            QJsonObject cut;
            for (const QString &key : change.event.keys())
                cut.insert(key, event->value(key));
            QCOMPARE(cut, change.event);
            // Everything the server had handed on when it was asked (the events before this one included).
            if (event->contains("all"_L1))
                QVERIFY(event->value("up_to"_L1).toInteger() > d);
            if (ws == phone.get())
                eventIds.append(event->value("id"_L1).toInteger());
        }
    }
    // The queue agrees with the events.
    const QJsonObject list = call("GET", u"/api/notifications?user_id=1"_s, me).json();
    QCOMPARE(list.value("unread"_L1).toInt(), 0);
    QCOMPARE(idsIn(list.value("notifications"_L1).toArray()), (QList<qint64>{a, c, d}));

    // A device that was away since `before` learns all of it on resume, in order.
    auto tablet = connect(u"/ws?channels=user:1,reads:1&since=%1"_s.arg(before), me);
    QVERIFY(tablet);
    QList<qint64> replayed;
    QElapsedTimer t;
    t.start();
    while (replayed.size() < eventIds.size() && t.elapsed() < 5000) {
        QTest::qWait(10);
        for (const QJsonObject &f : std::as_const(tablet->frames())) {
            if (f.value("channel"_L1).toString() == u"reads:1"_s &&
                !replayed.contains(f.value("id"_L1).toInteger()))
                replayed.append(f.value("id"_L1).toInteger());
        }
    }
    QCOMPARE(replayed, eventIds);
}

// reads:<id> is read as user:<id> is, and written by nobody but the server.
void tst_ReadSync::readsChannelIsTheUsersOnly()
{
    QVERIFY(start(true));
    const quint16 port = m_server->port();
    auto handshake = [port](const QByteArray &target) {
        RawClient c;
        if (!c.connectTo(port))
            return 0;
        c.write(upgradeRequest(target));
        return c.readResponse().status;
    };
    QCOMPARE(handshake(withToken("/ws?channels=reads:1", mint(u"2"_s, Role::Subscriber))), 403);
    QCOMPARE(handshake(withToken("/ws?channels=reads:1", mint(u"pub"_s, Role::Publisher))), 403);
    QCOMPARE(handshake(withToken("/ws?channels=reads:1", mint(u"1"_s, Role::Subscriber))), 101);
    QCOMPARE(handshake(withToken("/ws?channels=reads:1", m_admin)), 101);

    // By a subscribe frame too.
    auto other = connect(u"/ws"_s, mint(u"2"_s, Role::Subscriber));
    QVERIFY(other);
    other->send({{"action"_L1, "subscribe"_L1}, {"channel"_L1, "reads:1"_L1}});
    const auto refused = other->waitFor(u"error"_s);
    QVERIFY(refused);
    QCOMPARE(refused->value("code"_L1).toString(), u"forbidden"_s);

    // Nobody publishes there by hand, not even an administrator: clients trust these events.
    for (const QByteArray &token :
         {mint(u"pub"_s, Role::Publisher), m_admin, mint(u"1"_s, Role::Publisher)}) {
        const HttpResult r =
            call("POST", u"/api/publish"_s, token,
                 {{"channel"_L1, "reads:1"_L1}, {"type"_L1, "read"_L1}, {"message"_L1, "forged"_L1}});
        QCOMPARE(r.status, 403);
        QCOMPARE(r.json().value("error"_L1).toString(), u"forbidden"_s);
        QCOMPARE(call("POST", u"/api/channels/reads:1/events"_s, token, {{"type"_L1, "read"_L1}}).status,
                 403);
    }
    auto admin = connect(u"/ws"_s, m_admin);
    QVERIFY(admin);
    admin->send({{"action"_L1, "publish"_L1}, {"channel"_L1, "reads:1"_L1}, {"message"_L1, "forged"_L1}});
    const auto error = admin->waitFor(u"error"_s);
    QVERIFY(error);
    QCOMPARE(error->value("code"_L1).toString(), u"forbidden"_s);
}

void tst_ReadSync::readRoutesRefuse_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("body");
    QTest::addColumn<QString>("who"); // "1", "2" or "" (no token)
    QTest::addColumn<int>("status");

    QTest::newRow("another user's read")
        << QByteArray("POST") << u"/api/notifications/ID/read"_s << QString() << u"2"_s << 404;
    QTest::newRow("another user's unread")
        << QByteArray("POST") << u"/api/notifications/ID/unread"_s << QString() << u"2"_s << 404;
    QTest::newRow("another user's delete")
        << QByteArray("DELETE") << u"/api/notifications/ID"_s << QString() << u"2"_s << 404;
    QTest::newRow("another user's list") << QByteArray("POST") << u"/api/notifications/read"_s
                                         << uR"({"user_id":"1","ids":[ID]})"_s << u"2"_s << 403;
    QTest::newRow("another user's settings")
        << QByteArray("GET") << u"/api/users/1/settings"_s << QString() << u"2"_s << 403;
    QTest::newRow("another user's settings put")
        << QByteArray("PUT") << u"/api/users/1/settings"_s << uR"({"min_priority":2})"_s << u"2"_s << 403;
    QTest::newRow("no token") << QByteArray("POST") << u"/api/notifications/ID/read"_s << QString()
                              << QString() << 401;
    QTest::newRow("unknown id") << QByteArray("DELETE") << u"/api/notifications/999999"_s << QString()
                                << u"1"_s << 404;
    QTest::newRow("bad id") << QByteArray("POST") << u"/api/notifications/x/unread"_s << QString() << u"1"_s
                            << 422;
    QTest::newRow("ids missing") << QByteArray("POST") << u"/api/notifications/unread"_s
                                 << uR"({"user_id":"1"})"_s << u"1"_s << 422;
    QTest::newRow("ids not ids") << QByteArray("POST") << u"/api/notifications/read"_s
                                 << uR"({"user_id":"1","ids":["7"]})"_s << u"1"_s << 422;
    QTest::newRow("no user") << QByteArray("POST") << u"/api/notifications/read"_s << uR"({"ids":[ID]})"_s
                             << u"1"_s << 422;
    QTest::newRow("bad up_to") << QByteArray("POST") << u"/api/notifications/read-all?user_id=1&up_to=x"_s
                               << QString() << u"1"_s << 422;
    QTest::newRow("negative up_to") << QByteArray("POST")
                                    << u"/api/notifications/read-all?user_id=1&up_to=-1"_s << QString()
                                    << u"1"_s << 422;
    QTest::newRow("wrong method") << QByteArray("GET") << u"/api/notifications/ID/unread"_s << QString()
                                  << u"1"_s << 405;
    QTest::newRow("wrong method on settings")
        << QByteArray("POST") << u"/api/users/1/settings"_s << uR"({})"_s << u"1"_s << 405;
}

void tst_ReadSync::readRoutesRefuse()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QString, body);
    QFETCH(QString, who);
    QFETCH(int, status);
    QVERIFY(start(true));
    auto mine = connect(u"/ws?channels=reads:1"_s, mint(u"1"_s, Role::Subscriber));
    QVERIFY(mine);
    const qint64 id = publishTo(u"user:1"_s);
    QVERIFY(id > 0);
    const QString target = QString(path).replace(u"ID"_s, QString::number(id));
    const QByteArray payload = body.replace(u"ID"_s, QString::number(id)).toUtf8();
    QList<QPair<QByteArray, QByteArray>> headers;
    if (!who.isEmpty())
        headers.append({"Authorization", "Bearer " + mint(who, Role::Subscriber)});
    const HttpResult r = http(method, m_server->port(), target, payload, headers);
    QCOMPARE(r.status, status);
    // Refused: nothing changed, nothing announced.
    QVERIFY(mine->noFrame(u"read"_s, 200));
    QVERIFY(mine->noFrame(u"unread"_s, 0));
    QVERIFY(mine->noFrame(u"deleted"_s, 0));
    QVERIFY(mine->noFrame(u"settings"_s, 0));
    const QJsonObject list =
        call("GET", u"/api/notifications?user_id=1"_s, mint(u"1"_s, Role::Subscriber)).json();
    QCOMPARE(list.value("unread"_L1).toInt(), 1);
}

void tst_ReadSync::markAllUpTo()
{
    // A device marks all it has shown read; one published meanwhile, still on its way to it, stays unread.
    QVERIFY(start(false));
    auto other = connect(u"/ws?channels=reads:1"_s, {});
    QVERIFY(other);
    const qint64 shown = publishTo(u"user:1"_s);
    const qint64 later = publishTo(u"user:1"_s);
    QVERIFY(shown > 0 && later > shown);
    const HttpResult r = call("POST", u"/api/notifications/read-all?user_id=1&up_to=%1"_s.arg(shown), {});
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("marked"_L1).toInt(), 1);
    QCOMPARE(r.json().value("unread"_L1).toInt(), 1);
    QCOMPARE(r.json().value("up_to"_L1).toInteger(), shown);
    const auto event = other->waitFor(u"read"_s, 2000);
    QVERIFY(event);
    QCOMPARE(event->value("up_to"_L1).toInteger(), shown);
    QCOMPARE(event->value("unread"_L1).toInt(), 1);
    const QJsonObject list = call("GET", u"/api/notifications?user_id=1"_s, {}).json();
    QCOMPARE(list.value("unread"_L1).toInt(), 1);
    for (const QJsonValue &n : list.value("notifications"_L1).toArray())
        QCOMPARE(n.toObject().value("read"_L1).toBool(), n.toObject().value("id"_L1).toInteger() == shown);
    // Past the server's latest: only what it has handed on.
    const HttpResult all = call("POST", u"/api/notifications/read-all?user_id=1&up_to=999999"_s, {});
    QCOMPARE(all.status, 200);
    // (the hub's last id: `later`, or the read event published since, which took the next id)
    QVERIFY(all.json().value("up_to"_L1).toInteger() >= later);
    QVERIFY(all.json().value("up_to"_L1).toInteger() < 999999);
    QCOMPARE(all.json().value("unread"_L1).toInt(), 0);
}

void tst_ReadSync::quietWindow_data()
{
    QTest::addColumn<QString>("start");
    QTest::addColumn<QString>("end");
    QTest::addColumn<QString>("zone");
    QTest::addColumn<QString>("utc"); // the publish's time
    QTest::addColumn<bool>("covered");

    // Within one day: from start, up to (not at) end.
    QTest::newRow("day: inside") << u"09:00"_s << u"17:00"_s << u"UTC"_s << u"2026-06-01T12:00:00Z"_s << true;
    QTest::newRow("day: at start") << u"09:00"_s << u"17:00"_s << u"UTC"_s << u"2026-06-01T09:00:00Z"_s
                                   << true;
    QTest::newRow("day: at end") << u"09:00"_s << u"17:00"_s << u"UTC"_s << u"2026-06-01T17:00:00Z"_s
                                 << false;
    QTest::newRow("day: before") << u"09:00"_s << u"17:00"_s << u"UTC"_s << u"2026-06-01T08:59:59Z"_s
                                 << false;
    // Over midnight.
    QTest::newRow("night: evening") << u"22:00"_s << u"07:00"_s << u"UTC"_s << u"2026-06-01T23:30:00Z"_s
                                    << true;
    QTest::newRow("night: midnight") << u"22:00"_s << u"07:00"_s << u"UTC"_s << u"2026-06-02T00:00:00Z"_s
                                     << true;
    QTest::newRow("night: morning") << u"22:00"_s << u"07:00"_s << u"UTC"_s << u"2026-06-02T06:59:00Z"_s
                                    << true;
    QTest::newRow("night: at end") << u"22:00"_s << u"07:00"_s << u"UTC"_s << u"2026-06-02T07:00:00Z"_s
                                   << false;
    QTest::newRow("night: afternoon")
        << u"22:00"_s << u"07:00"_s << u"UTC"_s << u"2026-06-01T15:00:00Z"_s << false;
    // In the user's zone: 21:30 UTC is 23:30 in Berlin in summer (UTC+2), 22:30 in winter (UTC+1).
    QTest::newRow("berlin summer") << u"23:00"_s << u"07:00"_s << u"Europe/Berlin"_s
                                   << u"2026-06-01T21:30:00Z"_s << true;
    QTest::newRow("berlin winter") << u"23:00"_s << u"07:00"_s << u"Europe/Berlin"_s
                                   << u"2026-12-01T21:30:00Z"_s << false;
    QTest::newRow("new york") << u"22:00"_s << u"07:00"_s << u"America/New_York"_s
                              << u"2026-06-01T03:00:00Z"_s << true; // 23:00 EDT
    QTest::newRow("new york noon") << u"22:00"_s << u"07:00"_s << u"America/New_York"_s
                                   << u"2026-06-01T16:00:00Z"_s << false; // 12:00 EDT
    QTest::newRow("kolkata half hour")
        << u"00:00"_s << u"06:00"_s << u"Asia/Kolkata"_s << u"2026-06-01T18:45:00Z"_s << true; // 00:15 IST
    // Equal ends: all day.
    QTest::newRow("all day") << u"08:00"_s << u"08:00"_s << u"UTC"_s << u"2026-06-01T13:00:00Z"_s << true;
}

void tst_ReadSync::quietWindow()
{
    QFETCH(QString, start);
    QFETCH(QString, end);
    QFETCH(QString, zone);
    QFETCH(QString, utc);
    QFETCH(bool, covered);
    const auto parsed = Herald::userSettingsFromJson(
        {{"quiet_hours"_L1, QJsonObject{{"start"_L1, start}, {"end"_L1, end}, {"timezone"_L1, zone}}},
         {"min_priority"_L1, 4}});
    QVERIFY2(parsed, parsed ? "" : qPrintable(parsed.error().message));
    const QDateTime when = QDateTime::fromString(utc, Qt::ISODate);
    QVERIFY(when.isValid());
    QCOMPARE(parsed->quietHours->covers(when), covered);
    // Below the minimum only: 4 and 5 ring whatever the hour.
    QCOMPARE(parsed->isQuiet(3, when), covered);
    QCOMPARE(parsed->isQuiet(1, when), covered);
    QVERIFY(!parsed->isQuiet(4, when));
    QVERIFY(!parsed->isQuiet(5, when));
}

void tst_ReadSync::settingsValidated_data()
{
    QTest::addColumn<QString>("body");
    QTest::addColumn<QString>("field"); // named in the 422; empty: accepted

    QTest::newRow("full")
        << uR"({"quiet_hours":{"start":"22:00","end":"07:00","timezone":"Europe/Berlin"},"min_priority":4})"_s
        << QString();
    QTest::newRow("none") << uR"({"quiet_hours":null,"min_priority":2})"_s << QString();
    QTest::newRow("empty") << u"{}"_s << QString();
    QTest::newRow("start 24:00") << uR"({"quiet_hours":{"start":"24:00","end":"07:00","timezone":"UTC"}})"_s
                                 << u"quiet_hours.start"_s;
    QTest::newRow("start 7:00") << uR"({"quiet_hours":{"start":"7:00","end":"07:00","timezone":"UTC"}})"_s
                                << u"quiet_hours.start"_s;
    QTest::newRow("end missing") << uR"({"quiet_hours":{"start":"22:00","timezone":"UTC"}})"_s
                                 << u"quiet_hours.end"_s;
    QTest::newRow("end minutes") << uR"({"quiet_hours":{"start":"22:00","end":"07:60","timezone":"UTC"}})"_s
                                 << u"quiet_hours.end"_s;
    QTest::newRow("unknown zone")
        << uR"({"quiet_hours":{"start":"22:00","end":"07:00","timezone":"Mars/Base"}})"_s
        << u"quiet_hours.timezone"_s;
    QTest::newRow("zone missing") << uR"({"quiet_hours":{"start":"22:00","end":"07:00"}})"_s
                                  << u"quiet_hours.timezone"_s;
    QTest::newRow("window a string") << uR"({"quiet_hours":"22-7"})"_s << u"quiet_hours"_s;
    QTest::newRow("priority 0") << uR"({"min_priority":0})"_s << u"min_priority"_s;
    QTest::newRow("priority 6") << uR"({"min_priority":6})"_s << u"min_priority"_s;
    QTest::newRow("priority 2.5") << uR"({"min_priority":2.5})"_s << u"min_priority"_s;
    QTest::newRow("priority a string") << uR"({"min_priority":"4"})"_s << u"min_priority"_s;
    QTest::newRow("unknown field") << uR"({"quiet":true})"_s << u"quiet"_s;
}

void tst_ReadSync::settingsValidated()
{
    QFETCH(QString, body);
    QFETCH(QString, field);
    QVERIFY(start(false));
    const HttpResult r = http("PUT", m_server->port(), u"/api/users/1/settings"_s, body.toUtf8());
    if (field.isEmpty()) {
        QCOMPARE(r.status, 200);
        // What GET gives back is what was saved, with the defaults filled in.
        const QJsonObject got = call("GET", u"/api/users/1/settings"_s, {}).json();
        QCOMPARE(got, r.json());
        QVERIFY(got.contains("quiet_hours"_L1));
        QVERIFY(got.value("min_priority"_L1).isDouble());
        return;
    }
    QCOMPARE(r.status, 422);
    QCOMPARE(r.json().value("error"_L1).toString(), u"bad_request"_s);
    QVERIFY2(r.json().value("detail"_L1).toString().contains(u"'%1'"_s.arg(field)), r.body.constData());
    // Nothing saved.
    const QJsonObject got = call("GET", u"/api/users/1/settings"_s, {}).json();
    QCOMPARE(got.value("quiet_hours"_L1), QJsonValue(QJsonValue::Null));
    QCOMPARE(got.value("min_priority"_L1).toInt(), 4);
}

// During quiet hours that cover now, a message to the user below their minimum is delivered and stored quiet;
// one at the minimum, one to another user, and any once the quiet hours are lifted, ring.
void tst_ReadSync::quietPublishEndToEnd()
{
    QVERIFY(start(true));
    const QByteArray me = mint(u"1"_s, Role::Subscriber);
    auto ws = connect(u"/ws?channels=user:1,reads:1,user:2"_s, m_admin);
    QVERIFY(ws);
    // A publish before the change: its (empty) settings are in the cache, which the change must replace.
    QVERIFY(publishTo(u"user:1"_s, 2) > 0);
    auto first = ws->waitFor(u"message"_s);
    QVERIFY(first);
    QVERIFY(!first->contains("quiet"_L1));

    // A window of two hours around now, in Tokyo's time (no summer time): over midnight there or not.
    const QTimeZone tokyo("Asia/Tokyo");
    const QDateTime now = QDateTime::currentDateTimeUtc().toTimeZone(tokyo);
    const QJsonObject window{{"start"_L1, now.addSecs(-3600).toString(u"HH:mm"_s)},
                             {"end"_L1, now.addSecs(3600).toString(u"HH:mm"_s)},
                             {"timezone"_L1, "Asia/Tokyo"_L1}};
    const HttpResult put =
        call("PUT", u"/api/users/1/settings"_s, me, {{"quiet_hours"_L1, window}, {"min_priority"_L1, 4}});
    QCOMPARE(put.status, 200);
    const auto event = ws->waitFor(u"settings"_s);
    QVERIFY(event);
    QCOMPARE(event->value("channel"_L1).toString(), u"reads:1"_s);
    QCOMPARE(event->value("settings"_L1).toObject(),
             (QJsonObject{{"quiet_hours"_L1, window}, {"min_priority"_L1, 4}}));

    struct Case
    {
        QString channel;
        int priority;
        bool quiet;
    };
    const QList<Case> cases = {{u"user:1"_s, 3, true},  {u"user:1"_s, 1, true},  {u"user:1"_s, 0, true},
                               {u"user:1"_s, 4, false}, {u"user:1"_s, 5, false}, {u"user:2"_s, 1, false}};
    QList<qint64> quietIds;
    for (const Case &c : cases) {
        const qint64 id = publishTo(c.channel, c.priority);
        QVERIFY(id > 0);
        const auto m = ws->waitFor(u"message"_s);
        QVERIFY(m);
        QCOMPARE(m->value("id"_L1).toInteger(), id);
        QCOMPARE(m->value("quiet"_L1).toBool(), c.quiet);
        if (c.quiet)
            quietIds.append(id);
    }
    // Stored quiet too: the notifications list says so.
    const QJsonArray stored =
        call("GET", u"/api/notifications?user_id=1"_s, me).json().value("notifications"_L1).toArray();
    QList<qint64> storedQuiet;
    for (const QJsonValue &v : stored) {
        if (v.toObject().value("quiet"_L1).toBool())
            storedQuiet.append(v.toObject().value("id"_L1).toInteger());
    }
    QCOMPARE(storedQuiet, quietIds);

    // Lifted: the next one rings.
    QCOMPARE(call("PUT", u"/api/users/1/settings"_s, me, {{"quiet_hours"_L1, QJsonValue::Null}}).status, 200);
    QVERIFY(ws->waitFor(u"settings"_s));
    QVERIFY(publishTo(u"user:1"_s, 1) > 0);
    const auto loud = ws->waitFor(u"message"_s);
    QVERIFY(loud);
    QVERIFY(!loud->value("quiet"_L1).toBool());
}

QTEST_MAIN(tst_ReadSync)
#include "tst_readsync.moc"
