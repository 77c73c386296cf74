#include "httprequesthead.h"

#include <QTest>

#include <initializer_list>
#include <limits>

using namespace Qt::StringLiterals;
using Herald::HeadParseResult;
using Herald::HeadStatus;
using Herald::HttpRequestHead;
using Herald::parseRequestHead;

using Headers = QList<QPair<QByteArray, QByteArray>>;

namespace Herald {
// Found by QCOMPARE through ADL, so failures print the status name instead of a number.
char *toString(HeadStatus status)
{
    switch (status) {
    case HeadStatus::Incomplete:
        return qstrdup("Incomplete");
    case HeadStatus::Complete:
        return qstrdup("Complete");
    case HeadStatus::Invalid:
        return qstrdup("Invalid");
    case HeadStatus::TooLarge:
        return qstrdup("TooLarge");
    }
    return qstrdup("?");
}
} // namespace Herald

namespace {

// Joins lines with CRLF and terminates the head with the blank line.
QByteArray head(std::initializer_list<QByteArrayView> lines)
{
    QByteArray out;
    for (const QByteArrayView line : lines) {
        out.append(line);
        out.append("\r\n");
    }
    out.append("\r\n");
    return out;
}

// A request line followed by `count` distinct headers.
QByteArray headWithHeaderCount(int count)
{
    QByteArray out = "GET / HTTP/1.1\r\n"_ba;
    for (int i = 0; i < count; ++i)
        out.append(QByteArray("X-H" + QByteArray::number(i) + ": v\r\n"));
    out.append("\r\n");
    return out;
}

// A complete head of exactly `size` bytes (padding goes into one header value).
QByteArray headOfSize(qsizetype size)
{
    const QByteArray prefix = "GET / HTTP/1.1\r\nX-Pad: "_ba;
    const QByteArray suffix = "\r\n\r\n"_ba;
    return prefix + QByteArray(size - prefix.size() - suffix.size(), 'a') + suffix;
}

// The exact WebSocket handshake Chrome 120 sends.
QByteArray chromeHandshake()
{
    return head({"GET /ws/users?client_id=alice HTTP/1.1", "Host: localhost:8080", "Connection: Upgrade",
                 "Pragma: no-cache", "Cache-Control: no-cache",
                 "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/120.0.0.0 Safari/537.36",
                 "Upgrade: websocket", "Origin: http://localhost:8080", "Sec-WebSocket-Version: 13",
                 "Accept-Encoding: gzip, deflate, br", "Accept-Language: en-US,en;q=0.9",
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                 "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"});
}

// Firefox's handshake: note "Connection: keep-alive, Upgrade" and Upgrade as the last header.
QByteArray firefoxHandshake()
{
    return head({"GET /ws/users?client_id=bob HTTP/1.1", "Host: localhost:8080",
                 "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
                 "Accept: */*", "Accept-Language: en-US,en;q=0.5", "Accept-Encoding: gzip, deflate, br",
                 "Sec-WebSocket-Version: 13", "Origin: http://localhost:8080",
                 "Sec-WebSocket-Extensions: permessage-deflate",
                 "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==", "Connection: keep-alive, Upgrade",
                 "Sec-Fetch-Dest: empty", "Sec-Fetch-Mode: websocket", "Sec-Fetch-Site: same-origin",
                 "Pragma: no-cache", "Cache-Control: no-cache", "Upgrade: websocket"});
}

// What a browser EventSource sends.
QByteArray sseRequest()
{
    return head({"GET /events?channels=chat%2Cbroadcast HTTP/1.1", "Host: localhost:8080",
                 "Accept: text/event-stream", "Cache-Control: no-cache", "Last-Event-ID: 42",
                 "Connection: keep-alive"});
}

} // namespace

class TestHttpRequestHead : public QObject
{
    Q_OBJECT

private slots:
    void parseValid_data();
    void parseValid();
    void pathAndQuery_data();
    void pathAndQuery();
    void headerLookup_data();
    void headerLookup();
    void hasToken_data();
    void hasToken();
    void incomplete_data();
    void incomplete();
    void byteByByte_data();
    void byteByByte();
    void sizeLimit_data();
    void sizeLimit();
    void defaultSizeLimit_data();
    void defaultSizeLimit();
    void invalid_data();
    void invalid();
    void webSocketUpgrade_data();
    void webSocketUpgrade();
    void contentLength_data();
    void contentLength();
    void framing_data();
    void framing();
};

