#include "worker.h"

#include "channelname.h"
#include "httprequesthead.h"
#include "hub.h"
#include "logging.h"
#include "plainconnection.h"
#include "rawhttp.h"
#include "requesthandler.h"
#include "subscriber.h"
#include "tcpprogress.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QPointer>
#include <QSocketNotifier>
#include <QSslSocket>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>

#include <algorithm>
#include <chrono>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// The deadlines of a request QHttpServer serves: its body must arrive within --body-timeout of the head
// (QHttpServer itself would wait forever), and its answer must keep leaving, no --write-timeout without a
// byte taken by the client (QHttpServer has no timer at all). One timer, restarted at each phase.
class AnswerDeadline : public QObject
{
public:
    AnswerDeadline(QTcpSocket *socket, const ServerConfig &config, Metrics &metrics)
        : QObject(socket)
        , m_socket(socket)
        , m_writeTimeout(config.writeTimeout)
        , m_metrics(metrics)
    {
        m_timer.setSingleShot(true);
        connect(&m_timer, &QTimer::timeout, this, &AnswerDeadline::expired);
        connect(socket, &QTcpSocket::bytesWritten, this, &AnswerDeadline::progressed);
        m_timer.start(config.bodyTimeout);
    }

private:
    void progressed()
    {
        m_answering = true;
        if (m_socket->bytesToWrite() > 0)
            m_timer.start(m_writeTimeout);
        else
            m_timer.stop(); // all sent: the connection closes after the answer (closeAfterAnswer)
    }
    void expired()
    {
        if (m_socket->bytesToWrite() > 0) {
            Metrics::add(m_metrics.writeTimeouts);
            m_socket->abort(); // nothing can reach a client that does not read
            m_socket->deleteLater();
            return;
        }
        if (m_answering)
            return;
        // No answer yet: QHttpServer still waits for the body. Nothing more goes to it (closeAfterAnswer
        // disconnects its readyRead), and the 408 itself must leave in time too.
        Metrics::add(m_metrics.bodyTimeouts);
        m_answering = true;
        writeHttpError(m_socket, 408, "Request Timeout", ErrorCode::Timeout,
                       u"request body not received in time"_s);
        m_timer.start(m_writeTimeout);
    }

    QTcpSocket *m_socket;
    std::chrono::milliseconds m_writeTimeout;
    Metrics &m_metrics;
    QTimer m_timer;
    bool m_answering = false;
};

void removeOne(QList<Subscriber *> &list, Subscriber *s)
{
    const qsizetype i = list.indexOf(s);
    if (i < 0)
        return;
    // Order among recipients does not matter: swap with the last and drop, O(1) after the search.
    list.swapItemsAt(i, list.size() - 1);
    list.removeLast();
}
} // namespace

Worker::Worker(Hub *hub, const ServerConfig &config, int index)
    : m_hub(hub)
    , m_config(config)
    , m_index(index)
    , m_plainSweep(this)
    , m_heartbeat(this)
    , m_idleCheck(this)
    , m_stallSweep(this)
{
    m_doorbell = std::make_shared<Doorbell>();
    m_doorbell->worker = this;
    m_heartbeat.setInterval(m_config.sseHeartbeat);
    connect(&m_heartbeat, &QTimer::timeout, this, &Worker::heartbeat);
    // One timer for every plain connection's deadline, rather than one each: a burst of thousands of connects
    // would otherwise fill the thread's timer list.
    m_plainSweep.setInterval(std::clamp<std::chrono::milliseconds>(
        std::min({m_config.handshakeTimeout, m_config.bodyTimeout, m_config.writeTimeout,
                  m_config.keepAliveTimeout}) /
            4,
        std::chrono::milliseconds(20), std::chrono::milliseconds(1000)));
    connect(&m_plainSweep, &QTimer::timeout, this, &Worker::sweepPlain);
    m_stallSweep.setInterval(std::clamp<std::chrono::milliseconds>(
        m_config.writeTimeout / 4, std::chrono::milliseconds(100), std::chrono::milliseconds(5000)));
    connect(&m_stallSweep, &QTimer::timeout, this, &Worker::sweepStalls);
    // Silent WebSockets are pinged at half the idle timeout and closed at the full one.
    if (m_config.idleTimeout.count() > 0) {
        m_idleCheck.setInterval(
            std::max<std::chrono::milliseconds>(std::chrono::milliseconds(250), m_config.idleTimeout / 4));
        connect(&m_idleCheck, &QTimer::timeout, this, &Worker::checkIdle);
    }
}

