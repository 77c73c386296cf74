#include "ssesession.h"

#include "channelname.h"
#include "errorcode.h"
#include "gracefulclose.h"
#include "httprequesthead.h"
#include "hub.h"
#include "rawhttp.h"
#include "request.h"
#include "streamrequest.h"
#include "worker.h"
#include "wsframe.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>

using namespace Qt::StringLiterals;

namespace Herald {

SseSession *SseSession::create(Worker *worker, QTcpSocket *socket, const HttpRequestHead &head)
{
    const auto request = StreamRequest::forEvents(head, worker->config().maxSubscriptions);
    if (!request) {
        refuseHandshake(worker, socket, request.error());
        return nullptr;
    }
    QStringList channels = request->channels();

    // SPEC section 7, before the stream starts: the origin, the token (?token=, as EventSource cannot set
    // headers, or Authorization: Bearer), and every channel asked for.
    Hub *hub = worker->hub();
    const auto identity = identifyHandshake(hub, socket, head, false);
    if (!identity)
        return nullptr;
    for (const QString &ch : std::as_const(channels)) {
        if (!identity->canRead(ch)) {
            Metrics::add(hub->metrics().refusedForbidden);
            writeHttpError(socket, 403, "Forbidden", ErrorCode::Forbidden, identity->refusal(ch, false));
            return nullptr;
        }
    }

    ClientInfo info;
    info.clientId = request->clientId();
    info.userId = identity->authenticated ? identity->subject : request->userId();
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

    auto *session = new SseSession(worker, socket, info, request->namedEvents());
    session->start();
    Metrics::add(worker->hub()->metrics().sseConnectionsTotal);
    Metrics::add(worker->hub()->metrics().sseConnections);
    const QByteArray preamble = "retry: " + QByteArray::number(worker->config().sseRetry.count()) +
                                "\n: connected " + request->clientId().toUtf8() + "\n\n";
    session->enqueue(preamble);
    for (const QString &ch : std::as_const(channels))
        session->subscribe(ch);
    // ?counts=1: the live counts on this stream as unnamed events, as /ws?counts=1 has them on its socket,
    // so a page on SSE needs no second connection (which would count it as two clients). The first one
    // after subscribing, so it already counts this stream's channels.
    if (request->counts()) {
        worker->addCountsListener(session, true);
        session->enqueue(QByteArray("data: " + hub->pageCountsFrame() + "\n\n"));
    }
    if (request->since()) {
        channels.append(Channels::Broadcast.toString());
        session->resume(channels, *request->since(), request->epoch());
    }
    // The stream ends with its token; EventSource reconnects and must present a fresh one.
    if (identity->authenticated)
        session->expireWith(identity->expiresAt);
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

QByteArray SseSession::encodedStored(const StoredFrame &frame) const
{
    return sseEncode(frame.id, m_namedEvents ? frame.type : QString(), frame.json);
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