void TestHttpRequestHead::parseValid_data()
{
    QTest::addColumn<QByteArray>("raw");
    QTest::addColumn<QByteArray>("trailing"); // body or next request after the head
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QString>("path");
    QTest::addColumn<int>("versionMinor");
    QTest::addColumn<Headers>("headers");

    QTest::newRow("minimal no headers") << head({"GET / HTTP/1.1"}) << QByteArray() << "GET"_ba
                                        << "/"_ba << u"/"_s << 1 << Headers{};
    QTest::newRow("simple get") << head({"GET /health HTTP/1.1", "Host: localhost"}) << QByteArray()
                                << "GET"_ba
                                << "/health"_ba << u"/health"_s << 1 << Headers{{"host"_ba, "localhost"_ba}};
    QTest::newRow("get with query") << head({"GET /ws/users?client_id=abc&token=xyz HTTP/1.1", "Host: h"})
                                    << QByteArray() << "GET"_ba
                                    << "/ws/users?client_id=abc&token=xyz"_ba << u"/ws/users"_s << 1
                                    << Headers{{"host"_ba, "h"_ba}};
    QTest::newRow("percent-encoded path and query")
        << head({"GET /files/a%20b%2Bc+d?q=a+b%2Cc HTTP/1.1"}) << QByteArray() << "GET"_ba
        << "/files/a%20b%2Bc+d?q=a+b%2Cc"_ba << u"/files/a b+c+d"_s << 1 << Headers{};
    QTest::newRow("utf-8 path") << head({"GET /caf%C3%A9 HTTP/1.1"}) << QByteArray() << "GET"_ba
                                << "/caf%C3%A9"_ba << u"/caf\u00e9"_s << 1 << Headers{};
    QTest::newRow("http/1.0") << head({"GET / HTTP/1.0"}) << QByteArray() << "GET"_ba
                              << "/"_ba << u"/"_s << 0 << Headers{};
    QTest::newRow("post with body") << head({"POST /api/publish HTTP/1.1", "Content-Length: 7"})
                                    << "{\"a\":1}"_ba
                                    << "POST"_ba
                                    << "/api/publish"_ba << u"/api/publish"_s << 1
                                    << Headers{{"content-length"_ba, "7"_ba}};
    QTest::newRow("pipelined second request")
        << head({"GET /a HTTP/1.1"}) << head({"GET /b HTTP/1.1"}) << "GET"_ba
        << "/a"_ba << u"/a"_s << 1 << Headers{};
    QTest::newRow("options asterisk")
        << head({"OPTIONS * HTTP/1.1", "Host: h"}) << QByteArray() << "OPTIONS"_ba
        << "*"_ba << u"*"_s << 1 << Headers{{"host"_ba, "h"_ba}};
    QTest::newRow("extension method") << head({"PROPFIND /dav HTTP/1.1"}) << QByteArray() << "PROPFIND"_ba
                                      << "/dav"_ba << u"/dav"_s << 1 << Headers{};
    QTest::newRow("sse request") << sseRequest() << QByteArray() << "GET"_ba
                                 << "/events?channels=chat%2Cbroadcast"_ba << u"/events"_s << 1
                                 << Headers{{"host"_ba, "localhost:8080"_ba},
                                            {"accept"_ba, "text/event-stream"_ba},
                                            {"cache-control"_ba, "no-cache"_ba},
                                            {"last-event-id"_ba, "42"_ba},
                                            {"connection"_ba, "keep-alive"_ba}};
    QTest::newRow("repeated headers keep order")
        << head({"GET / HTTP/1.1", "Accept: a", "X-Other: o", "Accept: b"}) << QByteArray() << "GET"_ba
        << "/"_ba << u"/"_s << 1
        << Headers{{"accept"_ba, "a"_ba}, {"x-other"_ba, "o"_ba}, {"accept"_ba, "b"_ba}};
    QTest::newRow("name case is folded, value case kept")
        << head({"GET / HTTP/1.1", "HOST: Example.COM", "content-TYPE: Text/Plain", "X-MiXeD: VaLuE"})
        << QByteArray() << "GET"_ba
        << "/"_ba << u"/"_s << 1
        << Headers{{"host"_ba, "Example.COM"_ba},
                   {"content-type"_ba, "Text/Plain"_ba},
                   {"x-mixed"_ba, "VaLuE"_ba}};
    QTest::newRow("value whitespace trimmed") << head({"GET / HTTP/1.1", "X-A:    spaced \t", "X-B:nospace",
                                                       "X-C:", "X-D: \t ", "X-E: inner  \t kept"})
                                              << QByteArray() << "GET"_ba
                                              << "/"_ba << u"/"_s << 1
                                              << Headers{{"x-a"_ba, "spaced"_ba},
                                                         {"x-b"_ba, "nospace"_ba},
                                                         {"x-c"_ba, ""_ba},
                                                         {"x-d"_ba, ""_ba},
                                                         {"x-e"_ba, "inner  \t kept"_ba}};
    QTest::newRow("token chars in name and obs-text in value")
        << head({"GET / HTTP/1.1", "X!#$%&'*+-.^_`|~9: caf\xC3\xA9"}) << QByteArray() << "GET"_ba
        << "/"_ba << u"/"_s << 1 << Headers{{"x!#$%&'*+-.^_`|~9"_ba, "caf\xC3\xA9"_ba}};
    QTest::newRow("colon in value") << head({"GET / HTTP/1.1", "Host: localhost:8080"}) << QByteArray()
                                    << "GET"_ba
                                    << "/"_ba << u"/"_s << 1 << Headers{{"host"_ba, "localhost:8080"_ba}};

    Headers hundred;
    for (int i = 0; i < Herald::MaxHeaderCount; ++i)
        hundred.append({QByteArray("x-h" + QByteArray::number(i)), "v"_ba});
    QTest::newRow("100 headers is the limit")
        << headWithHeaderCount(Herald::MaxHeaderCount) << QByteArray() << "GET"_ba
        << "/"_ba << u"/"_s << 1 << hundred;
}

void TestHttpRequestHead::parseValid()
{
    QFETCH(QByteArray, raw);
    QFETCH(QByteArray, trailing);
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, target);
    QFETCH(QString, path);
    QFETCH(int, versionMinor);
    QFETCH(Headers, headers);

    const HeadParseResult result = parseRequestHead(QByteArray(raw + trailing));
    QCOMPARE(result.status, HeadStatus::Complete);
    QVERIFY2(result.error.isEmpty(), qPrintable(result.error));
    QCOMPARE(result.head.method, method);
    QCOMPARE(result.head.target, target);
    QCOMPARE(result.head.path, path);
    QCOMPARE(result.head.versionMinor, versionMinor);
    QCOMPARE(result.head.headers, headers);
    QCOMPARE(result.head.headSize, raw.size());
}

