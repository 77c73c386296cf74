#include "httprequesthead.h"

#include <QUrl>

#include <limits>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {

constexpr QByteArrayView Crlf("\r\n");

// RFC 9110 tchar: the only bytes allowed in methods and header names.
bool isTokenChar(char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    switch (ch) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

bool isToken(QByteArrayView bytes)
{
    if (bytes.isEmpty())
        return false;
    for (const char ch : bytes) {
        if (!isTokenChar(ch))
            return false;
    }
    return true;
}

bool isHexDigit(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

bool isOws(char ch)
{
    return ch == ' ' || ch == '\t';
}

// Only SP and HTAB count as whitespace around header values and list elements (RFC 9110 OWS); anything
// else is either content or was already rejected as a control character.
QByteArrayView trimOws(QByteArrayView bytes)
{
    while (!bytes.isEmpty() && isOws(bytes.front()))
        bytes = bytes.sliced(1);
    while (!bytes.isEmpty() && isOws(bytes.back()))
        bytes.chop(1);
    return bytes;
}

// Calls fn for each OWS-trimmed element of a comma-separated list (empty elements included, so callers
// can decide whether "a,,b" is acceptable).
template<typename Fn>
void forEachListElement(QByteArrayView value, Fn &&fn)
{
    qsizetype start = 0;
    while (true) {
        const qsizetype comma = value.indexOf(',', start);
        const qsizetype end = comma < 0 ? value.size() : comma;
        fn(trimOws(value.sliced(start, end - start)));
        if (comma < 0)
            return;
        start = comma + 1;
    }
}

bool sameName(QByteArrayView stored, QByteArrayView lowerName)
{
    // Case-insensitive so a caller passing "Content-Length" still finds the lower-cased stored name.
    return stored.compare(lowerName, Qt::CaseInsensitive) == 0;
}

struct ContentLengthInfo
{
    bool present = false;
    bool malformed = false;
    qint64 value = -1;
};

// Parses a run of ASCII digits; -1 for anything else, including values that overflow qint64.
qint64 parseDigits(QByteArrayView digits)
{
    if (digits.isEmpty())
        return -1;
    qint64 value = 0;
    for (const char ch : digits) {
        if (ch < '0' || ch > '9')
            return -1;
        const int digit = ch - '0';
        if (value > (std::numeric_limits<qint64>::max() - digit) / 10)
            return -1;
        value = value * 10 + digit;
    }
    return value;
}

ContentLengthInfo evaluateContentLength(const HttpRequestHead &head)
{
    ContentLengthInfo info;
    for (const auto &[name, value] : head.headers) {
        if (name != "content-length"_ba)
            continue;
        // RFC 9110 8.6 lets a recipient accept "42, 42" or a repeated line, but QHttpServer joins repeated
        // lines into a list and then reads no length at all: a second value of any kind is refused.
        info.malformed = info.malformed || info.present;
        info.present = true;
        // The value is OWS-trimmed already: a comma, a sign or inner whitespace is not a digit.
        info.value = parseDigits(value);
        if (info.value < 0)
            info.malformed = true;
    }
    if (info.malformed)
        info.value = -1;
    return info;
}

// Validates an origin-form target's bytes: visible ASCII only, no fragment, well-formed %XX escapes.
QString checkTargetChars(QByteArrayView target)
{
    for (qsizetype i = 0; i < target.size(); ++i) {
        const auto ch = static_cast<unsigned char>(target.at(i));
        if (ch <= 0x20 || ch >= 0x7F)
            return u"invalid character in request target"_s;
        if (ch == '#')
            return u"fragment in request target"_s;
        if (ch == '%') {
            if (i + 2 >= target.size() || !isHexDigit(target.at(i + 1)) || !isHexDigit(target.at(i + 2)))
                return u"malformed percent-encoding in request target"_s;
        }
    }
    return {};
}

// Returns a null QString on success, otherwise the reason the request line is invalid.
QString parseRequestLine(QByteArrayView line, HttpRequestHead &head)
{
    if (line.isEmpty())
        return u"empty line before request line"_s;
    const qsizetype sp1 = line.indexOf(' ');
    if (sp1 <= 0)
        return u"malformed request line"_s;
    const QByteArrayView method = line.first(sp1);
    if (!isToken(method))
        return u"invalid method"_s;
    const qsizetype sp2 = line.indexOf(' ', sp1 + 1);
    if (sp2 < 0)
        return u"missing HTTP version in request line"_s; // also catches HTTP/0.9 "GET /"
    if (line.indexOf(' ', sp2 + 1) >= 0)
        return u"malformed request line"_s;
    const QByteArrayView target = line.sliced(sp1 + 1, sp2 - sp1 - 1);
    const QByteArrayView version = line.sliced(sp2 + 1);

    if (version.size() != 8 || !version.startsWith("HTTP/1.") || version.at(7) < '0' || version.at(7) > '9')
        return u"unsupported HTTP version"_s;

    if (target.isEmpty())
        return u"empty request target"_s;
    if (target == "*") {
        // asterisk-form is only defined for server-wide OPTIONS.
        if (method != "OPTIONS")
            return u"asterisk-form request target is only valid for OPTIONS"_s;
    } else if (!target.startsWith('/')) {
        return u"request target must be in origin-form"_s;
    }
    if (QString error = checkTargetChars(target); !error.isNull())
        return error;

    head.method = method.toByteArray();
    head.target = target.toByteArray();
    head.versionMinor = version.at(7) - '0';

    const qsizetype questionMark = target.indexOf('?');
    const QByteArrayView rawPath = questionMark < 0 ? target : target.first(questionMark);
    head.path = QUrl::fromPercentEncoding(rawPath.toByteArray());
    // A decoded NUL would truncate the path in any C API it reaches and has no legitimate use.
    if (head.path.contains(QChar(u'\0')))
        return u"NUL byte in request path"_s;
    if (questionMark >= 0) {
        // The target is pure ASCII by now. QUrlQuery keeps '+' literal, but browsers' form encoding
        // (URLSearchParams) uses it for spaces, so decode it as such; a real '+' arrives as %2B.
        QString rawQuery = QString::fromLatin1(target.sliced(questionMark + 1));
        rawQuery.replace(u'+', "%20"_L1);
        head.query.setQuery(rawQuery);
    }
    return {};
}

// Returns a null QString on success, otherwise the reason the header line is invalid.
QString parseHeaderLine(QByteArrayView line, HttpRequestHead &head)
{
    if (isOws(line.front()))
        return u"obsolete header line folding is not allowed"_s;
    const qsizetype colon = line.indexOf(':');
    if (colon < 0)
        return u"header line without colon"_s;
    const QByteArrayView name = line.first(colon);
    if (name.isEmpty())
        return u"empty header name"_s;
    if (isOws(name.back()))
        return u"whitespace between header name and colon"_s;
    if (!isToken(name))
        return u"invalid header name"_s;
    const QByteArrayView value = line.sliced(colon + 1);
    for (const char ch : value) {
        const auto byte = static_cast<unsigned char>(ch);
        if ((byte < 0x20 && byte != '\t') || byte == 0x7F)
            return u"control character in header value"_s;
    }
    head.headers.append({name.toByteArray().toLower(), trimOws(value).toByteArray()});
    return {};
}

// Checks what we can of a request line whose CRLF has not arrived yet: a non-token byte in the method
// means the peer is not speaking HTTP at all (e.g. a TLS ClientHello), so there is no point waiting.
QString checkPartialRequestLine(QByteArrayView partial)
{
    const qsizetype sp = partial.indexOf(' ');
    const QByteArrayView method = sp < 0 ? partial : partial.first(sp);
    if (sp == 0)
        return u"malformed request line"_s;
    for (const char ch : method) {
        if (!isTokenChar(ch))
            return u"invalid method"_s;
    }
    return {};
}

HeadParseResult failure(HeadStatus status, QString error)
{
    return HeadParseResult{status, HttpRequestHead{}, std::move(error)};
}

} // namespace

QByteArray HttpRequestHead::header(QByteArrayView lowerName) const
{
    for (const auto &[name, value] : headers) {
        if (sameName(name, lowerName))
            return value;
    }
    return {};
}

QList<QByteArray> HttpRequestHead::headerValues(QByteArrayView lowerName) const
{
    QList<QByteArray> values;
    for (const auto &[name, value] : headers) {
        if (sameName(name, lowerName))
            values.append(value);
    }
    return values;
}

bool HttpRequestHead::hasHeader(QByteArrayView lowerName) const
{
    for (const auto &entry : headers) {
        if (sameName(entry.first, lowerName))
            return true;
    }
    return false;
}

bool HttpRequestHead::hasToken(QByteArrayView lowerName, QByteArrayView token) const
{
    bool found = false;
    for (const auto &[name, value] : headers) {
        if (found || !sameName(name, lowerName))
            continue;
        forEachListElement(value, [&found, token](QByteArrayView element) {
            if (!element.isEmpty() && element.compare(token, Qt::CaseInsensitive) == 0)
                found = true;
        });
    }
    return found;
}

QString HttpRequestHead::queryValue(const QString &key) const
{
    if (!query.hasQueryItem(key))
        return {};
    QString value = query.queryItemValue(key, QUrl::FullyDecoded);
    // Present-but-empty ("?key=" or "?key") must stay distinguishable from absent.
    if (value.isNull())
        value = u""_s;
    return value;
}

bool HttpRequestHead::isWebSocketUpgrade() const
{
    return method == "GET"_ba && hasToken("upgrade", "websocket") && hasToken("connection", "upgrade");
}

bool HttpRequestHead::keepAlive() const
{
    if (hasToken("connection", "close"))
        return false;
    return versionMinor >= 1 || hasToken("connection", "keep-alive");
}

qint64 HttpRequestHead::contentLength() const
{
    return evaluateContentLength(*this).value;
}

bool HttpRequestHead::hasInvalidContentLength() const
{
    const ContentLengthInfo info = evaluateContentLength(*this);
    return info.present && info.malformed;
}

std::optional<FramingError> HttpRequestHead::framingError() const
{
    const QList<QByteArray> codings = headerValues("transfer-encoding");
    if (codings.size() == 1 && codings.constFirst().compare("chunked", Qt::CaseInsensitive) == 0)
        return FramingError{411, u"send the body with a Content-Length (chunked bodies are not accepted)"_s};
    // Any other form (empty, repeated, another coding, a list) leaves the length to whoever reads it
    // (RFC 9112 6.3: 400, then close).
    if (!codings.isEmpty())
        return FramingError{400,
                            u"Transfer-Encoding is not accepted: send the body with one Content-Length"_s};
    if (hasInvalidContentLength())
        return FramingError{400, u"ambiguous Content-Length: send one, of digits only"_s};
    return std::nullopt;
}

HeadParseResult parseRequestHead(QByteArrayView buffer, qsizetype maxHeadSize)
{
    const qsizetype limit = qMax<qsizetype>(0, maxHeadSize);
    // Only the first `limit` bytes can belong to an acceptable head; the rest may be body or the next
    // request.
    const QByteArrayView window = buffer.first(qMin(buffer.size(), limit));

    HttpRequestHead head;
    bool haveRequestLine = false;
    qsizetype pos = 0;
    while (true) {
        const qsizetype eol = window.indexOf(Crlf, pos);
        if (eol < 0) {
            // Strict CRLF: with no CRLF left, any LF here is bare and any CR not at the very end (where its
            // LF may still be in flight) is bare too.
            const QByteArrayView tail = window.sliced(pos);
            if (tail.contains('\n'))
                return failure(HeadStatus::Invalid, u"bare LF line ending"_s);
            const qsizetype cr = tail.indexOf('\r');
            if (cr >= 0 && cr != tail.size() - 1)
                return failure(HeadStatus::Invalid, u"bare CR in request head"_s);
            if (!haveRequestLine) {
                if (QString error = checkPartialRequestLine(tail); !error.isNull())
                    return failure(HeadStatus::Invalid, std::move(error));
            }
            if (buffer.size() >= limit) {
                return failure(HeadStatus::TooLarge,
                               u"request head exceeds %1 bytes"_s.arg(QString::number(limit)));
            }
            return failure(HeadStatus::Incomplete, {});
        }

        const QByteArrayView line = window.sliced(pos, eol - pos);
        pos = eol + Crlf.size();
        if (!haveRequestLine) {
            if (QString error = parseRequestLine(line, head); !error.isNull())
                return failure(HeadStatus::Invalid, std::move(error));
            haveRequestLine = true;
            continue;
        }
        if (line.isEmpty()) {
            head.headSize = pos;
            return HeadParseResult{HeadStatus::Complete, std::move(head), {}};
        }
        if (head.headers.size() >= MaxHeaderCount) {
            return failure(HeadStatus::Invalid,
                           u"more than %1 header lines"_s.arg(QString::number(MaxHeaderCount)));
        }
        if (QString error = parseHeaderLine(line, head); !error.isNull())
            return failure(HeadStatus::Invalid, std::move(error));
    }
}

} // namespace Herald
