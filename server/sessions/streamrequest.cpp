#include "streamrequest.h"

#include "channelname.h"
#include "errorcode.h"
#include "httprequesthead.h"
#include "request.h"

#include <QUuid>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
HeadRefusal badRequest(ErrorCode code, const QString &detail)
{
    return HeadRefusal{400, "Bad Request", code, detail};
}

// --max-subscriptions: asking for more at connect is refused before the handshake.
HeadRefusal tooManyChannels(qsizetype most)
{
    return badRequest(ErrorCode::TooManySubscriptions,
                      u"more than %1 channels: the most one connection may subscribe to"_s.arg(most));
}

const QString InvalidUserId = u"user_id must match [A-Za-z0-9_.:-]{1,121}"_s;

bool isOn(const QString &value)
{
    return value == u"1"_s || value == u"true"_s;
}

// Stops past `most` channels: more is refused anyway, and the duplicate check is quadratic.
QStringList splitChannels(const QString &list, qsizetype most)
{
    QStringList out;
    for (const QString &part : list.split(u',', Qt::SkipEmptyParts)) {
        const QString c = part.trimmed();
        if (!c.isEmpty() && !out.contains(c))
            out.append(c);
        if (out.size() > most)
            break;
    }
    return out;
}
} // namespace

std::optional<HeadRefusal> StreamRequest::refuseMethod(const HttpRequestHead &head, const QString &detail)
{
    if (head.method == "GET")
        return std::nullopt;
    return HeadRefusal{405, "Method Not Allowed", ErrorCode::MethodNotAllowed, detail};
}

std::optional<HeadRefusal> StreamRequest::readClientId(const HttpRequestHead &head)
{
    m_clientId = head.queryValue(u"client_id"_s);
    if (m_clientId.isEmpty())
        m_clientId = QUuid::createUuid().toString(QUuid::WithoutBraces);
    else if (!isValidIdentifier(m_clientId))
        return badRequest(ErrorCode::BadRequest, u"client_id must match [A-Za-z0-9_.:-]{1,121}"_s);
    return std::nullopt;
}

std::optional<HeadRefusal> StreamRequest::readSince(const HttpRequestHead &head)
{
    // The resume point (SPEC section 2): replay what was stored after it, then go live.
    const QString sinceText = head.queryValue(u"since"_s);
    if (sinceText.isNull())
        return std::nullopt;
    m_since = parseSequence(sinceText);
    if (!m_since)
        return badRequest(ErrorCode::BadRequest,
                          u"since must be a non-negative integer (the last message id seen)"_s);
    return std::nullopt;
}

void StreamRequest::readCounts(const HttpRequestHead &head)
{
    // A page that shows the live counts needs no second connection (which would count itself twice).
    m_counts = isOn(head.queryValue(u"counts"_s));
}

Result<StreamRequest, HeadRefusal> StreamRequest::forEvents(const HttpRequestHead &head,
                                                            qsizetype maxSubscriptions)
{
    using R = Result<StreamRequest, HeadRefusal>;
    if (auto refusal = refuseMethod(head, u"an event stream is opened with GET"_s))
        return R::failure(*refusal);
    StreamRequest s;
    // /events?user_id=&channels=  or  /events/{user_id} (seed 002)
    s.m_userId = head.queryValue(u"user_id"_s);
    const bool seedPath = head.path.startsWith(u"/events/"_s);
    if (seedPath)
        s.m_userId = head.path.mid(8);
    if (!s.m_userId.isEmpty()) {
        if (!isValidIdentifier(s.m_userId))
            return R::failure(badRequest(ErrorCode::BadRequest, InvalidUserId));
        s.m_channels.append(userChannel(s.m_userId));
    }
    // Unlike a WebSocket's, the channels are all checked now: a stream has no way to report one.
    for (const QString &part : head.queryValue(u"channels"_s).split(u',', Qt::SkipEmptyParts)) {
        const QString ch = part.trimmed();
        if (!isValidChannelName(ch) || ch.startsWith(Channels::ClientPrefix)) {
            return R::failure(badRequest(ErrorCode::BadChannel,
                                         ch.startsWith(Channels::ClientPrefix)
                                             ? u"client: channels are personal and cannot be subscribed"_s
                                             : invalidChannelMessage(ch)));
        }
        if (!s.m_channels.contains(ch))
            s.m_channels.append(ch);
        // Refused at once, which also bounds the duplicate check above.
        if (s.m_channels.size() > maxSubscriptions)
            return R::failure(tooManyChannels(maxSubscriptions));
    }
    if (auto refusal = s.readClientId(head))
        return R::failure(*refusal);
    // Seed 002's page listens with EventSource.onmessage, which only sees unnamed events; /events names each
    // event after the message type (SPEC section 4). ?named=0|1 overrides either default.
    s.m_namedEvents = !seedPath;
    const QString namedParam = head.queryValue(u"named"_s);
    if (!namedParam.isNull())
        s.m_namedEvents = namedParam != u"0"_s && namedParam != u"false"_s;

    // The resume point: Last-Event-ID (what EventSource sends when it reconnects, so it wins over the URL's
    // ?since=, which a reconnect repeats unchanged), else ?since=.
    if (auto refusal = s.readSince(head))
        return R::failure(*refusal);
    // ?epoch= vouches for ?since= only. A reconnecting EventSource repeats its URL unchanged but sends the
    // last id it got on the stream, from whatever epoch the server had then: held against the old epoch it
    // would be a reset on every reconnect. A since ahead of the history is still caught as a reset.
    s.m_epoch = head.queryValue(u"epoch"_s);
    const QByteArray lastEventId = head.header("last-event-id").trimmed();
    if (!lastEventId.isEmpty()) {
        // Lenient: an EventSource that cannot reconnect stays dead, so a strange id is a fresh start instead.
        if (auto id = parseSequence(QString::fromLatin1(lastEventId))) {
            s.m_since = id;
            s.m_epoch.clear();
        }
    }
    s.readCounts(head);
    return s;
}

Result<StreamRequest, HeadRefusal> StreamRequest::forWebSocket(const HttpRequestHead &head,
                                                               const QString &pathClientId, bool native,
                                                               qsizetype maxSubscriptions)
{
    using R = Result<StreamRequest, HeadRefusal>;
    StreamRequest s;
    if (!pathClientId.isEmpty())
        s.m_clientId = pathClientId;
    else if (auto refusal = s.readClientId(head))
        return R::failure(*refusal);
    if (auto refusal = s.readSince(head))
        return R::failure(*refusal);
    s.m_epoch = head.queryValue(u"epoch"_s);
    if (native) {
        s.m_userId = head.queryValue(u"user_id"_s);
        s.m_channels = splitChannels(head.queryValue(u"channels"_s), maxSubscriptions);
        const qsizetype asked = s.m_channels.size() + (s.m_userId.isEmpty() ? 0 : 1);
        if (asked > maxSubscriptions)
            return R::failure(tooManyChannels(maxSubscriptions));
        s.readCounts(head);
    }
    return s;
}

} // namespace Herald