void TestHttpRequestHead::pathAndQuery_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("key");
    QTest::addColumn<bool>("present");
    QTest::addColumn<QString>("value");

    QTest::newRow("plain") << "/ws/users?client_id=abc"_ba << u"/ws/users"_s << u"client_id"_s << true
                           << u"abc"_s;
    QTest::newRow("%20 is space") << "/ws?client_id=a%20b"_ba << u"/ws"_s << u"client_id"_s << true
                                  << u"a b"_s;
    QTest::newRow("plus is space") << "/ws?client_id=a+b"_ba << u"/ws"_s << u"client_id"_s << true
                                   << u"a b"_s;
    QTest::newRow("%2B is plus") << "/ws?client_id=a%2Bb"_ba << u"/ws"_s << u"client_id"_s << true
                                 << u"a+b"_s;
    QTest::newRow("%2C is comma") << "/events?channels=chat%2Cbroadcast"_ba << u"/events"_s << u"channels"_s
                                  << true << u"chat,broadcast"_s;
    QTest::newRow("lowercase %2c") << "/events?channels=chat%2cbroadcast"_ba << u"/events"_s << u"channels"_s
                                   << true << u"chat,broadcast"_s;
    QTest::newRow("literal comma") << "/events?channels=chat,broadcast"_ba << u"/events"_s << u"channels"_s
                                   << true << u"chat,broadcast"_s;
    QTest::newRow("%26 does not split") << "/p?v=a%26b&w=1"_ba << u"/p"_s << u"v"_s << true << u"a&b"_s;
    QTest::newRow("%3D in value") << "/p?v=a%3Db"_ba << u"/p"_s << u"v"_s << true << u"a=b"_s;
    QTest::newRow("%25 is percent") << "/p?v=100%25"_ba << u"/p"_s << u"v"_s << true << u"100%"_s;
    QTest::newRow("%2525 decodes once") << "/p?v=%2525"_ba << u"/p"_s << u"v"_s << true << u"%25"_s;
    QTest::newRow("utf-8 value") << "/p?name=caf%C3%A9"_ba << u"/p"_s << u"name"_s << true << u"caf\u00e9"_s;
    QTest::newRow("encoded key") << "/p?client%5Fid=abc"_ba << u"/p"_s << u"client_id"_s << true << u"abc"_s;
    QTest::newRow("later key") << "/p?a=1&b=2"_ba << u"/p"_s << u"b"_s << true << u"2"_s;
    QTest::newRow("repeated key first wins") << "/p?a=1&a=2"_ba << u"/p"_s << u"a"_s << true << u"1"_s;
    QTest::newRow("value with question mark") << "/p?x=a?b"_ba << u"/p"_s << u"x"_s << true << u"a?b"_s;
    QTest::newRow("empty value") << "/p?a="_ba << u"/p"_s << u"a"_s << true << u""_s;
    QTest::newRow("key without =") << "/p?flag&a=1"_ba << u"/p"_s << u"flag"_s << true << u""_s;
    QTest::newRow("absent key") << "/p?a=1"_ba << u"/p"_s << u"b"_s << false << QString();
    QTest::newRow("key is case-sensitive") << "/p?A=1"_ba << u"/p"_s << u"a"_s << false << QString();
    QTest::newRow("no query") << "/ws"_ba << u"/ws"_s << u"a"_s << false << QString();
    QTest::newRow("empty query") << "/ws?"_ba << u"/ws"_s << u"a"_s << false << QString();
    QTest::newRow("plus in path is literal") << "/a+b?x=1"_ba << u"/a+b"_s << u"x"_s << true << u"1"_s;
    QTest::newRow("%2F in path decodes") << "/a%2Fb"_ba << u"/a/b"_s << u"x"_s << false << QString();
    QTest::newRow("%3F in path is not query") << "/a%3Fb?x=1"_ba << u"/a?b"_s << u"x"_s << true << u"1"_s;
    QTest::newRow("%3F in path, no query") << "/a%3Fx=1"_ba << u"/a?x=1"_s << u"x"_s << false << QString();
}

void TestHttpRequestHead::pathAndQuery()
{
    QFETCH(QByteArray, target);
    QFETCH(QString, path);
    QFETCH(QString, key);
    QFETCH(bool, present);
    QFETCH(QString, value);

    const HeadParseResult result = parseRequestHead(QByteArray("GET " + target + " HTTP/1.1\r\n\r\n"));
    QCOMPARE(result.status, HeadStatus::Complete);
    QCOMPARE(result.head.target, target);
    QCOMPARE(result.head.path, path);
    QCOMPARE(result.head.query.hasQueryItem(key), present);
    QCOMPARE(result.head.queryValue(key).isNull(), !present);
    QCOMPARE(result.head.queryValue(key), value);
    // The documented way of reading the raw QUrlQuery must agree with the helper.
    QCOMPARE(result.head.query.queryItemValue(key, QUrl::FullyDecoded), value);
}

void TestHttpRequestHead::headerLookup_data()
{
    QTest::addColumn<QByteArray>("raw");
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<bool>("has");
    QTest::addColumn<QByteArray>("first");
    QTest::addColumn<QList<QByteArray>>("all");

    const QByteArray raw =
        head({"GET / HTTP/1.1", "ACCEPT: a", "Host: h", "accept: b", "X-Empty:", "Accept: c, d"});
    QTest::newRow("first of repeated")
        << raw << "accept"_ba << true << "a"_ba << QList<QByteArray>{"a"_ba, "b"_ba, "c, d"_ba};
    QTest::newRow("single") << raw << "host"_ba << true << "h"_ba << QList<QByteArray>{"h"_ba};
    QTest::newRow("mixed-case lookup")
        << raw << "Accept"_ba << true << "a"_ba << QList<QByteArray>{"a"_ba, "b"_ba, "c, d"_ba};
    QTest::newRow("empty value is present")
        << raw << "x-empty"_ba << true << ""_ba << QList<QByteArray>{""_ba};
    QTest::newRow("absent") << raw << "x-missing"_ba << false << QByteArray() << QList<QByteArray>{};
    QTest::newRow("prefix of a name is absent")
        << raw << "acc"_ba << false << QByteArray() << QList<QByteArray>{};
}

