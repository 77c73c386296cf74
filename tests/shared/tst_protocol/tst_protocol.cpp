#include "channelname.h"
#include "message.h"
#include "request.h"

#include <QJsonDocument>
#include <QTest>
#include <QTimeZone>

using namespace Qt::StringLiterals;
using namespace Herald;

class tst_Protocol : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void boundedInt_data();
    void boundedInt();
    void parseRequest_data();
    void parseRequest();
    void channelNames_data();
    void channelNames();
    void payload_data();
    void payload();
    void messageJson();
    void messageRoundTrip();
    void notificationFields_data();
    void notificationFields();
    void notificationRoundTrip();
    void chainIsTheServers_data();
    void chainIsTheServers();
    void durations_data();
    void durations();
    void schedule_data();
    void schedule();
    void sequence_data();
    void sequence();
    void idsAcceptWholeNumbersChannelsDoNot();
    void errorCodeNames();
};

void tst_Protocol::parseRequest_data()
{
    QTest::addColumn<QByteArray>("frame");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<int>("action");
    QTest::addColumn<QString>("errorCode");
    QTest::addColumn<bool>("kindFromType");

    const int none = int(Action::Unknown);
    QTest::newRow("ping by type") << R"({"type":"ping"})"_ba << true << int(Action::Ping) << QString()
                                  << true;
    QTest::newRow("get_stats") << R"({"type":"get_stats"})"_ba << true << int(Action::GetStats) << QString()
                               << true;
    QTest::newRow("seed003 subscribe") << R"({"action":"subscribe","user_id":"abc123"})"_ba << true
                                       << int(Action::Subscribe) << QString() << false;
    QTest::newRow("seed003 notify") << R"({"action":"notify","message":"Hello"})"_ba << true
                                    << int(Action::Notify) << QString() << false;
    QTest::newRow("seed001 chat") << R"({"type":"chat","message":"hi"})"_ba << true << int(Action::Chat)
                                  << QString() << true;
    QTest::newRow("seed001 notification") << R"({"type":"notification","message":"x"})"_ba << true
                                          << int(Action::Notification) << QString() << true;
    QTest::newRow("seed001 broadcast") << R"({"type":"broadcast_notification","message":"x"})"_ba << true
                                       << int(Action::BroadcastNotification) << QString() << true;
    QTest::newRow("action wins over type") << R"({"action":"publish","type":"alert","channel":"a"})"_ba
                                           << true << int(Action::Publish) << QString() << false;
    QTest::newRow("unsubscribe") << R"({"action":"unsubscribe","channel":"a"})"_ba << true
                                 << int(Action::Unsubscribe) << QString() << false;
    QTest::newRow("disconnect") << R"({"action":"disconnect","client_id":"a"})"_ba << true
                                << int(Action::Disconnect) << QString() << false;
    QTest::newRow("not json") << "hello"_ba << false << none << u"invalid_json"_s << false;
    QTest::newRow("truncated") << R"({"type":"ping")"_ba << false << none << u"invalid_json"_s << false;
    QTest::newRow("empty") << ""_ba << false << none << u"invalid_json"_s << false;
    QTest::newRow("array") << "[1,2]"_ba << false << none << u"invalid_json"_s << false;
    QTest::newRow("string") << R"("ping")"_ba << false << none << u"invalid_json"_s << false;
    // RFC 8259 section 7: control characters in a string are escaped; Qt would cut "x\0y" to "x".
    QTest::newRow("raw NUL in a string") << QByteArray("{\"type\":\"chat\",\"message\":\"x\0y\"}", 31)
                                         << false << none << u"invalid_json"_s << false;
    QTest::newRow("raw tab in a string")
        << "{\"type\":\"chat\",\"message\":\"x\ty\"}"_ba << false << none << u"invalid_json"_s << false;
    QTest::newRow("raw SOH between tokens")
        << "{\"type\":\x01\"ping\"}"_ba << false << none << u"invalid_json"_s << false;
    QTest::newRow("escaped NUL and tab")
        << R"({"type":"chat","message":"x\u0000y\tz"})"_ba << true << int(Action::Chat) << QString() << true;
    QTest::newRow("whitespace between tokens")
        << "{\n\t\"type\" :\r\n \"ping\"\n}"_ba << true << int(Action::Ping) << QString() << true;
    QTest::newRow("an escaped quote, then a tab outside")
        << "{\"a\":\"x\\\"\",\t\"type\":\"ping\"}"_ba << true << int(Action::Ping) << QString() << true;
    QTest::newRow("no kind") << R"({"message":"x"})"_ba << false << none << u"unknown_action"_s << false;
    QTest::newRow("numeric kind") << R"({"action":5})"_ba << false << none << u"unknown_action"_s << false;
    QTest::newRow("unknown kind") << R"({"action":"explode"})"_ba << false << none << u"unknown_action"_s
                                  << false;
    QTest::newRow("case matters") << R"({"type":"PING"})"_ba << false << none << u"unknown_action"_s << false;
}