Worker::~Worker()
{
    {
        QMutexLocker lock(&m_doorbell->mutex);
        m_doorbell->worker = nullptr;
    }
    // Delete the sessions while the indexes they would unregister from still exist.
    m_shuttingDown = true;
    const auto sessions = m_sessions;
    m_sessions.clear();
    for (Subscriber *s : sessions)
        s->abandon();
    qDeleteAll(sessions);
    const auto plain = m_plainPending;
    for (PlainConnection *p : plain)
        p->drop();
    // Qt Sql and hiredis connections belong to their thread: close this thread's before it ends.
    if (QThread::currentThread() == thread())
        m_hub->releaseThreadConnections();
}

void Worker::post(EnvelopePtr envelope, FanoutWatchPtr watch)
{
    bool wake = false;
    {
        QMutexLocker lock(&m_inboxMutex);
        wake = m_inbox.empty();
        m_inbox.push_back(Posted{std::move(envelope), std::move(watch)});
    }
    // One wake-up per batch, not per message: a burst of publishes is drained in one pass.
    if (wake)
        QMetaObject::invokeMethod(this, &Worker::drainInbox, Qt::QueuedConnection);
}

void Worker::drainInbox()
{
    std::vector<Posted> batch;
    {
        QMutexLocker lock(&m_inboxMutex);
        batch.swap(m_inbox);
    }
    for (const Posted &p : batch)
        deliver(*p.envelope);
    flushDirty();
    m_hub->noteDrained(qint64(batch.size()));
    for (const Posted &p : batch) {
        if (p.watch)
            p.watch->release();
    }
    if (m_deliveredUnreported) {
        Metrics::add(m_hub->metrics().messagesDelivered, m_deliveredUnreported);
        m_deliveredUnreported = 0;
    }
}

void Worker::deliver(const Envelope &e)
{
    qint64 n = 0;
    // A copy (shared, so it costs a reference count): a delivery can close its session, which takes it out
    // of these lists, or drops the channel's list altogether, while the walk goes on.
    auto sendAll = [&](const QList<Subscriber *> list) {
        for (Subscriber *s : list)
            n += s->deliver(e) ? 1 : 0;
    };
    switch (e.target) {
    case Envelope::Target::Counts:
        sendAll(m_countsListeners);
        break;
    case Envelope::Target::PageCounts:
        sendAll(m_pageCountsListeners);
        break;
    case Envelope::Target::Admin:
        sendAll(m_admins);
        break;
    case Envelope::Target::Everyone:
        sendAll(m_admins);
        sendAll(m_everyone);
        break;
    case Envelope::Target::Channel: {
        sendAll(m_admins);
        const auto it = m_channelIndex.constFind(e.message.channel);
        if (it != m_channelIndex.cend())
            sendAll(*it);
        break;
    }
    }
    m_deliveredUnreported += n;
}

void Worker::markDirty(Subscriber *session)
{
    if (session->queuedForFlush)
        return;
    session->queuedForFlush = true;
    m_dirty.push_back(session);
    if (!m_flushScheduled) {
        m_flushScheduled = true;
        QMetaObject::invokeMethod(this, &Worker::flushDirty, Qt::QueuedConnection);
    }
}

void Worker::flushDirty()
{
    m_flushScheduled = false;
    std::vector<Subscriber *> dirty;
    dirty.swap(m_dirty);
    for (Subscriber *s : dirty) {
        s->queuedForFlush = false;
        s->flush();
    }
}

