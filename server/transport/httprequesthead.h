#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QPair>
#include <QString>
#include <QUrlQuery>

#include <optional>

// A minimal HTTP/1.x request-head parser. The server peeks at the first request on a connection to route it
// (WebSocket upgrade, SSE stream, or plain REST handed on to QHttpServer). Qt has no public standalone HTTP
// parser (QHttpServer's is private API), so this one is hand-written and deliberately strict:
//  - Lines must end in CRLF. A bare LF (or CR) is rejected rather than accepted leniently (RFC 9112 allows
//    either choice); this keeps the "end of head" rule a single "\r\n\r\n" search.
//  - Empty lines before the request line are rejected. Keep-alive connections are only kept for requests
//    whose body has an exact Content-Length, so a stray CRLF after a body is the client's error.
//  - Only origin-form targets ("/path?query") and "OPTIONS *" are accepted; absolute-form and
//    authority-form are rejected, as we are not a proxy.
//  - obs-fold, whitespace before the colon, control characters in values and more than MaxHeaderCount
//    header lines are rejected.
namespace Herald {

// Why a request's body cannot be delimited one way only.
struct FramingError
{
    int status = 400; // 411 for a lone "Transfer-Encoding: chunked": the client can send a Content-Length
    QString detail;
};

struct HttpRequestHead
{
    QByteArray method; // "GET"
    QByteArray target; // raw request target "/ws/users?client_id=a%20b"
    QString path;      // percent-decoded path "/ws/users"
    // Parsed query. '+' is decoded as a space (application/x-www-form-urlencoded, which is what browsers'
    // URLSearchParams produces); a literal plus must be sent as %2B. Read values fully decoded via
    // query.queryItemValue(key, QUrl::FullyDecoded) or queryValue().
    QUrlQuery query;
    int versionMinor = 1;                         // HTTP/1.x
    QList<QPair<QByteArray, QByteArray>> headers; // names lower-cased, values trimmed, in order
    qsizetype headSize = 0;                       // bytes up to and including the blank line

    QByteArray header(QByteArrayView lowerName) const; // first value, or null QByteArray
    QList<QByteArray> headerValues(QByteArrayView lowerName) const;
    bool hasHeader(QByteArrayView lowerName) const;
    // Case-insensitive comma-separated token match across all values of the header, e.g.
    // hasToken("connection", "upgrade") for "Connection: keep-alive, Upgrade".
    bool hasToken(QByteArrayView lowerName, QByteArrayView token) const;
    QString queryValue(const QString &key) const; // fully decoded; null if absent, empty if "key=" or "key"
    bool isWebSocketUpgrade() const; // GET + Upgrade: websocket token + Connection: upgrade token
    // Whether the client lets the connection carry another request (RFC 9112 9.3): HTTP/1.1 unless
    // "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
    bool keepAlive() const;
    // -1 if absent or invalid. Valid is exactly one Content-Length line whose value is digits that fit in a
    // qint64: a repeated line or a list is invalid even when every value is the same ("5, 5"), because
    // QHttpServer joins repeated headers and would then read no length at all.
    qint64 contentLength() const;
    // True when Content-Length is present but unusable (repeated, a list, not digits, overflowing).
    bool hasInvalidContentLength() const;
    // The one framing rule for every request (RFC 9112 6.1, 6.3), whoever serves it: no body, or a body of
    // one valid Content-Length. Any Transfer-Encoding, or an invalid Content-Length, is refused (and the
    // connection closed after the answer): where the body ends would otherwise depend on who reads it.
    std::optional<FramingError> framingError() const;
};

enum class HeadStatus
{
    Incomplete,
    Complete,
    Invalid,
    TooLarge
};

struct HeadParseResult
{
    HeadStatus status;
    HttpRequestHead head;
    QString error;
};

// More header lines than this make the head Invalid.
inline constexpr qsizetype MaxHeaderCount = 100;
// The largest request head the workers read (431 above).
inline constexpr qsizetype MaxHeadSize = 16 * 1024;

// Parses the head at the start of buffer. Incomplete when no "\r\n\r\n" yet (and the head could still fit);
// TooLarge when no end of head within maxHeadSize bytes (so a buffer of maxHeadSize bytes without a
// terminator is already TooLarge, since the head cannot fit); Invalid for malformed request line/headers.
// Lines that are already complete are validated even while the head is Incomplete, and so is the method of
// a partial request line, so that garbage (e.g. a TLS ClientHello) is rejected at once instead of waiting
// for a terminator that never comes.
HeadParseResult parseRequestHead(QByteArrayView buffer, qsizetype maxHeadSize = 16 * 1024);

} // namespace Herald
