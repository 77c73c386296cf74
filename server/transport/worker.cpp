#include "worker.h"

#include "channelname.h"
#include "httpapi.h"
#include "httpjson.h"
#include "httprequesthead.h"
#include "hub.h"
#include "listener.h"
#include "logging.h"
#include "modelapi.h"
#include "rawhttp.h"
#include "restrequest.h"
#include "session.h"
#include "ssesession.h"
#include "store.h"
#include "tcpprogress.h"
#include "wssession.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QHttpServer>
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

#include <cerrno>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
constexpr qsizetype MaxHeadSize = 16 * 1024;
// Requests answered in a row on one connection, pipelined or arriving as fast as their answers leave, so
// that it cannot hold the thread. Publishes served in a row are delivered as one batch (see bench/README.md:
// yielding after each one cost rate and latency).
constexpr int MaxRequestsPerWake = 32;

qint64 steadyMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

bool wouldBlock()
{
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

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
        writeHttpError(m_socket, 408, "Request Timeout", u"timeout"_s,
                       u"request body not received in time"_s);
        m_timer.start(m_writeTimeout);
    }

    QTcpSocket *m_socket;
    std::chrono::milliseconds m_writeTimeout;
    Metrics &m_metrics;
    QTimer m_timer;
    bool m_answering = false;
};

void removeOne(QList<Session *> &list, Session *s)
{
    const qsizetype i = list.indexOf(s);
    if (i < 0)
        return;
    // Order among recipients does not matter: swap with the last and drop, O(1) after the search.
    list.swapItemsAt(i, list.size() - 1);
    list.removeLast();
}
} // namespace