void TestHttpRequestHead::headerLookup()
{
    QFETCH(QByteArray, raw);
    QFETCH(QByteArray, name);
    QFETCH(bool, has);
    QFETCH(QByteArray, first);
    QFETCH(QList<QByteArray>, all);

    const HeadParseResult result = parseRequestHead(raw);
    QCOMPARE(result.status, HeadStatus::Complete);
    QCOMPARE(result.head.hasHeader(name), has);
    QCOMPARE(result.head.header(name), first);
    // Absent must be a null array so callers can tell it from "X-Empty:".
    QCOMPARE(result.head.header(name).isNull(), !has);
    QCOMPARE(result.head.headerValues(name), all);
}

void TestHttpRequestHead::hasToken_data()
{
    QTest::addColumn<QByteArray>("raw");
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<bool>("expected");

    QTest::newRow("single") << head({"GET / HTTP/1.1", "Connection: Upgrade"}) << "connection"_ba
                            << "upgrade"_ba << true;
    QTest::newRow("token case-insensitive")
        << head({"GET / HTTP/1.1", "Connection: upgrade"}) << "connection"_ba
        << "UPGRADE"_ba << true;
    QTest::newRow("list") << head({"GET / HTTP/1.1", "Connection: keep-alive, Upgrade"}) << "connection"_ba
                          << "upgrade"_ba << true;
    QTest::newRow("list first element")
        << head({"GET / HTTP/1.1", "Connection: Upgrade, keep-alive"}) << "connection"_ba
        << "upgrade"_ba << true;
    QTest::newRow("list without spaces")
        << head({"GET / HTTP/1.1", "Connection: keep-alive,Upgrade"}) << "connection"_ba
        << "upgrade"_ba << true;
    QTest::newRow("list with tabs") << head({"GET / HTTP/1.1", "Connection: keep-alive \t,\tUpgrade"})
                                    << "connection"_ba
                                    << "upgrade"_ba << true;
    QTest::newRow("empty list elements")
        << head({"GET / HTTP/1.1", "Connection: , ,upgrade,"}) << "connection"_ba
        << "upgrade"_ba << true;
    QTest::newRow("across repeated lines")
        << head({"GET / HTTP/1.1", "Connection: keep-alive", "Connection: Upgrade"}) << "connection"_ba
        << "upgrade"_ba << true;
    QTest::newRow("token only in another header")
        << head({"GET / HTTP/1.1", "Connection: keep-alive", "X-Connection: upgrade"}) << "connection"_ba
        << "upgrade"_ba << false;
    QTest::newRow("longer word is not the token")
        << head({"GET / HTTP/1.1", "Connection: upgraded"}) << "connection"_ba
        << "upgrade"_ba << false;
    QTest::newRow("hyphenated word is not the token")
        << head({"GET / HTTP/1.1", "Connection: keep-alive-upgrade"}) << "connection"_ba
        << "upgrade"_ba << false;
    QTest::newRow("space-separated is one element")
        << head({"GET / HTTP/1.1", "Connection: keep-alive upgrade"}) << "connection"_ba
        << "upgrade"_ba << false;
    QTest::newRow("absent header") << head({"GET / HTTP/1.1", "Host: h"}) << "connection"_ba
                                   << "upgrade"_ba << false;
    QTest::newRow("empty token never matches")
        << head({"GET / HTTP/1.1", "Connection: a,,b"}) << "connection"_ba
        << ""_ba << false;
}

void TestHttpRequestHead::hasToken()
{
    QFETCH(QByteArray, raw);
    QFETCH(QByteArray, name);
    QFETCH(QByteArray, token);
    QFETCH(bool, expected);

    const HeadParseResult result = parseRequestHead(raw);
    QCOMPARE(result.status, HeadStatus::Complete);
    QCOMPARE(result.head.hasToken(name, token), expected);
}

void TestHttpRequestHead::incomplete_data()
{
    QTest::addColumn<QByteArray>("raw");

    QTest::newRow("empty buffer") << QByteArray();
    QTest::newRow("one byte") << "G"_ba;
    QTest::newRow("method only") << "GET"_ba;
    QTest::newRow("method and space") << "GET "_ba;
    QTest::newRow("request line without CRLF") << "GET / HTTP/1.1"_ba;
    QTest::newRow("request line with CR") << "GET / HTTP/1.1\r"_ba;
    QTest::newRow("request line with CRLF") << "GET / HTTP/1.1\r\n"_ba;
    QTest::newRow("partial header") << "GET / HTTP/1.1\r\nHost: h"_ba;
    QTest::newRow("header with CRLF") << "GET / HTTP/1.1\r\nHost: localhost\r\n"_ba;
    QTest::newRow("final CR") << "GET / HTTP/1.1\r\nHost: localhost\r\n\r"_ba;
}

void TestHttpRequestHead::incomplete()
{
    QFETCH(QByteArray, raw);

    const HeadParseResult result = parseRequestHead(raw);
    QCOMPARE(result.status, HeadStatus::Incomplete);
    QVERIFY(result.error.isEmpty());
    QVERIFY(result.head.method.isEmpty());
    QCOMPARE(result.head.headSize, 0);
}

