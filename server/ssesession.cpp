#include "ssesession.h"

#include "channelname.h"
#include "httprequesthead.h"
#include "rawhttp.h"
#include "worker.h"

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
                           u"invalid channel name '%1'"_s.arg(ch.left(140)));
            return nullptr;
        }
        if (!channels.contains(ch))
            channels.append(ch);
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

    ClientInfo info;
    info.clientId = clientId;
    info.userId = userId;
    info.transport = Transport::Sse;
    info.route = Route::Events;
    info.address = socket->peerAddress().toString();
    info.connectedAt = QDateTime::currentDateTimeUtc();

    const QByteArray origin = head.header("origin");
    socket->write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                  "Cache-Control: no-cache\r\nConnection: keep-alive\r\nX-Accel-Buffering: no\r\n"
                  "Access-Control-Allow-Origin: " +
                  (origin.isEmpty() ? QByteArray("*") : origin) + "\r\n\r\n");

    auto *session = new SseSession(worker, socket, info, named);
    session->start();
    Metrics::add(worker->hub()->metrics().sseConnectionsTotal);
    Metrics::add(worker->hub()->metrics().sseConnections);
    const QByteArray preamble = "retry: " + QByteArray::number(worker->config().sseRetry.count()) +
                                "\n: connected " + clientId.toUtf8() + "\n\n";
    session->enqueue(preamble);
    for (const QString &ch : std::as_const(channels))
        session->subscribe(ch);
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

void SseSession::heartbeat()
{
    enqueue(": heartbeat\n\n");
}

void SseSession::close(quint16, const QString &)
{
    flush();
    m_socket->disconnectFromHost();
}

} // namespace Herald