void tst_Protocol::parseRequest()
{
    QFETCH(QByteArray, frame);
    QFETCH(bool, ok);
    QFETCH(int, action);
    QFETCH(QString, errorCode);
    QFETCH(bool, kindFromType);

    const auto result = Herald::parseRequest(frame);
    QCOMPARE(result.hasValue(), ok);
    if (ok) {
        QCOMPARE(int(result->action), action);
        QCOMPARE(result->kindFromType, kindFromType);
        QCOMPARE(actionFromName(result->name), result->action);
    } else {
        QCOMPARE(errorCodeName(result.error().code), errorCode);
        QVERIFY(!result.error().message.isEmpty());
    }
}

void tst_Protocol::channelNames_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<bool>("valid");
    QTest::newRow("simple") << u"news"_s << true;
    QTest::newRow("user") << u"user:42"_s << true;
    QTest::newRow("all classes") << u"A-z_0.9:x"_s << true;
    QTest::newRow("one char") << u"a"_s << true;
    QTest::newRow("128") << QString(128, u'x') << true;
    QTest::newRow("129") << QString(129, u'x') << false;
    QTest::newRow("empty") << QString() << false;
    QTest::newRow("space") << u"a b"_s << false;
    QTest::newRow("slash") << u"a/b"_s << false;
    QTest::newRow("unicode") << u"caf\u00e9"_s << false;
    QTest::newRow("script") << u"<script>"_s << false;
    QTest::newRow("nul") << QString(QChar(0)) << false;
}

void tst_Protocol::channelNames()
{
    QFETCH(QString, name);
    QFETCH(bool, valid);
    QCOMPARE(isValidChannelName(name), valid);
}

void tst_Protocol::payload_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QString>("type");
    QTest::newRow("defaults") << R"({})"_ba << true << u"message"_s;
    QTest::newRow("typed") << R"({"type":"alert","title":"t","message":"m","data":{"a":1}})"_ba << true
                           << u"alert"_s;
    QTest::newRow("null fields") << R"({"type":null,"title":null,"data":null})"_ba << true << u"message"_s;
    QTest::newRow("numeric title") << R"({"title":5})"_ba << false << QString();
    QTest::newRow("object message") << R"({"message":{"a":1}})"_ba << false << QString();
    QTest::newRow("array sender") << R"({"sender":[]})"_ba << false << QString();
    QTest::newRow("bad type chars") << R"({"type":"a b"})"_ba << false << QString();
    QTest::newRow("long type") << QByteArray(R"({"type":")" + QByteArray(65, 'x') + R"("})") << false
                               << QString();
    QTest::newRow("numeric type") << R"({"type":3})"_ba << false << QString();
}

void tst_Protocol::payload()
{
    QFETCH(QByteArray, json);
    QFETCH(bool, ok);
    QFETCH(QString, type);
    const auto m = messageFromPayload(QJsonDocument::fromJson(json).object(), u"message"_s);
    QCOMPARE(m.hasValue(), ok);
    if (ok) {
        QCOMPARE(m->type, type);
        QVERIFY(m->timestamp.isValid());
    } else {
        QCOMPARE(m.error().code, ErrorCode::BadRequest);
    }
}

void tst_Protocol::messageJson()
{
    Message m;
    m.id = 7;
    m.channel = u"chat"_s;
    m.type = u"chat"_s;
    m.timestamp = QDateTime(QDate(2026, 11, 22), QTime(10, 0, 0, 5), Qt::UTC);
    m.sender = u"abc"_s;
    m.message = u"hi"_s;
    const QJsonObject o = m.toJson();
    QCOMPARE(o.value("id"_L1).toInteger(), 7);
    QCOMPARE(o.value("timestamp"_L1).toString(), u"2026-11-22T10:00:00.005Z"_s);
    QCOMPARE(o.value("sender"_L1).toString(), u"abc"_s);
    QVERIFY(!o.contains("title"_L1));
    QVERIFY(!o.contains("data"_L1));
    // Extra fields (seed 004's "model") are carried at the top level.
    m.extra.insert("model"_L1, "users"_L1);
    QCOMPARE(m.toJson().value("model"_L1).toString(), u"users"_s);
}