void TestHttpRequestHead::byteByByte_data()
{
    QTest::addColumn<QByteArray>("raw");
    QTest::addColumn<QByteArray>("trailing");

    QTest::newRow("chrome websocket") << chromeHandshake() << QByteArray();
    QTest::newRow("firefox websocket") << firefoxHandshake() << QByteArray();
    QTest::newRow("sse") << sseRequest() << QByteArray();
    QTest::newRow("post with body") << head({"POST /api/publish HTTP/1.1", "Content-Length: 4"}) << "body"_ba;
}

void TestHttpRequestHead::byteByByte()
{
    QFETCH(QByteArray, raw);
    QFETCH(QByteArray, trailing);

    const QByteArray all = raw + trailing;
    for (qsizetype size = 0; size < raw.size(); ++size) {
        const HeadParseResult result = parseRequestHead(QByteArrayView(all).first(size));
        if (result.status != HeadStatus::Incomplete) {
            QFAIL(qPrintable(u"prefix of %1 bytes gave status %2 (%3)"_s.arg(size)
                                 .arg(static_cast<int>(result.status))
                                 .arg(result.error)));
        }
    }
    for (qsizetype size = raw.size(); size <= all.size(); ++size) {
        const HeadParseResult result = parseRequestHead(QByteArrayView(all).first(size));
        QCOMPARE(result.status, HeadStatus::Complete);
        QCOMPARE(result.head.headSize, raw.size());
    }
}

void TestHttpRequestHead::sizeLimit_data()
{
    QTest::addColumn<QByteArray>("raw");
    QTest::addColumn<qsizetype>("maxHeadSize");
    QTest::addColumn<HeadStatus>("status");

    QTest::newRow("head exactly at limit") << headOfSize(1024) << qsizetype(1024) << HeadStatus::Complete;
    QTest::newRow("head one byte over") << headOfSize(1025) << qsizetype(1024) << HeadStatus::TooLarge;
    QTest::newRow("head two bytes over") << headOfSize(1026) << qsizetype(1024) << HeadStatus::TooLarge;
    QTest::newRow("head far over") << headOfSize(5000) << qsizetype(1024) << HeadStatus::TooLarge;
    QTest::newRow("partial head past limit")
        << headOfSize(5000).first(2000) << qsizetype(1024) << HeadStatus::TooLarge;
    QTest::newRow("partial head of limit bytes cannot fit")
        << headOfSize(5000).first(1024) << qsizetype(1024) << HeadStatus::TooLarge;
    QTest::newRow("partial head under limit")
        << headOfSize(5000).first(1023) << qsizetype(1024) << HeadStatus::Incomplete;
    QTest::newRow("small head, big body")
        << QByteArray(headOfSize(100) + QByteArray(5000, 'b')) << qsizetype(1024) << HeadStatus::Complete;
    QTest::newRow("invalid line inside limit wins")
        << QByteArray("GET / HTTP/2.0\r\n" + QByteArray(5000, 'a')) << qsizetype(1024) << HeadStatus::Invalid;
}

void TestHttpRequestHead::sizeLimit()
{
    QFETCH(QByteArray, raw);
    QFETCH(qsizetype, maxHeadSize);
    QFETCH(HeadStatus, status);

    const HeadParseResult result = parseRequestHead(raw, maxHeadSize);
    QCOMPARE(result.status, status);
    QCOMPARE(result.error.isEmpty(), status == HeadStatus::Complete || status == HeadStatus::Incomplete);
}

void TestHttpRequestHead::defaultSizeLimit_data()
{
    QTest::addColumn<QByteArray>("raw");
    QTest::addColumn<HeadStatus>("status");

    QTest::newRow("16 KiB head") << headOfSize(16 * 1024) << HeadStatus::Complete;
    QTest::newRow("16 KiB + 1 head") << headOfSize(16 * 1024 + 1) << HeadStatus::TooLarge;
    QTest::newRow("64 KiB of header without end") << headOfSize(64 * 1024).chopped(4) << HeadStatus::TooLarge;
}

void TestHttpRequestHead::defaultSizeLimit()
{
    QFETCH(QByteArray, raw);
    QFETCH(HeadStatus, status);

    QCOMPARE(parseRequestHead(raw).status, status);
}