void Worker::adoptDescriptor(qintptr descriptor)
{
    // No Nagle: a message or an answer is written once, whole, and must leave at once. With Nagle, a small
    // write behind one not yet acknowledged waits for the peer's delayed ACK, up to 40 ms.
    const int one = 1;
    ::setsockopt(int(descriptor), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    QMetaObject::invokeMethod(this, [this, descriptor] {
        if (!m_tls) {
            adoptPlain(descriptor);
            return;
        }
        auto *ssl = new QSslSocket(this);
        ssl->setSslConfiguration(*m_tls);
        QTcpSocket *socket = ssl;
        if (!socket->setSocketDescriptor(descriptor)) {
            qCWarning(lcServer) << "cannot adopt connection:" << socket->errorString();
            delete socket;
            return;
        }
        if (m_shuttingDown) {
            socket->abort();
            socket->deleteLater();
            return;
        }
        // --max-connections-per-ip: refused at once, before any parsing, released when the socket goes
        // (whichever thread it ends on).
        if (const int cap = m_config.connectionsPerIpCap(); cap > 0) {
            const QHostAddress peer = socket->peerAddress();
            if (!m_hub->acquireAddress(peer, cap)) {
                Metrics::add(m_hub->metrics().connectionsCapped);
                writeHttpError(socket, 429, "Too Many Requests", ErrorCode::RateLimited,
                               u"too many connections from this address (at most %1)"_s.arg(cap));
                return;
            }
            Hub *hub = m_hub;
            connect(socket, &QObject::destroyed, [hub, peer] { hub->releaseAddress(peer); });
        }
        // Silence, or a ClientHello sent in part, must not hold the connection: a socket that is not
        // encrypted has nothing to answer with, so it is dropped.
        QTimer::singleShot(m_config.tlsHandshakeTimeout, ssl, [this, ssl] {
            if (ssl->isEncrypted())
                return;
            Metrics::add(m_hub->metrics().handshakeTimeouts);
            m_pending.remove(ssl);
            ssl->abort();
            ssl->deleteLater();
        });
        watchHead(socket);
        // The head is read once decrypted; a client speaking plain HTTP to the TLS port fails the handshake
        // and is dropped.
        connect(ssl, &QSslSocket::sslErrors, ssl, [ssl] { ssl->abort(); });
        connect(ssl, &QAbstractSocket::errorOccurred, ssl, [ssl](QAbstractSocket::SocketError e) {
            if (e == QAbstractSocket::SslHandshakeFailedError)
                ssl->abort();
        });
        ssl->startServerEncryption();
    });
}

void Worker::watchHead(QTcpSocket *socket)
{
    m_pending.insert(socket);
    connect(socket, &QTcpSocket::readyRead, this, [this, socket] { sniff(socket); });
    connect(socket, &QTcpSocket::disconnected, this, [this, socket] {
        m_pending.remove(socket);
        socket->deleteLater();
    });
    // A connection that never completes its request head is dropped, so idle sockets cannot pile up. Over
    // TLS the time counts from the end of the handshake, which has its own deadline.
    auto armHead = [this, socket] {
        QTimer::singleShot(m_config.handshakeTimeout, socket, [this, socket] {
            if (!m_pending.contains(socket))
                return;
            Metrics::add(m_hub->metrics().headTimeouts);
            rejectHttp(socket, 408, "Request Timeout", u"request head not received in time"_s);
        });
    };
    auto *ssl = qobject_cast<QSslSocket *>(socket);
    if (ssl && !ssl->isEncrypted())
        connect(ssl, &QSslSocket::encrypted, this, armHead, Qt::SingleShotConnection);
    else
        armHead();
}

// Plain TCP: the head is peeked in the kernel (MSG_PEEK) before any QTcpSocket exists, so a WebSocket or SSE
// session gets an unbuffered socket whose head is already consumed, and an HTTP request reaches QHttpServer
// with its bytes unread. An unbuffered QTcpSocket keeps no 16 KiB read chunk per idle connection, which is
// most of what a buffered one costs (issue 8: under 10 KiB per idle connection). The hot REST routes are
// served on the connection itself, with keep-alive (PlainConnection).
void Worker::adoptPlain(qintptr descriptor)
{
    const int fd = int(descriptor);
    if (m_shuttingDown) {
        ::close(fd);
        return;
    }
    auto *connection = new PlainConnection(this, fd);
    m_plainPending.insert(connection);
    if (!connection->start())
        return;
    if (!m_plainSweep.isActive())
        m_plainSweep.start();
}

void Worker::sweepPlain()
{
    const qint64 now = steadyMs();
    const auto plain = m_plainPending; // expiring removes from it
    for (PlainConnection *connection : plain) {
        if (connection->deadline() <= now)
            connection->expire(now);
    }
    if (m_plainPending.isEmpty())
        m_plainSweep.stop();
}

void Worker::setTls(const QSslConfiguration &configuration)
{
    m_tls = configuration;
}

void Worker::sniff(QTcpSocket *socket)
{
    if (!m_pending.contains(socket))
        return;
    // Peek, do not read: a plain HTTP request is handed to QHttpServer with its bytes still in the socket.
    const QByteArray peeked = socket->peek(MaxHeadSize + 1);
    const HeadParseResult parsed = parseRequestHead(peeked, MaxHeadSize);
    switch (parsed.status) {
    case HeadStatus::Incomplete:
        return;
    case HeadStatus::TooLarge:
        rejectHttp(socket, 431, "Request Header Fields Too Large",
                   u"the request head is larger than 16 KiB"_s);
        return;
    case HeadStatus::Invalid:
        rejectHttp(socket, 400, "Bad Request", parsed.error);
        return;
    case HeadStatus::Complete:
        break;
    }
    m_pending.remove(socket);
    disconnect(socket, nullptr, this, nullptr);
    route(socket, parsed.head, false);
}

void Worker::route(QTcpSocket *socket, const HttpRequestHead &head, bool inKernel)
{
    // Every request, whoever serves it, is framed one way (HttpRequestHead::framingError): a head that leaves
    // where its body ends to the reader is answered and the connection closed, so nothing after it is read as
    // another request. QHttpServer would buffer a body of any size (SPEC section 7: 413 over the limit).
    if (const auto refusal = refuseRequestHead(head, m_config.maxMessageSize, m_hub->auth())) {
        m_pending.remove(socket);
        writeHttpError(socket, refusal->status, refusal->reason, refusal->code, refusal->detail);
        return;
    }
    if (m_handler->isSessionRequest(head)) {
        if (!inKernel)
            socket->read(head.headSize); // peeked from the socket's buffer: consume it now
        socket->setParent(nullptr);
        if (!m_handler->startSession(socket, head)) {
            // The session wrote the HTTP error; the socket closes once it is sent, then deletes itself.
            socket->setParent(this);
        }
        return;
    }
    // Everything else is the REST API and the pages, served one request per connection (serveOneShot).
    // One request, however the client sees it: once the answer is out, nothing more is read. A client that
    // ignores "Connection: close" cannot get a second request past the checks above.
    auto answered = std::make_shared<QMetaObject::Connection>();
    *answered = connect(socket, &QTcpSocket::bytesWritten, socket, [socket, answered] {
        if (socket->bytesToWrite() > 0)
            return;
        disconnect(*answered);
        if (qobject_cast<QSslSocket *>(socket))
            socket->disconnectFromHost(); // TLS ends with its own close_notify, after the flush
        else
            closeAfterAnswer(socket);
    });
    new AnswerDeadline(socket, m_config, m_hub->metrics());
    m_handler->serveOneShot(socket);
    // Bytes already in the socket's buffer (peeked there) would not announce themselves again, so announce
    // them once more; bytes still in the kernel do, through the socket's notifier.
    if (!inKernel)
        Q_EMIT socket->readyRead();
}

void Worker::rejectHttp(QTcpSocket *socket, int status, QByteArrayView reason, const QString &detail)
{
    m_pending.remove(socket);
    writeHttpError(socket, status, reason, status == 408 ? ErrorCode::Timeout : ErrorCode::BadRequest,
                   detail);
}

void Worker::closeSession(quint64 sessionId, quint16 closeCode, const QString &reason)
{
    // Queued even from this worker's own thread: the caller holds the hub's workers lock, and a close that
    // ran here could finish the session at once, whose admin event (Hub::dispatch) takes that lock again.
    QMetaObject::invokeMethod(
        this,
        [=, this] {
            if (Subscriber *s = m_sessions.value(sessionId))
                s->close(closeCode, reason);
        },
        Qt::QueuedConnection);
}

void Worker::sessionStarted(Subscriber *session)
{
    m_sessions.insert(session->info().sessionId, session);
    if (!m_heartbeat.isActive())
        m_heartbeat.start();
    if (!m_stallSweep.isActive())
        m_stallSweep.start();
    if (m_config.idleTimeout.count() > 0 && !m_idleCheck.isActive())
        m_idleCheck.start();
}

void Worker::joinEveryone(Subscriber *session)
{
    if (!session->info().isAdmin() && !m_everyone.contains(session))
        m_everyone.append(session);
}

void Worker::subscribeLocal(Subscriber *session, const QString &channel)
{
    QList<Subscriber *> &list = m_channelIndex[channel];
    if (!list.contains(session))
        list.append(session);
}

void Worker::unsubscribeLocal(Subscriber *session, const QString &channel)
{
    auto it = m_channelIndex.find(channel);
    if (it == m_channelIndex.end())
        return;
    removeOne(*it, session);
    if (it->isEmpty())
        m_channelIndex.erase(it);
}

void Worker::addCountsListener(Subscriber *session, bool page)
{
    (page ? m_pageCountsListeners : m_countsListeners).append(session);
}

void Worker::addAdmin(Subscriber *session)
{
    m_admins.append(session);
}

void Worker::sessionClosing(Subscriber *session)
{
    removeOne(m_everyone, session);
    removeOne(m_admins, session);
    removeOne(m_countsListeners, session);
    removeOne(m_pageCountsListeners, session);
    for (const QString &channel : session->info().channels)
        unsubscribeLocal(session, channel);
    unsubscribeLocal(session, clientChannel(session->info().clientId));
    if (session->queuedForFlush) {
        m_dirty.erase(std::remove(m_dirty.begin(), m_dirty.end(), session), m_dirty.end());
        session->queuedForFlush = false;
    }
    m_stalls.remove(session); // GracefulClose bounds a closing session's last writes
}

void Worker::sessionFinished(Subscriber *session)
{
    if (!m_sessions.contains(session->info().sessionId))
        return;
    m_sessions.remove(session->info().sessionId);
    sessionClosing(session);
    if (m_sessions.isEmpty()) {
        m_heartbeat.stop();
        m_stallSweep.stop();
    }
    checkDrained();
}

void Worker::heartbeat()
{
    for (Subscriber *s : std::as_const(m_everyone))
        s->heartbeat();
    flushDirty();
}

void Worker::checkIdle()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const auto sessions = m_sessions; // a session may close itself
    for (Subscriber *s : sessions)
        s->checkIdle(now, m_config.idleTimeout);
    flushDirty();
}

