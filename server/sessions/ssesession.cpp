#include "ssesession.h"

#include "channelname.h"
#include "errorcode.h"
#include "expirytimer.h"
#include "gracefulclose.h"
#include "httprequesthead.h"
#include "hub.h"
#include "rawhttp.h"
#include "request.h"
#include "worker.h"
#include "wsframe.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>
#include <QUuid>

using namespace Qt::StringLiterals;

namespace Herald {

SseSession *SseSession::create(Worker *worker, QTcpSocket *socket, const HttpRequestHead &head)
{
    if (head.method != "GET") {
        writeHttpError(socket, 405, "Method Not Allowed", u"bad_request"_s,
                       u"an event stream is opened with GET"_s);
        return nullptr;
    }
    // /events?user_id=&channels=  or  /events/{user_id} (seed 002)
    QString userId = head.queryValue(u"user_id"_s);
    const bool seedPath = head.path.startsWith(u"/events/"_s);
    if (seedPath)
        userId = head.path.mid(8);
    QStringList channels;
    if (!userId.isEmpty()) {
        if (!isValidIdentifier(userId)) {
            writeHttpError(socket, 400, "Bad Request", u"bad_request"_s,
                           u"user_id must match [A-Za-z0-9_.:-]{1,121}"_s);
            return nullptr;
        }
        channels.append(userChannel(userId));
    }
    for (const QString &part : head.queryValue(u"channels"_s).split(u',', Qt::SkipEmptyParts)) {
        const QString ch = part.trimmed();
        if (!isValidChannelName(ch) || ch.startsWith(Channels::ClientPrefix)) {
            writeHttpError(socket, 400, "Bad Request", u"bad_channel"_s,
                           ch.startsWith(Channels::ClientPrefix)
                               ? u"client: channels are personal and cannot be subscribed"_s
                               : invalidChannelMessage(ch));
            return nullptr;
        }
        if (!channels.contains(ch))
            channels.append(ch);
        // --max-subscriptions: refused at once (which also bounds the duplicate check above).
        if (channels.size() > worker->config().maxSubscriptions) {
            Metrics::add(worker->hub()->metrics().subscriptionsCapped);
            writeHttpError(socket, 400, "Bad Request", errorCodeName(ErrorCode::TooManySubscriptions),
                           u"more than %1 channels: the most one connection may subscribe to"_s.arg(
                               worker->config().maxSubscriptions));
            return nullptr;
        }
    }
    QString clientId = head.queryValue(u"client_id"_s);
    if (clientId.isEmpty())
        clientId = QUuid::createUuid().toString(QUuid::WithoutBraces);
    else if (!isValidIdentifier(clientId)) {
        writeHttpError(socket, 400, "Bad Request", u"bad_request"_s,
                       u"client_id must match [A-Za-z0-9_.:-]{1,121}"_s);
        return nullptr;
    }
    // Seed 002's page listens with EventSource.onmessage, which only sees unnamed events; /events names each
    // event after the message type (SPEC section 4). ?named=0|1 overrides either default.
    bool named = !seedPath;
    const QString namedParam = head.queryValue(u"named"_s);
    if (!namedParam.isNull())
        named = namedParam != u"0"_s && namedParam != u"false"_s;

    // The resume point: Last-Event-ID (what EventSource sends when it reconnects, so it wins over the URL's
    // ?since=, which a reconnect repeats unchanged), else ?since=.
    std::optional<qint64> since;
    const QString sinceText = head.queryValue(u"since"_s);
    if (!sinceText.isNull()) {
        since = parseSequence(sinceText);
        if (!since) {
            writeHttpError(socket, 400, "Bad Request", u"bad_request"_s,
                           u"since must be a non-negative integer (the last message id seen)"_s);
            return nullptr;
        }
    }
    // ?epoch= vouches for ?since= only. A reconnecting EventSource repeats its URL unchanged but sends the
    // last id it got on the stream, from whatever epoch the server had then: held against the old epoch it
    // would be a reset on every reconnect. A since ahead of the history is still caught as a reset.
    QString epoch = head.queryValue(u"epoch"_s);
    const QByteArray lastEventId = head.header("last-event-id").trimmed();
    if (!lastEventId.isEmpty()) {
        // Lenient: an EventSource that cannot reconnect stays dead, so a strange id is a fresh start instead.
        if (auto id = parseSequence(QString::fromLatin1(lastEventId))) {
            since = id;
            epoch.clear();
        }
    }

    // SPEC section 7, before the stream starts: the origin, the token (?token=, as EventSource cannot set
    // headers, or Authorization: Bearer), and every channel asked for.
    Hub *hub = worker->hub();
    const auto identity = identifyHandshake(hub, socket, head, false);
    if (!identity)
        return nullptr;
    for (const QString &ch : std::as_const(channels)) {
        if (!identity->canRead(ch)) {
            Metrics::add(hub->metrics().refusedForbidden);
            writeHttpError(socket, 403, "Forbidden", u"forbidden"_s, identity->refusal(ch, false));
            return nullptr;
        }
    }

    ClientInfo info;
    info.clientId = clientId;
    info.userId = identity->authenticated ? identity->subject : userId;
    info.transport = Transport::Sse;
    info.route = Route::Events;
    info.address = socket->peerAddress().toString();
    info.connectedAt = QDateTime::currentDateTimeUtc();
    // The same rule as a WebSocket's: a client id another identity holds is refused, not shared.
    if (!registerHandshake(hub, socket, info, *identity))
        return nullptr;

    const QByteArray origin = head.header("origin");
    writeToSocket(socket,
                  QByteArray("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                             "Cache-Control: no-cache\r\nConnection: keep-alive\r\nX-Accel-Buffering: no\r\n"
                             "Access-Control-Allow-Origin: " +
                             (origin.isEmpty() ? QByteArray("*") : origin) + "\r\n\r\n"));

    auto *session = new SseSession(worker, socket, info, named);
    session->start();
    Metrics::add(worker->hub()->metrics().sseConnectionsTotal);
    Metrics::add(worker->hub()->metrics().sseConnections);
    const QByteArray preamble = "retry: " + QByteArray::number(worker->config().sseRetry.count()) +
                                "\n: connected " + clientId.toUtf8() + "\n\n";
    session->enqueue(preamble);
    for (const QString &ch : std::as_const(channels))
        session->subscribe(ch);
    // ?counts=1: the live counts on this stream as unnamed events, as /ws?counts=1 has them on its socket,
    // so a page on SSE needs no second connection (which would count it as two clients). The first one
    // after subscribing, so it already counts this stream's channels.
    const QString counts = head.queryValue(u"counts"_s);
    if (counts == u"1"_s || counts == u"true"_s) {
        worker->addCountsListener(session, true);
        session->enqueue(QByteArray("data: " + hub->pageCountsFrame() + "\n\n"));
    }
    if (since) {
        channels.append(Channels::Broadcast.toString());
        session->resume(channels, *since, epoch);
    }
    // The stream ends with its token; EventSource reconnects and must present a fresh one.
    if (identity->authenticated && identity->expiresAt.isValid()) {
        auto *expiry = new ExpiryTimer(session);
        connect(expiry, &ExpiryTimer::expired, session, [session] {
            Metrics::add(session->m_worker->hub()->metrics().refusedUnauthorized);
            session->close(Ws::CloseCode::PolicyViolation, u"token expired"_s);
        });
        expiry->start(identity->expiresAt);
    }
    session->flush();
    return session;
}

SseSession::SseSession(Worker *worker, QTcpSocket *socket, ClientInfo info, bool namedEvents)
    : Session(worker, socket, std::move(info))
    , m_namedEvents(namedEvents)
{
    // An SSE client sends nothing after its request; discard whatever arrives so it cannot pile up.
    connect(m_socket, &QTcpSocket::readyRead, this, [this] { m_socket->skip(m_socket->bytesAvailable()); });
    connect(m_socket, &QTcpSocket::disconnected, this,
            [this] { Metrics::add(m_worker->hub()->metrics().sseConnections, -1); });
}

const QByteArray &SseSession::encoded(const Envelope &envelope) const
{
    return m_namedEvents ? envelope.sseEvent : envelope.sseEventUnnamed;
}

void SseSession::resume(const QStringList &channels, qint64 since, const QString &epoch)
{
    auto replay = fetchReplay(channels, since, epoch);
    Replay r;
    QString error;
    if (replay)
        r = std::move(replay).value();
    else {
        r.lose(ReplayGap::Unavailable);
        error = replay.error().message;
    }
    QJsonObject notice = replayNotice(since, r);
    if (!error.isEmpty())
        notice.insert("error"_L1, error);
    sendReplayNotice(notice);
    sendReplayed(r);
}

void SseSession::sendReplayNotice(const QJsonObject &object)
{
    QJsonObject notice = object;
    const bool recovered = notice.value("recovered"_L1).toBool(true);
    const QByteArray json = compactJson(notice);
    if (m_namedEvents) {
        enqueue(QByteArray("event: replay\ndata: " + json + "\n\n"));
    } else if (!recovered) {
        // Unnamed streams are read by pages that show every event (seed 002): only a gap is worth one, and
        // it says so in words.
        notice.insert("message"_L1, u"Some earlier notifications could not be recovered."_s);
        enqueue(QByteArray("data: " + compactJson(notice) + "\n\n"));
    }
}

void SseSession::heartbeat()
{
    enqueue(": heartbeat\n\n");
}

void SseSession::cutOffSlowConsumer()
{
    // The queue is dropped; the stream ends after the whole events the socket already holds. EventSource
    // reconnects by itself with the Last-Event-ID it did get, and catches up from the store.
    close(0, {});
}

void SseSession::close(quint16, const QString &)
{
    if (m_closing || m_finished)
        return;
    m_closing = true;
    flush();
    m_worker->sessionClosing(this);
    // The end of the stream is the end of the connection (FIN after the last event); what the client sends
    // is discarded until it closes its side, so no reset discards the events it has not read yet.
    GracefulClose::begin(m_socket, m_worker->config().closeTimeout, true);
}

} // namespace Herald