void TestHttpRequestHead::invalid_data()
{
    QTest::addColumn<QByteArray>("raw");
    QTest::addColumn<QString>("errorContains");

    // Literals are split after a \x escape where the next character is a hex digit, which the escape
    // would otherwise swallow.

    // Request line.
    QTest::newRow("empty line before request line") << "\r\nGET / HTTP/1.1\r\n\r\n"_ba << u"empty line"_s;
    QTest::newRow("only blank line") << "\r\n\r\n"_ba << u"empty line"_s;
    QTest::newRow("lowercase http") << head({"GET / http/1.1"}) << u"version"_s;
    QTest::newRow("HTTP/2.0") << head({"GET / HTTP/2.0"}) << u"version"_s;
    QTest::newRow("HTTP/0.9 version") << head({"GET / HTTP/0.9"}) << u"version"_s;
    QTest::newRow("HTTP/0.9 style without version") << head({"GET /"}) << u"missing HTTP version"_s;
    QTest::newRow("HTTP/1 without minor") << head({"GET / HTTP/1"}) << u"version"_s;
    QTest::newRow("HTTP/1.10") << head({"GET / HTTP/1.10"}) << u"version"_s;
    QTest::newRow("HTTP/1.x") << head({"GET / HTTP/1.x"}) << u"version"_s;
    QTest::newRow("HTTP/1.1 with trailing space") << head({"GET / HTTP/1.1 "}) << u"malformed request line"_s;
    QTest::newRow("double space") << head({"GET  / HTTP/1.1"}) << u"malformed request line"_s;
    QTest::newRow("leading space") << head({" GET / HTTP/1.1"}) << u"malformed request line"_s;
    QTest::newRow("tab separators") << head({"GET\t/\tHTTP/1.1"}) << u"malformed request line"_s;
    QTest::newRow("method only") << head({"GET"}) << u"malformed request line"_s;
    QTest::newRow("invalid method char") << head({"G(T / HTTP/1.1"}) << u"invalid method"_s;
    QTest::newRow("absolute-form target") << head({"GET http://example.com/ HTTP/1.1"}) << u"origin-form"_s;
    QTest::newRow("authority-form target") << head({"CONNECT example.com:443 HTTP/1.1"}) << u"origin-form"_s;
    QTest::newRow("relative target") << head({"GET ws/users HTTP/1.1"}) << u"origin-form"_s;
    QTest::newRow("asterisk with GET") << head({"GET * HTTP/1.1"}) << u"OPTIONS"_s;
    QTest::newRow("fragment in target") << head({"GET /a#b HTTP/1.1"}) << u"fragment"_s;
    QTest::newRow("raw utf-8 in target") << head({"GET /caf\xC3\xA9 HTTP/1.1"}) << u"invalid character"_s;
    QTest::newRow("control char in target") << head({"GET /a\x01"
                                                     "b HTTP/1.1"})
                                            << u"invalid character"_s;
    QTest::newRow("DEL in target") << head({"GET /a\x7F"
                                            "b HTTP/1.1"})
                                   << u"invalid character"_s;
    QTest::newRow("truncated percent escape") << head({"GET /a%2 HTTP/1.1"}) << u"percent-encoding"_s;
    QTest::newRow("percent at end") << head({"GET /a% HTTP/1.1"}) << u"percent-encoding"_s;
    QTest::newRow("non-hex percent escape") << head({"GET /a%zz HTTP/1.1"}) << u"percent-encoding"_s;
    QTest::newRow("bad percent escape in query") << head({"GET /a?x=%G1 HTTP/1.1"}) << u"percent-encoding"_s;
    QTest::newRow("decoded NUL in path") << head({"GET /a%00b HTTP/1.1"}) << u"NUL"_s;

    // Line endings.
    QTest::newRow("bare LF line endings") << "GET / HTTP/1.1\nHost: h\n\n"_ba << u"bare LF"_s;
    QTest::newRow("bare LF ending one header")
        << "GET / HTTP/1.1\r\nHost: h\nX-A: a\r\n\r\n"_ba << u"control character"_s;
    QTest::newRow("bare CR in request line")
        << "GET / HTTP/1.1\rHost: localhost\r\n\r\n"_ba << u"malformed request line"_s;
    QTest::newRow("bare CR in header value")
        << head({"GET / HTTP/1.1", "X-A: a\rb"}) << u"control character"_s;
    QTest::newRow("bare CR before head ends") << "GET / HTTP/1.1\rX"_ba << u"bare CR"_s;

    // Header lines.
    QTest::newRow("space before colon") << head({"GET / HTTP/1.1", "Host : h"}) << u"whitespace"_s;
    QTest::newRow("tab before colon") << head({"GET / HTTP/1.1", "Host\t: h"}) << u"whitespace"_s;
    QTest::newRow("space inside name") << head({"GET / HTTP/1.1", "X A: h"}) << u"invalid header name"_s;
    QTest::newRow("empty header name") << head({"GET / HTTP/1.1", ": h"}) << u"empty header name"_s;
    QTest::newRow("no colon") << head({"GET / HTTP/1.1", "Host h"}) << u"without colon"_s;
    QTest::newRow("obs-fold with space") << head({"GET / HTTP/1.1", "X-A: a", "  continued"}) << u"folding"_s;
    QTest::newRow("obs-fold with tab") << head({"GET / HTTP/1.1", "X-A: a", "\tcontinued"}) << u"folding"_s;
    QTest::newRow("whitespace before first header") << head({"GET / HTTP/1.1", " Host: h"}) << u"folding"_s;
    QTest::newRow("invalid name char") << head({"GET / HTTP/1.1", "X(A): h"}) << u"invalid header name"_s;
    QTest::newRow("non-ascii name") << head({"GET / HTTP/1.1", "X-\xC3\xA9: h"}) << u"invalid header name"_s;
    QTest::newRow("control char in value") << head({"GET / HTTP/1.1", "X-A: a\x01"
                                                                      "b"})
                                           << u"control character"_s;
    QTest::newRow("NUL in value") << "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n"_ba << u"control character"_s;
    QTest::newRow("escape in value") << head({"GET / HTTP/1.1", "X-A: \x1B[31m"}) << u"control character"_s;
    QTest::newRow("DEL in value") << head({"GET / HTTP/1.1", "X-A: a\x7F"}) << u"control character"_s;
    QTest::newRow("101 headers") << headWithHeaderCount(Herald::MaxHeaderCount + 1) << u"header lines"_s;

    // Rejected before the head is complete: there is no point waiting for the rest.
    QTest::newRow("TLS ClientHello") << "\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03"_ba
                                     << u"invalid method"_s;
    QTest::newRow("binary garbage") << "\x00\x01\x02"_ba << u"invalid method"_s;
    QTest::newRow("partial leading space") << " GET"_ba << u"malformed request line"_s;
    QTest::newRow("bad version, head incomplete") << "GET / HTTP/2.0\r\n"_ba << u"version"_s;
    QTest::newRow("bad header, head incomplete")
        << "GET / HTTP/1.1\r\nBad Header\r\n"_ba << u"without colon"_s;
}