void Worker::sweepStalls()
{
    // Progress is what the client acknowledged, not what was written: a client that does not read closes its
    // window, and then its kernel acknowledges nothing more, however much waits. One that reads slowly moves
    // on, and only --send-buffer limits it. Sessions with nothing waiting are not tracked.
    const qint64 now = steadyMs();
    const auto sessions = m_sessions; // aborting one finishes it
    for (Subscriber *s : sessions) {
        auto *socket = s->socket();
        const auto progress = socket ? tcpProgress(int(socket->socketDescriptor())) : std::nullopt;
        if (!progress || (progress->unacked == 0 && socket->bytesToWrite() == 0)) {
            m_stalls.remove(s);
            continue;
        }
        auto it = m_stalls.find(s);
        if (it == m_stalls.end() || it->first != progress->bytesAcked) {
            m_stalls.insert(s, {progress->bytesAcked, now});
            continue;
        }
        if (now - it->second < m_config.writeTimeout.count())
            continue;
        m_stalls.erase(it);
        Metrics::add(m_hub->metrics().writeTimeouts);
        socket->abort(); // the session finishes on the disconnect
    }
}

void Worker::shutdown()
{
    QMetaObject::invokeMethod(this, [this] {
        m_shuttingDown = true;
        const auto pending = m_pending;
        for (QTcpSocket *socket : pending)
            socket->abort();
        const auto plain = m_plainPending;
        for (PlainConnection *p : plain)
            p->drop();
        const auto sessions = m_sessions;
        for (Subscriber *s : sessions)
            s->close(1001, u"server shutting down"_s);
        flushDirty();
        QTimer::singleShot(m_config.shutdownGrace, this, &Worker::abortAll);
        checkDrained();
    });
}

void Worker::abortAll()
{
    const auto sessions = m_sessions;
    for (Subscriber *s : sessions) {
        if (auto *socket = s->socket())
            socket->abort();
    }
    m_sessions.clear();
    checkDrained();
}

void Worker::checkDrained()
{
    if (m_shuttingDown && m_sessions.isEmpty() && !m_drainedEmitted) {
        m_drainedEmitted = true;
        Q_EMIT drained();
    }
}

} // namespace Herald