Worker::Worker(Hub *hub, const ServerConfig &config, QMutex *modelMutex, int index)
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
    // Children: they move to the worker's thread with it.
    m_http = new QHttpServer(this);
    m_httpIntake = new HttpIntake(this);
    m_api = new HttpApi(m_hub, m_config, m_http, this);
    new ModelApi(m_hub, m_config, m_http, m_api, modelMutex, this);
    m_httpIntake->bindTo(m_http);
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
    for (Session *s : sessions)
        s->abandon();
    qDeleteAll(sessions);
    const auto plain = m_plainPending;
    for (PendingPlain *p : plain)
        dropPlain(p);
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
    auto sendAll = [&](const QList<Session *> list) {
        for (Session *s : list)
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

void Worker::markDirty(Session *session)
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
    std::vector<Session *> dirty;
    dirty.swap(m_dirty);
    for (Session *s : dirty) {
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
                writeHttpError(socket, 429, "Too Many Requests", u"rate_limited"_s,
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
// most of what a buffered one costs (issue 8: under 10 KiB per idle connection).
//
// The hot REST routes (HttpApi::hotRoute) are served here instead, with keep-alive: the worker reads exactly
// that request's head and body, answers through the same HttpApi handler as QHttpServer's route, and peeks
// the next head on the same descriptor. So every head on a reused connection still passes the checks below
// (size, framing, sessions), and an idle keep-alive connection costs no more than a fresh one.
struct Worker::HotRequest
{
    HttpRequestHead head;
    HttpApi::HotRoute route;
    QByteArray body;
    qint64 length = 0; // the announced body size
};

Worker::PendingPlain::PendingPlain(QObject *parent)
    : QObject(parent)
{}

Worker::PendingPlain::~PendingPlain() = default;

void Worker::adoptPlain(qintptr descriptor)
{
    const int fd = int(descriptor);
    if (m_shuttingDown) {
        ::close(fd);
        return;
    }
    auto *pending = new PendingPlain(this);
    pending->fd = fd;
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getpeername(fd, reinterpret_cast<sockaddr *>(&address), &length) == 0)
        pending->peer = QHostAddress(reinterpret_cast<sockaddr *>(&address));
    m_plainPending.insert(pending);
    if (const int cap = m_config.connectionsPerIpCap(); cap > 0) {
        if (!m_hub->acquireAddress(pending->peer, cap)) {
            Metrics::add(m_hub->metrics().connectionsCapped);
            QTcpSocket *socket = takePlain(pending, false);
            writeHttpError(socket, 429, "Too Many Requests", u"rate_limited"_s,
                           u"too many connections from this address (at most %1)"_s.arg(cap));
            return;
        }
        pending->counted = true;
    }
    pending->notifier = new QSocketNotifier(descriptor, QSocketNotifier::Read, pending);
    connect(pending->notifier, &QSocketNotifier::activated, pending,
            [this, pending] { sniffPlain(pending); });
    // A connection that never completes its request head is dropped, so idle sockets cannot pile up.
    pending->deadline = steadyMs() + m_config.handshakeTimeout.count();
    if (!m_plainSweep.isActive())
        m_plainSweep.start();
}

void Worker::sniffPlain(PendingPlain *pending)
{
    for (int i = 0; i < MaxRequestsPerWake && stepPlain(pending); ++i) {
    }
}

bool Worker::stepPlain(PendingPlain *pending)
{
    if (pending->fd < 0 || !pending->unsent.isEmpty() || !pending->held.isEmpty())
        return false; // gone, or an answer is still being written or held: the next request waits
    if (pending->partial)
        return readHotBody(pending);
    if (m_peekBuffer.size() != MaxHeadSize + 1)
        m_peekBuffer.resize(MaxHeadSize + 1);
    const ssize_t n =
        ::recv(pending->fd, m_peekBuffer.data(), size_t(m_peekBuffer.size()), MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && !wouldBlock())) {
        dropPlain(pending); // closed or failed between requests
        return false;
    }
    if (n < 0)
        return false;
    const QByteArrayView peeked(m_peekBuffer.constData(), n);
    HeadParseResult parsed = parseRequestHead(peeked, MaxHeadSize);
    switch (parsed.status) {
    case HeadStatus::Incomplete:
        if (pending->served > 0) {
            // A reused connection: the head must not wait in the kernel. After a run of pipelined requests
            // its first bytes can sit in a large buffer the kernel charges in full, so it announces no
            // window for the rest: peeking would wait forever. All the bytes waiting are this head's, so a
            // socket may read them; the request then goes the way of every head a socket reads (sniff).
            QTcpSocket *socket = takePlain(pending, false);
            watchHead(socket);
            return false;
        }
        // The bytes stay in the kernel, so the notifier would fire again at once: look again a little later.
        pending->notifier->setEnabled(false);
        QTimer::singleShot(std::chrono::milliseconds(20), pending, [pending] {
            if (pending->notifier)
                pending->notifier->setEnabled(true);
        });
        return false;
    case HeadStatus::TooLarge: {
        QTcpSocket *socket = takePlain(pending, false);
        rejectHttp(socket, 431, "Request Header Fields Too Large",
                   u"the request head is larger than 16 KiB"_s);
        return false;
    }
    case HeadStatus::Invalid: {
        QTcpSocket *socket = takePlain(pending, false);
        rejectHttp(socket, 400, "Bad Request", parsed.error);
        return false;
    }
    case HeadStatus::Complete:
        break;
    }
    HttpRequestHead &head = parsed.head;
    const bool session = isSessionRequest(head);
    const HttpApi::HotRoute hot = session ? HttpApi::HotRoute{} : HttpApi::hotRoute(head);
    if (!session && hot.kind == HttpApi::HotRoute::Kind::None) {
        // The rest of the REST API and the pages: QHttpServer, one request, then the connection closes.
        route(takePlain(pending, false), head, true);
        return false;
    }
    if (!session) {
        // The same check route() makes for the rest.
        if (const auto refusal = refuseRequestHead(head, m_config.maxMessageSize, m_hub->auth())) {
            writeHttpError(takePlain(pending, false), refusal->status, refusal->reason, refusal->code,
                           refusal->detail);
            return false;
        }
    }
    // Consume the head from the kernel, and of a hot request the part of its body already peeked; what
    // follows (a session's pipelined first frame, the next request) stays there.
    auto request = session ? nullptr : std::make_unique<HotRequest>();
    qsizetype take = head.headSize;
    if (request) {
        request->length = std::max<qint64>(0, head.contentLength());
        request->body = peeked.sliced(head.headSize)
                            .first(std::min<qsizetype>(request->length, n - head.headSize))
                            .toByteArray();
        take += request->body.size();
    }
    qsizetype consumed = 0;
    while (consumed < take) {
        const ssize_t r = ::recv(pending->fd, m_peekBuffer.data(), size_t(take - consumed), MSG_DONTWAIT);
        if (r <= 0 && !(r < 0 && errno == EINTR)) {
            dropPlain(pending);
            return false;
        }
        if (r > 0)
            consumed += r;
    }
    if (session) {
        route(takePlain(pending, true), head, true);
        return false;
    }
    request->head = std::move(head);
    request->route = hot;
    if (request->body.size() < request->length) {
        // The rest of the body is on its way: read it as it comes, within the head's time limit.
        const bool expects =
            request->head.versionMinor >= 1 && request->head.hasToken("expect", "100-continue");
        pending->partial = std::move(request);
        if (expects)
            sendPlain(pending, "HTTP/1.1 100 Continue\r\n\r\n");
        pending->deadline = steadyMs() + m_config.bodyTimeout.count();
        return false;
    }
    return serveHot(pending, *request);
}

bool Worker::readHotBody(PendingPlain *pending)
{
    HotRequest &request = *pending->partial;
    const qsizetype have = request.body.size();
    request.body.resize(request.length);
    const ssize_t r =
        ::recv(pending->fd, request.body.data() + have, size_t(request.length - have), MSG_DONTWAIT);
    request.body.resize(have + std::max<ssize_t>(r, 0));
    if (r == 0 || (r < 0 && !wouldBlock())) {
        dropPlain(pending); // the client went away mid-body: nobody to answer
        return false;
    }
    if (request.body.size() < request.length)
        return false;
    const std::unique_ptr<HotRequest> complete = std::move(pending->partial);
    return serveHot(pending, *complete);
}

bool Worker::serveHot(PendingPlain *pending, HotRequest &request)
{
    const HttpRequestHead &head = request.head;
    RestRequest rest;
    rest.method = head.method;
    rest.path = head.path;
    // As QHttpServer reads the query for its routes: QUrlQuery(QUrl), '+' kept.
    rest.query = QUrlQuery(QUrl::fromEncoded(head.target));
    rest.headers = head.headers;
    rest.body = std::move(request.body);
    rest.peer = pending->peer;
    const bool keepAlive = head.keepAlive() && !m_shuttingDown;
    // The answer may wait: for the group commit that stores a publish (keep-alive only: the answer is held
    // on this connection while it serves nothing else) and, with --publish-window, for its fan-out.
    auto watch = std::make_shared<FanoutWatch>();
    // Under a publish flood the answer waits for the fan-out whatever the window (maxQueuedMessages).
    const int window = m_config.publishWindow > 0                             ? m_config.publishWindow
                       : m_hub->queuedMessages() > m_config.maxQueuedMessages ? 1
                                                                              : 0;
    RestResponse response;
    {
        const Hub::PublishScope scope(watch, window > 0, keepAlive ? this : nullptr);
        response = m_api->serveHot(request.route, rest);
    }
    ++pending->served;
    const QByteArray bytes = serializeResponse(response, keepAlive, keepAliveSeconds());
    if (!keepAlive) {
        watch->release();
        writeAndClose(takePlain(pending, false), bytes);
        return false;
    }
    pending->deadline = steadyMs() + m_config.keepAliveTimeout.count();
    if (!watch->used && !watch->deferred) {
        watch->release();
        return sendPlain(pending, bytes);
    }
    // --publish-window: with that many publishes of this connection not yet written by every worker, this
    // answer waits for the oldest. A publisher that waits for its answers then never has more than that many
    // messages queued ahead of the subscribers: each message's latency is its own fan-out, not the queue's,
    // and a publish flood cannot outgrow the workers. Other connections are not held. A publish in a group
    // commit is answered once committed (202, or 503 if the commit failed), and no earlier.
    ++pending->fanningOut;
    const bool deferred = watch->deferred;
    watch->written = [bell = m_doorbell, guard = QPointer<PendingPlain>(pending)](const FanoutWatch &done) {
        const std::optional<StoreError> failure = done.failure;
        Worker *w = nullptr;
        {
            QMutexLocker lock(&bell->mutex);
            w = bell->worker;
            if (w && QThread::currentThread() != w->thread()) {
                QMetaObject::invokeMethod(
                    w,
                    [w, guard, failure] {
                        if (guard)
                            w->fannedOut(guard.data(), failure);
                    },
                    Qt::QueuedConnection);
                return;
            }
        }
        // The last release came on this connection's own thread (its worker's write, or a group commit it
        // flushed): no need to go round the event loop.
        if (w && guard)
            w->fannedOut(guard.data(), failure);
    };
    if (deferred || (watch->used && pending->fanningOut >= window)) {
        // Held before the release: what it waits for may be done already, and then the release answers.
        pending->held = bytes;
        pending->notifier->setEnabled(false);
        watch->release();
        return false;
    }
    watch->release();
    return sendPlain(pending, bytes);
}

int Worker::keepAliveSeconds() const
{
    return int(std::chrono::ceil<std::chrono::seconds>(m_config.keepAliveTimeout).count());
}

void Worker::fannedOut(PendingPlain *pending, const std::optional<StoreError> &failure)
{
    --pending->fanningOut;
    if (pending->fd < 0 || pending->held.isEmpty())
        return;
    // Only a group commit fails, and its answer is the one held: nothing after it was read meanwhile.
    if (failure)
        pending->held = serializeResponse(restStoreError(*failure), true, keepAliveSeconds());
    if (pending->fanningOut >= std::max(m_config.publishWindow, 1))
        return;
    const QByteArray bytes = std::exchange(pending->held, QByteArray());
    pending->notifier->setEnabled(true);
    if (sendPlain(pending, bytes))
        sniffPlain(pending); // the next request may be waiting already
}

bool Worker::sendPlain(PendingPlain *pending, QByteArrayView bytes)
{
    if (pending->unsent.isEmpty()) {
        const ssize_t n =
            ::send(pending->fd, bytes.data(), size_t(bytes.size()), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n == bytes.size())
            return true;
        if (n < 0 && !wouldBlock()) {
            dropPlain(pending); // reset by the client
            return false;
        }
        bytes = bytes.sliced(std::max<ssize_t>(n, 0));
    }
    pending->unsent += bytes;
    // Nothing more is read until the answer is out: a client that pipelines without reading gets no further.
    pending->notifier->setEnabled(false);
    if (!pending->writeNotifier) {
        pending->writeNotifier = new QSocketNotifier(pending->fd, QSocketNotifier::Write, pending);
        connect(pending->writeNotifier, &QSocketNotifier::activated, pending,
                [this, pending] { flushPlain(pending); });
    }
    // From now on the deadline is the answer's: it must keep leaving (flushPlain moves it on each write).
    pending->deadline = steadyMs() + m_config.writeTimeout.count();
    return false;
}

void Worker::flushPlain(PendingPlain *pending)
{
    const ssize_t n = ::send(pending->fd, pending->unsent.constData(), size_t(pending->unsent.size()),
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && !wouldBlock()) {
        dropPlain(pending);
        return;
    }
    pending->unsent.remove(0, std::max<ssize_t>(n, 0));
    if (!pending->unsent.isEmpty()) {
        if (n > 0)
            pending->deadline = steadyMs() + m_config.writeTimeout.count(); // read slowly, not stalled
        return;
    }
    pending->unsent = QByteArray(); // no buffer kept while idle
    // Sent: the wait for the rest of a body (after a 100 Continue) or for the next request starts now.
    pending->deadline =
        steadyMs() + (pending->partial ? m_config.bodyTimeout : m_config.keepAliveTimeout).count();
    // Deleted from inside its own signal: QSocketNotifier checks that it is still alive after emitting.
    delete pending->writeNotifier;
    pending->writeNotifier = nullptr;
    pending->notifier->setEnabled(true);
    sniffPlain(pending); // requests that arrived meanwhile are already in the kernel
}

void Worker::sweepPlain()
{
    const qint64 now = steadyMs();
    const auto plain = m_plainPending; // expiring removes from it
    for (PendingPlain *pending : plain) {
        if (pending->deadline > now)
            continue;
        if (!pending->held.isEmpty()) {
            // Its answer waits for a fan-out, which always ends: not the client's delay.
            pending->deadline = now + m_config.keepAliveTimeout.count();
            continue;
        }
        char byte = 0;
        const bool idle = pending->served > 0 && !pending->partial && pending->unsent.isEmpty() &&
                          ::recv(pending->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && wouldBlock();
        if (idle || !pending->unsent.isEmpty()) {
            // An idle keep-alive connection closes quietly; one whose client does not read its answers, too.
            if (!idle)
                Metrics::add(m_hub->metrics().writeTimeouts);
            dropPlain(pending);
            continue;
        }
        const bool body = bool(pending->partial);
        Metrics::add(body ? m_hub->metrics().bodyTimeouts : m_hub->metrics().headTimeouts);
        QTcpSocket *socket = takePlain(pending, false);
        rejectHttp(socket, 408, "Request Timeout",
                   body ? u"request body not received in time"_s : u"request head not received in time"_s);
    }
    if (m_plainPending.isEmpty())
        m_plainSweep.stop();
}

QTcpSocket *Worker::takePlain(PendingPlain *pending, bool unbuffered)
{
    m_plainPending.remove(pending);
    // The notifiers go first: two notifiers on one descriptor confuse the event dispatcher.
    delete pending->notifier;
    pending->notifier = nullptr;
    delete pending->writeNotifier;
    pending->writeNotifier = nullptr;
    auto *socket = new QTcpSocket(this);
    const QIODevice::OpenMode mode =
        unbuffered ? QIODevice::ReadWrite | QIODevice::Unbuffered : QIODevice::ReadWrite;
    if (!socket->setSocketDescriptor(pending->fd, QAbstractSocket::ConnectedState, mode))
        qCWarning(lcServer) << "cannot adopt connection:" << socket->errorString();
    if (pending->counted) {
        Hub *hub = m_hub;
        const QHostAddress peer = pending->peer;
        connect(socket, &QObject::destroyed, [hub, peer] { hub->releaseAddress(peer); });
    }
    pending->fd = -1;
    pending->deleteLater();
    return socket;
}

void Worker::dropPlain(PendingPlain *pending)
{
    m_plainPending.remove(pending);
    if (pending->counted)
        m_hub->releaseAddress(pending->peer);
    pending->counted = false;
    delete pending->notifier;
    pending->notifier = nullptr;
    delete pending->writeNotifier;
    pending->writeNotifier = nullptr;
    if (pending->fd >= 0)
        ::close(pending->fd);
    pending->fd = -1;
    pending->deleteLater();
}

bool Worker::isSessionRequest(const HttpRequestHead &head)
{
    const QString &path = head.path;
    const bool wsPath = path == u"/ws"_s || path.startsWith(u"/ws/"_s);
    const bool ssePath = path == u"/events"_s || path.startsWith(u"/events/"_s);
    return (wsPath && head.isWebSocketUpgrade()) || (ssePath && head.method == "GET");
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
    const bool wsPath = head.path == u"/ws"_s || head.path.startsWith(u"/ws/"_s);
    // Every request, whoever serves it, is framed one way (HttpRequestHead::framingError): a head that leaves
    // where its body ends to the reader is answered and the connection closed, so nothing after it is read as
    // another request. QHttpServer would buffer a body of any size (SPEC section 7: 413 over the limit).
    if (const auto refusal = refuseRequestHead(head, m_config.maxMessageSize, m_hub->auth())) {
        m_pending.remove(socket);
        writeHttpError(socket, refusal->status, refusal->reason, refusal->code, refusal->detail);
        return;
    }
    if (isSessionRequest(head)) {
        if (!inKernel)
            socket->read(head.headSize); // peeked from the socket's buffer: consume it now
        socket->setParent(nullptr);
        Session *session = wsPath ? static_cast<Session *>(WsSession::create(this, socket, head))
                                  : static_cast<Session *>(SseSession::create(this, socket, head));
        if (!session) {
            // The session wrote the HTTP error; the socket closes once it is sent, then deletes itself.
            socket->setParent(this);
        }
        return;
    }
    // Everything else is the REST API and the pages: this worker's QHttpServer takes it over.
    // QHttpServer (6.4) picks sockets up on pendingConnectionAvailable, which addPendingConnection emits,
    // then waits for readyRead; the request is already buffered (it was only peeked), so announce it once
    // more. It deletes a socket once it disconnects; the intake owns one still open when the worker goes.
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
    socket->setParent(m_httpIntake);
    m_httpIntake->take(socket);
    // Bytes already in the socket's buffer (peeked there) would not announce themselves again; bytes still in
    // the kernel do, through the socket's notifier.
    if (!inKernel)
        Q_EMIT socket->readyRead();
}

void Worker::rejectHttp(QTcpSocket *socket, int status, QByteArrayView reason, const QString &detail)
{
    m_pending.remove(socket);
    writeHttpError(socket, status, reason, status == 408 ? u"timeout"_s : u"bad_request"_s, detail);
}

void Worker::closeSession(quint64 sessionId, quint16 closeCode, const QString &reason)
{
    // Queued even from this worker's own thread: the caller holds the hub's workers lock, and a close that
    // ran here could finish the session at once, whose admin event (Hub::dispatch) takes that lock again.
    QMetaObject::invokeMethod(
        this,
        [=, this] {
            if (Session *s = m_sessions.value(sessionId))
                s->close(closeCode, reason);
        },
        Qt::QueuedConnection);
}

void Worker::sessionStarted(Session *session)
{
    m_sessions.insert(session->sessionId(), session);
    if (!m_heartbeat.isActive())
        m_heartbeat.start();
    if (!m_stallSweep.isActive())
        m_stallSweep.start();
    if (m_config.idleTimeout.count() > 0 && !m_idleCheck.isActive())
        m_idleCheck.start();
}

void Worker::joinEveryone(Session *session)
{
    if (!session->isAdmin() && !m_everyone.contains(session))
        m_everyone.append(session);
}

void Worker::subscribeLocal(Session *session, const QString &channel)
{
    QList<Session *> &list = m_channelIndex[channel];
    if (!list.contains(session))
        list.append(session);
}

void Worker::unsubscribeLocal(Session *session, const QString &channel)
{
    auto it = m_channelIndex.find(channel);
    if (it == m_channelIndex.end())
        return;
    removeOne(*it, session);
    if (it->isEmpty())
        m_channelIndex.erase(it);
}

void Worker::addCountsListener(Session *session, bool page)
{
    (page ? m_pageCountsListeners : m_countsListeners).append(session);
}

void Worker::addAdmin(Session *session)
{
    m_admins.append(session);
}

void Worker::sessionClosing(Session *session)
{
    removeOne(m_everyone, session);
    removeOne(m_admins, session);
    removeOne(m_countsListeners, session);
    removeOne(m_pageCountsListeners, session);
    for (const QString &channel : session->info().channels)
        unsubscribeLocal(session, channel);
    unsubscribeLocal(session, clientChannel(session->clientId()));
    if (session->queuedForFlush) {
        m_dirty.erase(std::remove(m_dirty.begin(), m_dirty.end(), session), m_dirty.end());
        session->queuedForFlush = false;
    }
    m_stalls.remove(session); // GracefulClose bounds a closing session's last writes
}

void Worker::sessionFinished(Session *session)
{
    if (!m_sessions.contains(session->sessionId()))
        return;
    m_sessions.remove(session->sessionId());
    sessionClosing(session);
    if (m_sessions.isEmpty()) {
        m_heartbeat.stop();
        m_stallSweep.stop();
    }
    checkDrained();
}

void Worker::heartbeat()
{
    for (Session *s : std::as_const(m_everyone))
        s->heartbeat();
    flushDirty();
}

void Worker::checkIdle()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const auto sessions = m_sessions; // a session may close itself
    for (Session *s : sessions)
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
    for (Session *s : sessions) {
        auto *socket = s->findChild<QTcpSocket *>();
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
        for (PendingPlain *p : plain)
            dropPlain(p);
        const auto sessions = m_sessions;
        for (Session *s : sessions)
            s->close(1001, u"server shutting down"_s);
        flushDirty();
        QTimer::singleShot(m_config.shutdownGrace, this, &Worker::abortAll);
        checkDrained();
    });
}

void Worker::abortAll()
{
    const auto sessions = m_sessions;
    for (Session *s : sessions) {
        if (auto *socket = s->findChild<QTcpSocket *>())
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
