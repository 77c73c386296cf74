// WsSession, part: construction and the transport (frames, ping and idle, the token bucket, close, sending).
#include "wssession.h"

#include "channelname.h"
#include "gracefulclose.h"
#include "logging.h"
#include "rawhttp.h"
#include "worker.h"
#include "wsframe.h"

#include <QTcpSocket>
#include <QTimer>

using namespace Qt::StringLiterals;

namespace Herald {

WsSession::WsSession(Worker *worker, QTcpSocket *socket, ClientInfo info, qint64 maxMessageSize)
    : Session(worker, socket, std::move(info))
    , m_parser(maxMessageSize)
{
    connect(m_socket, &QTcpSocket::readyRead, this, &WsSession::onReadyRead);
    connect(m_socket, &QTcpSocket::disconnected, this,
            [this] { Metrics::add(m_worker->hub()->metrics().wsConnections, -1); });
}

const QByteArray &WsSession::encoded(const Envelope &envelope) const
{
    return envelope.wsFrame;
}

QByteArray WsSession::encodedStored(const StoredFrame &frame) const
{
    return Ws::encodeFrame(Ws::Opcode::Text, frame.json);
}

void WsSession::sendReplayNotice(const QJsonObject &notice)
{
    sendJson(notice, nullptr);
}

bool WsSession::takeToken()
{
    const int rate = m_worker->config().rateLimit;
    if (rate <= 0)
        return true;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const double capacity = 2.0 * rate;
    if (m_tokensAtMs == 0)
        m_tokens = capacity;
    else
        m_tokens = std::min(capacity, m_tokens + double(now - m_tokensAtMs) * rate / 1000.0);
    m_tokensAtMs = now;
    if (m_tokens >= 1.0) {
        m_tokens -= 1.0;
        return true;
    }
    return false;
}

void WsSession::cutOffSlowConsumer()
{
    // The queue is dropped; the Close goes behind what the socket already holds (whole frames after the one
    // being written), so a client that catches up reads it and resumes by id.
    close(CloseSlowConsumer, u"slow consumer: reconnect with ?since=<last id>"_s);
}

void WsSession::checkIdle(qint64 nowMs, std::chrono::seconds timeout)
{
    if (m_closing || m_finished || timeout.count() <= 0)
        return;
    if (m_lastReceivedMs == 0)
        m_lastReceivedMs = nowMs;
    const qint64 silent = nowMs - m_lastReceivedMs;
    const qint64 limit = qint64(timeout.count()) * 1000;
    if (silent >= limit) {
        Metrics::add(m_worker->hub()->metrics().idleTimeouts);
        close(CloseIdle, u"idle timeout"_s);
    } else if (silent >= limit / 2 && !m_pingSent) {
        // Browsers and libraries answer pings by themselves: a live client never reaches the timeout.
        m_pingSent = true;
        sendRaw(Ws::encodeFrame(Ws::Opcode::Ping, QByteArray("herald")));
    }
}

void WsSession::onReadyRead()
{
    if (m_finished)
        return;
    if (m_closing && (m_peerClosed || m_parser.hasFailed())) {
        // Only the end is awaited now. Input is discarded, never left unread: a close with unread input is a
        // reset, which would discard what the peer has not read yet, our Close included.
        m_socket->skip(m_socket->bytesAvailable());
        return;
    }
    m_lastReceivedMs = QDateTime::currentMSecsSinceEpoch();
    m_pingSent = false;
    m_parser.append(m_socket->readAll());
    while (auto event = m_parser.next()) {
        switch (event->kind) {
        case Ws::Event::Kind::Text:
        case Ws::Event::Kind::Binary:
            if (m_closing)
                break;
            if (!takeToken()) {
                // Over the limit: the frame is dropped with an error (once a second); a client that drops
                // more than two seconds' worth within one second is flooding, not bursting, and is closed.
                Metrics::add(m_worker->hub()->metrics().rateLimited);
                const qint64 now = QDateTime::currentMSecsSinceEpoch();
                if (now - m_dropWindowMs >= 1000) {
                    m_dropWindowMs = now;
                    m_strikes = 0;
                    sendError(ErrorCode::RateLimited,
                              u"slow down: at most %1 frames per second"_s.arg(m_worker->config().rateLimit));
                }
                if (++m_strikes > 2 * m_worker->config().rateLimit)
                    close(Ws::CloseCode::PolicyViolation, u"rate limit exceeded"_s); // the rest: only a Close
                break;
            }
            if (event->kind == Ws::Event::Kind::Text)
                handleText(event->payload);
            else
                sendError(ErrorCode::InvalidJson, u"binary frames are not supported: send JSON text"_s);
            break;
        case Ws::Event::Kind::Ping:
            sendRaw(Ws::encodeFrame(Ws::Opcode::Pong, event->payload));
            break;
        case Ws::Event::Kind::Pong:
            break;
        case Ws::Event::Kind::Close:
            // Echo the peer's code (RFC 6455 5.5.1); both Close frames exchanged, the TCP connection ends.
            if (!m_closing)
                close(event->closeCode == Ws::CloseCode::NoStatus ? 0 : event->closeCode, {});
            m_peerClosed = true;
            m_ending->peerDone();
            m_socket->skip(m_socket->bytesAvailable());
            return;
        case Ws::Event::Kind::Error:
            if (m_closing) {
                // Garbage after our Close: its Close cannot be found any more.
                m_ending->peerDone();
                m_socket->skip(m_socket->bytesAvailable());
                return;
            }
            Metrics::add(m_worker->hub()->metrics().protocolErrors);
            qCDebug(lcWs) << "closing" << clientId() << event->closeCode << event->reason;
            close(event->closeCode, event->reason);
            return;
        }
    }
    flush();
}

void WsSession::close(quint16 code, const QString &reason)
{
    if (m_closing || m_finished)
        return;
    m_closing = true;
    // What is queued goes first (within the send buffer: a slow consumer's queue is dropped), then the Close,
    // straight to the socket whatever it holds. Nothing after it: no more deliveries, no replies.
    flush();
    m_worker->sessionClosing(this);
    writeToSocket(m_socket, Ws::encodeClose(code, reason));
    // The peer's Close is awaited (RFC 6455 7.1.1) unless its input no longer parses.
    m_ending = GracefulClose::begin(m_socket, m_worker->config().closeTimeout, m_parser.hasFailed());
}

void WsSession::sendRaw(const QByteArray &frame)
{
    if (m_closing)
        return; // nothing follows a Close
    enqueue(frame);
}

void WsSession::sendJson(const QJsonObject &object, const Request *replyTo)
{
    QJsonObject o = object;
    if (replyTo) {
        const QJsonValue ref = replyTo->body.value("ref"_L1);
        if (!ref.isUndefined())
            o.insert("ref"_L1, ref);
    }
    sendRaw(Ws::encodeFrame(Ws::Opcode::Text, compactJson(o)));
}

void WsSession::sendError(ErrorCode code, const QString &message, const Request *replyTo)
{
    QJsonObject o{{"type"_L1, "error"_L1}, {"code"_L1, errorCodeName(code)}, {"message"_L1, message}};
    if (replyTo)
        o.insert("action"_L1, replyTo->name);
    if (m_heldErrors && !replyTo) {
        m_heldErrors->append(o);
        return;
    }
    sendJson(o, replyTo);
}

} // namespace Herald