void TestHttpRequestHead::invalid()
{
    QFETCH(QByteArray, raw);
    QFETCH(QString, errorContains);

    const HeadParseResult result = parseRequestHead(raw);
    QCOMPARE(result.status, HeadStatus::Invalid);
    QVERIFY2(result.error.contains(errorContains),
             qPrintable(u"error \"%1\" lacks \"%2\""_s.arg(result.error, errorContains)));
    QVERIFY(result.head.method.isEmpty());
    QVERIFY(result.head.headers.isEmpty());
}

void TestHttpRequestHead::webSocketUpgrade_data()
{
    QTest::addColumn<QByteArray>("raw");
    QTest::addColumn<bool>("expected");

    QTest::newRow("chrome") << chromeHandshake() << true;
    QTest::newRow("firefox keep-alive, Upgrade") << firefoxHandshake() << true;
    QTest::newRow("minimal, no Sec-WebSocket-Key")
        << head({"GET /ws HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade"}) << true;
    QTest::newRow("mixed case values")
        << head({"GET /ws HTTP/1.1", "upgrade: WebSocket", "CONNECTION: UPGRADE"}) << true;
    QTest::newRow("connection split over lines")
        << head({"GET /ws HTTP/1.1", "Connection: keep-alive", "Upgrade: websocket", "Connection: Upgrade"})
        << true;
    QTest::newRow("upgrade list contains websocket")
        << head({"GET /ws HTTP/1.1", "Upgrade: foo/2, websocket", "Connection: Upgrade"}) << true;
    QTest::newRow("sse") << sseRequest() << false;
    QTest::newRow("plain get") << head({"GET /ws HTTP/1.1", "Host: h"}) << false;
    QTest::newRow("POST") << head({"POST /ws HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade"})
                          << false;
    QTest::newRow("lowercase method")
        << head({"get /ws HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade"}) << false;
    QTest::newRow("missing Upgrade") << head({"GET /ws HTTP/1.1", "Connection: Upgrade"}) << false;
    QTest::newRow("missing Connection") << head({"GET /ws HTTP/1.1", "Upgrade: websocket"}) << false;
    QTest::newRow("connection keep-alive only")
        << head({"GET /ws HTTP/1.1", "Upgrade: websocket", "Connection: keep-alive"}) << false;
    QTest::newRow("upgrade to h2c") << head({"GET /ws HTTP/1.1", "Upgrade: h2c", "Connection: Upgrade"})
                                    << false;
    QTest::newRow("websocket in wrong header")
        << head({"GET /ws HTTP/1.1", "X-Upgrade: websocket", "Connection: Upgrade"}) << false;
}

void TestHttpRequestHead::webSocketUpgrade()
{
    QFETCH(QByteArray, raw);
    QFETCH(bool, expected);

    const HeadParseResult result = parseRequestHead(raw);
    QCOMPARE(result.status, HeadStatus::Complete);
    QCOMPARE(result.head.isWebSocketUpgrade(), expected);
}

namespace {
// A POST whose head carries these header lines.
QByteArray post(std::initializer_list<QByteArrayView> headerLines)
{
    QByteArray out = "POST /api HTTP/1.1\r\n"_ba;
    for (const QByteArrayView line : headerLines) {
        out.append(line);
        out.append("\r\n");
    }
    out.append("\r\n");
    return out;
}
} // namespace

void TestHttpRequestHead::contentLength_data()
{
    QTest::addColumn<QByteArray>("raw");
    QTest::addColumn<qint64>("expected");
    QTest::addColumn<bool>("invalid");

    QTest::newRow("absent") << post({"Host: h"}) << qint64(-1) << false;
    QTest::newRow("zero") << post({"Content-Length: 0"}) << qint64(0) << false;
    QTest::newRow("42") << post({"Content-Length: 42"}) << qint64(42) << false;
    QTest::newRow("name case-insensitive") << post({"CONTENT-LENGTH: 42"}) << qint64(42) << false;
    QTest::newRow("leading zeros") << post({"Content-Length: 007"}) << qint64(7) << false;
    QTest::newRow("surrounding whitespace") << post({"Content-Length: \t42 "}) << qint64(42) << false;
    QTest::newRow("qint64 max") << post({"Content-Length: 9223372036854775807"})
                                << std::numeric_limits<qint64>::max() << false;
    // QHttpServer joins repeated lines and then reads no length: even agreeing values are ambiguous.
    QTest::newRow("identical repeated lines")
        << post({"Content-Length: 42", "Content-Length: 42"}) << qint64(-1) << true;
    QTest::newRow("identical list") << post({"Content-Length: 42, 42"}) << qint64(-1) << true;
    QTest::newRow("same number, different spelling")
        << post({"Content-Length: 42", "Content-Length: 042"}) << qint64(-1) << true;
    QTest::newRow("conflicting lines")
        << post({"Content-Length: 42", "Content-Length: 43"}) << qint64(-1) << true;
    QTest::newRow("conflicting list") << post({"Content-Length: 42,43"}) << qint64(-1) << true;
    QTest::newRow("empty") << post({"Content-Length:"}) << qint64(-1) << true;
    QTest::newRow("negative") << post({"Content-Length: -1"}) << qint64(-1) << true;
    QTest::newRow("plus sign") << post({"Content-Length: +5"}) << qint64(-1) << true;
    QTest::newRow("inner space") << post({"Content-Length: 4 2"}) << qint64(-1) << true;
    QTest::newRow("inner tab") << post({"Content-Length: 4\t2"}) << qint64(-1) << true;
    QTest::newRow("hex") << post({"Content-Length: 0x10"}) << qint64(-1) << true;
    QTest::newRow("decimal point") << post({"Content-Length: 12.5"}) << qint64(-1) << true;
    QTest::newRow("letters") << post({"Content-Length: abc"}) << qint64(-1) << true;
    QTest::newRow("trailing comma") << post({"Content-Length: 42,"}) << qint64(-1) << true;
    QTest::newRow("overflow") << post({"Content-Length: 9223372036854775808"}) << qint64(-1) << true;
    QTest::newRow("huge overflow") << post({"Content-Length: 99999999999999999999999"}) << qint64(-1) << true;
    QTest::newRow("valid then malformed")
        << post({"Content-Length: 42", "Content-Length: x"}) << qint64(-1) << true;
}