void tst_Protocol::messageRoundTrip()
{
    Message m;
    m.id = 12;
    m.channel = u"users"_s;
    m.type = u"created"_s;
    m.timestamp = QDateTime::currentDateTimeUtc();
    m.data = QJsonObject{{"id"_L1, 1}};
    m.extra.insert("model"_L1, "users"_L1);
    const auto back = Message::fromJson(QJsonDocument::fromJson(m.toJsonBytes()).object());
    QVERIFY(back.hasValue());
    QCOMPARE(back->id, 12);
    QCOMPARE(back->channel, m.channel);
    QCOMPARE(back->type, m.type);
    QCOMPARE(back->data, m.data);
    QCOMPARE(back->extra.value("model"_L1).toString(), u"users"_s);
    QCOMPARE(formatTimestamp(back->timestamp), formatTimestamp(m.timestamp));
}

void tst_Protocol::notificationFields_data()
{
    // A publish body with the rich fields: accepted, or refused naming the bad field.
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("badField"); // empty: accepted
    const QByteArray title = R"("title":"t",)";
    auto row = [&](const char *name, const QByteArray &fields, const QString &bad) {
        QTest::newRow(name) << QByteArray("{" + title + fields + "}") << bad;
    };
    row("priority 5", R"("priority":5)", {});
    row("priority name", R"("priority":"urgent")", {});
    row("priority string digit", R"("priority":"2")", {});
    row("priority 9", R"("priority":9)", u"priority"_s);
    row("priority 0", R"("priority":0)", u"priority"_s);
    row("priority 2.5", R"("priority":2.5)", u"priority"_s);
    row("priority word", R"("priority":"loud")", u"priority"_s);
    row("tags", R"("tags":["ci","build"])", {});
    row("tags comma string", R"("tags":"ci, build")", {});
    row("20 tags",
        R"("tags":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q","r","s","t"])",
        u"tags"_s);
    row("empty tag", R"("tags":["a",""])", u"tags"_s);
    row("long tag", QByteArray(R"("tags":[")" + QByteArray(33, 'x') + R"("])"), u"tags"_s);
    row("numeric tag", R"("tags":[1])", u"tags"_s);
    row("click https", R"("click":"https://example.com/build/7")", {});
    row("click javascript", R"x("click":"javascript:alert(1)")x", u"click"_s);
    row("click data", R"("click":"data:text/html,<b>x</b>")", u"click"_s);
    row("click relative", R"("click":"/build/7")", u"click"_s);
    row("icon ftp", R"("icon":"ftp://example.com/i.png")", u"icon"_s);
    row("two actions",
        R"("actions":[{"action":"view","label":"Open","url":"https://x.example/"},)"
        R"({"action":"reply","label":"Approve","channel":"builds.replies","message":"yes"}])",
        {});
    row("four actions",
        R"("actions":[{"action":"view","label":"a","url":"https://x.example/"},{"action":"view","label":"b","url":"https://x.example/"},)"
        R"({"action":"view","label":"c","url":"https://x.example/"},{"action":"view","label":"d","url":"https://x.example/"}])",
        u"actions"_s);
    row("unknown action kind", R"("actions":[{"action":"http","label":"Go","url":"https://x.example/"}])",
        u"actions"_s);
    row("view action javascript", R"x("actions":[{"action":"view","label":"Go","url":"javascript:x()"}])x",
        u"actions"_s);
    row("reply without channel", R"("actions":[{"action":"reply","label":"Yes"}])", u"actions"_s);
    row("action without label", R"("actions":[{"action":"view","url":"https://x.example/"}])", u"actions"_s);
    row("attachment", R"("attachment":{"url":"https://x.example/log.txt","name":"log.txt"})", {});
    row("attachment url only", R"("attachment":"https://x.example/log.txt")", {});
    row("attachment file url", R"("attachment":{"url":"file:///etc/passwd"})", u"attachment"_s);
    row("expires duration", R"("expires":"1h")", {});
    row("expires iso", R"("expires":"2999-01-01T00:00:00Z")", {});
    row("expires past", R"("expires":"2001-01-01T00:00:00Z")", u"expires"_s);
    row("expires no zone", R"("expires":"2999-01-01T00:00:00")", u"expires"_s);
    row("expires nonsense", R"("expires":"soon")", u"expires"_s);
    row("replaces", R"("replaces":42)", {});
    row("replaces zero", R"("replaces":0)", u"replaces"_s);
    row("replaces string", R"("replaces":"42")", u"replaces"_s);
}

void tst_Protocol::notificationFields()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, badField);
    const auto m = publishedMessageFromPayload(QJsonDocument::fromJson(json).object(), u"message"_s);
    if (badField.isEmpty()) {
        QVERIFY2(m.hasValue(), qPrintable(m.hasValue() ? QString() : m.error().message));
        return;
    }
    QVERIFY(!m.hasValue());
    QCOMPARE(m.error().code, ErrorCode::BadRequest);
    QVERIFY2(m.error().message.startsWith(u"field '%1'"_s.arg(badField)), qPrintable(m.error().message));
}

void tst_Protocol::notificationRoundTrip()
{
    const QByteArray body =
        R"({"title":"Build 7","priority":"high","tags":["ci"],"click":"https://x.example/7",)"
        R"("actions":[{"action":"view","label":"Open","url":"https://x.example/7"},)"
        R"({"action":"reply","label":"Approve","channel":"builds.replies"}],"icon":"https://x.example/i.png",)"
        R"("attachment":"https://x.example/logs/7.txt","expires":"2h","replaces":3})";
    auto published = publishedMessageFromPayload(QJsonDocument::fromJson(body).object(), u"message"_s);
    QVERIFY(published.hasValue());
    Message m = std::move(published).value();
    m.channel = u"builds"_s;
    m.id = 9;
    const NotificationFields &f = m.notification;
    QCOMPARE(f.priority, 4);
    QCOMPARE(f.actions.size(), 2);
    QCOMPARE(f.actions.at(1).kind, NotificationAction::Kind::Reply);
    QCOMPARE(f.attachment->name, u"7.txt"_s);
    QVERIFY(qAbs(m.timestamp.secsTo(f.expires) - 7200) <= 1);
    const auto back = Message::fromJson(QJsonDocument::fromJson(m.toJsonBytes()).object());
    QVERIFY(back.hasValue());
    QCOMPARE(back->notification.priority, f.priority);
    QCOMPARE(back->notification.tags, f.tags);
    QCOMPARE(back->notification.actions, f.actions);
    QCOMPARE(back->notification.attachment, f.attachment);
    QCOMPARE(back->notification.replaces, 3);
    QCOMPARE(formatTimestamp(back->notification.expires), formatTimestamp(f.expires));
    // Known fields are not carried twice in extra.
    QVERIFY(back->extra.isEmpty());
    // A message without them has none on the wire.
    Message plain;
    plain.channel = u"c"_s;
    plain.type = u"message"_s;
    QVERIFY(!plain.toJson().contains("priority"_L1));
}

void tst_Protocol::chainIsTheServers_data()
{
    // `chain` (the first id of an update chain) is set by the server: a publisher's is not read, a stored or
    // received one is kept, and a message without one has none on the wire.
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<bool>("published"); // read as a publish (publishedMessageFromPayload), else as received
    QTest::addColumn<qint64>("chain");
    QTest::newRow("publish ignores it")
        << QByteArray(R"({"title":"x","replaces":3,"chain":2})") << true << qint64(0);
    QTest::newRow("publish of a bad one ignores it")
        << QByteArray(R"({"title":"x","chain":"two"})") << true << qint64(0);
    QTest::newRow("received") << QByteArray(
                                     R"({"id":4,"channel":"c","type":"message","replaces":3,"chain":2})")
                              << false << qint64(2);
    QTest::newRow("received without")
        << QByteArray(R"({"id":4,"channel":"c","type":"message","replaces":3})") << false << qint64(0);
}

void tst_Protocol::chainIsTheServers()
{
    QFETCH(QByteArray, json);
    QFETCH(bool, published);
    QFETCH(qint64, chain);
    const QJsonObject object = QJsonDocument::fromJson(json).object();
    auto parsed = published ? publishedMessageFromPayload(object, u"message"_s) : Message::fromJson(object);
    QVERIFY2(parsed.hasValue(), qPrintable(parsed.hasValue() ? QString() : parsed.error().message));
    Message m = std::move(parsed).value();
    QCOMPARE(m.notification.chain, chain);
    QVERIFY(!m.extra.contains("chain"_L1));
    m.channel = u"c"_s;
    const QJsonObject wire = m.toJson();
    QCOMPARE(wire.contains("chain"_L1), chain > 0);
    QCOMPARE(wire.value("chain"_L1).toInteger(), chain);
}

void tst_Protocol::durations_data()
{
    QTest::addColumn<QJsonValue>("value");
    QTest::addColumn<qint64>("seconds"); // -1: refused
    QTest::newRow("number") << QJsonValue(90) << qint64(90);
    QTest::newRow("30s") << QJsonValue(u"30s"_s) << qint64(30);
    QTest::newRow("10m") << QJsonValue(u"10m"_s) << qint64(600);
    QTest::newRow("1h30m") << QJsonValue(u"1h30m"_s) << qint64(5400);
    QTest::newRow("2d") << QJsonValue(u"2d"_s) << qint64(172800);
    QTest::newRow("1w") << QJsonValue(u"1w"_s) << qint64(604800);
    QTest::newRow("bare digits") << QJsonValue(u"45"_s) << qint64(45);
    QTest::newRow("1h30 typo") << QJsonValue(u"1h30"_s) << qint64(-1);
    QTest::newRow("zero") << QJsonValue(0) << qint64(-1);
    QTest::newRow("negative") << QJsonValue(-5) << qint64(-1);
    QTest::newRow("unit only") << QJsonValue(u"m"_s) << qint64(-1);
    QTest::newRow("unknown unit") << QJsonValue(u"3y"_s) << qint64(-1);
    QTest::newRow("object") << QJsonValue(QJsonObject()) << qint64(-1);
}

void tst_Protocol::durations()
{
    QFETCH(QJsonValue, value);
    QFETCH(qint64, seconds);
    const auto d = parseDuration(value);
    QCOMPARE(d.has_value(), seconds >= 0);
    if (d)
        QCOMPARE(d->count(), seconds * 1000);
}

void tst_Protocol::schedule_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<qint64>("aheadSeconds"); // -1: none given; -2: refused
    QTest::newRow("none") << R"({})"_ba << qint64(-1);
    QTest::newRow("delay 30s") << R"({"delay":"30s"})"_ba << qint64(30);
    QTest::newRow("delay number") << R"({"delay":120})"_ba << qint64(120);
    QTest::newRow("at duration") << R"({"at":"10m"})"_ba << qint64(600);
    QTest::newRow("at iso") << R"({"at":"2026-12-01T10:01:00+00:00"})"_ba << qint64(60);
    QTest::newRow("at unix") << R"({"at":1796119320})"_ba << qint64(120);
    QTest::newRow("at past") << R"({"at":"2026-12-01T09:00:00Z"})"_ba << qint64(-2);
    QTest::newRow("both") << R"({"at":"10m","delay":"10m"})"_ba << qint64(-2);
    QTest::newRow("too far") << R"({"delay":"400d"})"_ba << qint64(-2);
    QTest::newRow("bad delay") << R"({"delay":"later"})"_ba << qint64(-2);
}

void tst_Protocol::schedule()
{
    QFETCH(QByteArray, json);
    QFETCH(qint64, aheadSeconds);
    const QDateTime now(QDate(2026, 12, 1), QTime(10, 0), Qt::UTC);
    const auto when = scheduleFromPayload(QJsonDocument::fromJson(json).object(), now);
    QCOMPARE(when.hasValue(), aheadSeconds != -2);
    if (aheadSeconds == -2) {
        QCOMPARE(when.error().code, ErrorCode::BadRequest);
        return;
    }
    QCOMPARE(when->has_value(), aheadSeconds >= 0);
    if (aheadSeconds >= 0)
        QCOMPARE(now.secsTo(**when), aheadSeconds);
}

void tst_Protocol::sequence_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<qint64>("value"); // -1: absent
    QTest::newRow("absent") << R"({})"_ba << true << qint64(-1);
    QTest::newRow("number") << R"({"since":42})"_ba << true << qint64(42);
    QTest::newRow("zero") << R"({"since":0})"_ba << true << qint64(0);
    QTest::newRow("string digits") << R"({"since":"42"})"_ba << true << qint64(42);
    QTest::newRow("negative") << R"({"since":-1})"_ba << false << qint64(0);
    QTest::newRow("fraction") << R"({"since":1.5})"_ba << false << qint64(0);
    QTest::newRow("string junk") << R"({"since":"4x"})"_ba << false << qint64(0);
    QTest::newRow("bool") << R"({"since":true})"_ba << false << qint64(0);
    QTest::newRow("huge") << R"({"since":1e300})"_ba << false << qint64(0);
}

void tst_Protocol::sequence()
{
    QFETCH(QByteArray, json);
    QFETCH(bool, ok);
    QFETCH(qint64, value);
    const auto r = optionalSequence(QJsonDocument::fromJson(json).object(), "since"_L1);
    QCOMPARE(r.hasValue(), ok);
    if (ok)
        QCOMPARE(r->value_or(-1), value);
}

void tst_Protocol::idsAcceptWholeNumbersChannelsDoNot()
{
    // Seed 000 pages send numeric user ids.
    const auto r = optionalId(QJsonObject{{"user_id"_L1, 2}}, "user_id"_L1);
    QVERIFY(r.hasValue());
    QCOMPARE(r->value(), u"2"_s);
    QCOMPARE(optionalId(QJsonObject{{"user_id"_L1, "abc"_L1}}, "user_id"_L1)->value(), u"abc"_s);
    QVERIFY(!optionalId(QJsonObject{{"user_id"_L1, 2.5}}, "user_id"_L1).hasValue());
    QVERIFY(!optionalId(QJsonObject{{"user_id"_L1, QJsonObject()}}, "user_id"_L1).hasValue());
    // Channels are names, not numbers.
    QVERIFY(!optionalString(QJsonObject{{"channel"_L1, 5}}, "channel"_L1).hasValue());
}

void tst_Protocol::errorCodeNames()
{
    // Wire names are a contract with every client: they must never change.
    QCOMPARE(errorCodeName(ErrorCode::InvalidJson), u"invalid_json"_s);
    QCOMPARE(errorCodeName(ErrorCode::UnknownAction), u"unknown_action"_s);
    QCOMPARE(errorCodeName(ErrorCode::Forbidden), u"forbidden"_s);
    QCOMPARE(errorCodeName(ErrorCode::BadChannel), u"bad_channel"_s);
    QCOMPARE(errorCodeName(ErrorCode::RateLimited), u"rate_limited"_s);
    QCOMPARE(errorCodeName(ErrorCode::TooLarge), u"too_large"_s);
    QCOMPARE(errorCodeName(ErrorCode::BadRequest), u"bad_request"_s);
    QCOMPARE(errorCodeName(ErrorCode::NotFound), u"not_found"_s);
    QCOMPARE(errorCodeName(ErrorCode::Unauthorized), u"unauthorized"_s);
    QCOMPARE(errorCodeName(ErrorCode::Unavailable), u"unavailable"_s);
    QCOMPARE(errorCodeName(ErrorCode::Internal), u"internal"_s);
    QCOMPARE(errorCodeName(ErrorCode::Conflict), u"conflict"_s);
    QCOMPARE(errorCodeName(ErrorCode::TooManySubscriptions), u"too_many_subscriptions"_s);
    QCOMPARE(errorCodeName(ErrorCode::MethodNotAllowed), u"method_not_allowed"_s);
    QCOMPARE(errorCodeName(ErrorCode::OutcomeUnknown), u"outcome_unknown"_s);
    QCOMPARE(errorCodeName(ErrorCode::Timeout), u"timeout"_s);
}

void tst_Protocol::boundedInt_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("expected"); // -1: refused
    QTest::newRow("plain") << u"42"_s << 42;
    QTest::newRow("spaces") << u" 42 "_s << 42;
    QTest::newRow("min") << u"1"_s << 1;
    QTest::newRow("max") << u"100"_s << 100;
    QTest::newRow("below") << u"0"_s << -1;
    QTest::newRow("above") << u"101"_s << -1;
    QTest::newRow("text") << u"many"_s << -1;
    QTest::newRow("empty") << QString() << -1;
    QTest::newRow("fraction") << u"4.5"_s << -1;
}

void tst_Protocol::boundedInt()
{
    QFETCH(QString, text);
    QFETCH(int, expected);
    const auto v = Herald::parseBoundedInt(text, 1, 100);
    QCOMPARE(v.value_or(-1), expected);
}

QTEST_GUILESS_MAIN(tst_Protocol)
#include "tst_protocol.moc"