void TestHttpRequestHead::contentLength()
{
    QFETCH(QByteArray, raw);
    QFETCH(qint64, expected);
    QFETCH(bool, invalid);

    const HeadParseResult result = parseRequestHead(raw);
    // A bad Content-Length does not make the head itself unparseable; the caller decides (400).
    QCOMPARE(result.status, HeadStatus::Complete);
    QCOMPARE(result.head.contentLength(), expected);
    QCOMPARE(result.head.hasInvalidContentLength(), invalid);
}

void TestHttpRequestHead::framing_data()
{
    // The status framingError() refuses a head with; 0: framed one way, accepted.
    QTest::addColumn<QByteArray>("raw");
    QTest::addColumn<int>("status");

    QTest::newRow("no body") << post({"Host: h"}) << 0;
    QTest::newRow("one length") << post({"Content-Length: 5"}) << 0;
    QTest::newRow("GET") << head({"GET /events HTTP/1.1", "Host: h"}) << 0;
    QTest::newRow("header named alike") << post({"X-Transfer-Encoding: chunked", "Content-Length: 5"}) << 0;

    // RFC 9112 6.1: Herald reads no chunked body; the client can send a Content-Length instead.
    QTest::newRow("chunked") << post({"Transfer-Encoding: chunked"}) << 411;
    QTest::newRow("chunked, capitals") << post({"TRANSFER-ENCODING: Chunked"}) << 411;
    QTest::newRow("chunked and a length") << post({"Transfer-Encoding: chunked", "Content-Length: 5"}) << 411;
    QTest::newRow("length and chunked") << post({"Content-Length: 5", "Transfer-Encoding: chunked"}) << 411;
    // Every other form leaves the length to whoever reads it (RFC 9112 6.3: 400).
    QTest::newRow("empty, then chunked, and a length")
        << post({"Transfer-Encoding:", "Transfer-Encoding: chunked", "Content-Length: 5"}) << 400;
    QTest::newRow("chunked, then empty") << post({"Transfer-Encoding: chunked", "Transfer-Encoding:"}) << 400;
    QTest::newRow("empty") << post({"Transfer-Encoding:"}) << 400;
    QTest::newRow("empty with a length") << post({"Transfer-Encoding: ", "Content-Length: 5"}) << 400;
    QTest::newRow("chunked twice") << post({"Transfer-Encoding: chunked", "Transfer-Encoding: chunked"})
                                   << 400;
    QTest::newRow("list") << post({"Transfer-Encoding: gzip, chunked"}) << 400;
    QTest::newRow("chunked listed twice") << post({"Transfer-Encoding: chunked, chunked"}) << 400;
    QTest::newRow("empty element") << post({"Transfer-Encoding: , chunked"}) << 400;
    QTest::newRow("identity") << post({"Transfer-Encoding: identity"}) << 400;
    QTest::newRow("gzip") << post({"Transfer-Encoding: gzip", "Content-Length: 5"}) << 400;
    QTest::newRow("chunked with a parameter") << post({"Transfer-Encoding: chunked;x=1"}) << 400;
    QTest::newRow("misspelt") << post({"Transfer-Encoding: chunk"}) << 400;
    QTest::newRow("on a GET") << head({"GET /events HTTP/1.1", "Transfer-Encoding: chunked"}) << 411;

    // An ambiguous Content-Length, even of equal values (QHttpServer would read "5, 5" as no length).
    QTest::newRow("length twice, equal") << post({"Content-Length: 5", "Content-Length: 5"}) << 400;
    QTest::newRow("length list, equal") << post({"Content-Length: 5, 5"}) << 400;
    QTest::newRow("length list, differing") << post({"Content-Length: 5,6"}) << 400;
    QTest::newRow("length with a sign") << post({"Content-Length: +5"}) << 400;
    QTest::newRow("negative length") << post({"Content-Length: -5"}) << 400;
    QTest::newRow("length with inner space") << post({"Content-Length: 1 0"}) << 400;
    QTest::newRow("length not digits") << post({"Content-Length: 5a"}) << 400;
    QTest::newRow("empty length") << post({"Content-Length:"}) << 400;
    QTest::newRow("length overflows") << post({"Content-Length: 9223372036854775808"}) << 400;
    QTest::newRow("length on a GET, twice")
        << head({"GET /ws HTTP/1.1", "Content-Length: 0", "Content-Length: 0"}) << 400;
}

void TestHttpRequestHead::framing()
{
    QFETCH(QByteArray, raw);
    QFETCH(int, status);

    const HeadParseResult result = parseRequestHead(raw);
    QCOMPARE(result.status, HeadStatus::Complete);
    const auto error = result.head.framingError();
    QCOMPARE(error ? error->status : 0, status);
    if (error)
        QVERIFY(!error->detail.isEmpty());
}

QTEST_APPLESS_MAIN(TestHttpRequestHead)
#include "tst_httprequesthead.moc"
