#include "plainconnection.h"

#include "httprequesthead.h"
#include "hub.h"
#include "logging.h"
#include "rawhttp.h"
#include "requesthandler.h"
#include "restrequest.h"
#include "worker.h"

#include <QMutexLocker>
#include <QPointer>
#include <QSocketNotifier>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <chrono>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// Requests answered in a row on one connection, pipelined or arriving as fast as their answers leave, so
// that it cannot hold the thread. Publishes served in a row are delivered as one batch (see bench/README.md:
// yielding after each one cost rate and latency).
constexpr int MaxRequestsPerWake = 32;

bool wouldBlock()
{
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}
} // namespace

qint64 steadyMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// The hot REST routes (RequestHandler::keepAliveRoute) are served here, with keep-alive: the connection reads
// exactly that request's head and body, has the handler answer it (the same code as QHttpServer's route),
// and peeks the next head on the same descriptor. So every head on a reused connection still passes the
// checks below (size, framing, sessions), and an idle keep-alive connection costs no more than a fresh one.
struct PlainConnection::HotRequest
{
    HttpRequestHead head;
    RequestHandler::KeepAliveRoute route;
    QByteArray body;
    qint64 length = 0; // the announced body size
};

PlainConnection::PlainConnection(Worker *worker, int fd)
    : QObject(worker)
    , m_worker(worker)
    , m_fd(fd)
{
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getpeername(fd, reinterpret_cast<sockaddr *>(&address), &length) == 0)
        m_peer = QHostAddress(reinterpret_cast<sockaddr *>(&address));
}

PlainConnection::~PlainConnection() = default;

bool PlainConnection::start()
{
    const ServerConfig &config = m_worker->m_config;
    Hub *hub = m_worker->m_hub;
    if (const int cap = config.connectionsPerIpCap(); cap > 0) {
        if (!hub->acquireAddress(m_peer, cap)) {
            Metrics::add(hub->metrics().connectionsCapped);
            QTcpSocket *socket = takeSocket(false);
            writeHttpError(socket, 429, "Too Many Requests", ErrorCode::RateLimited,
                           u"too many connections from this address (at most %1)"_s.arg(cap));
            return false;
        }
        m_counted = true;
    }
    m_notifier = new QSocketNotifier(m_fd, QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &PlainConnection::sniff);
    // A connection that never completes its request head is dropped, so idle sockets cannot pile up.
    m_deadline = steadyMs() + config.handshakeTimeout.count();
    return true;
}

void PlainConnection::sniff()
{
    for (int i = 0; i < MaxRequestsPerWake && step(); ++i) {
    }
}

bool PlainConnection::step()
{
    if (m_fd < 0 || !m_unsent.isEmpty() || !m_held.isEmpty())
        return false; // gone, or an answer is still being written or held: the next request waits
    if (m_partial)
        return readHotBody();
    Worker &worker = *m_worker;
    QByteArray &buffer = worker.m_peekBuffer;
    if (buffer.size() != MaxHeadSize + 1)
        buffer.resize(MaxHeadSize + 1);
    // The start of the head already read (m_head), then what the kernel holds.
    const qsizetype kept = m_head.size();
    if (kept > 0)
        std::copy(m_head.cbegin(), m_head.cend(), buffer.begin());
    const ssize_t n =
        ::recv(m_fd, buffer.data() + kept, size_t(buffer.size() - kept), MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && !wouldBlock())) {
        drop(); // closed or failed between requests
        return false;
    }
    if (n < 0)
        return false;
    const QByteArrayView peeked(buffer.constData(), kept + n);
    HeadParseResult parsed = parseRequestHead(peeked, MaxHeadSize);
    if (kept > 0 && parsed.status != HeadStatus::Incomplete && !isKeepAliveRequest(parsed)) {
        // Whatever else the head is, it goes the way it went before it was read in pieces: a socket reads it.
        handOverHead();
        return false;
    }
    switch (parsed.status) {
    case HeadStatus::Incomplete:
        if (m_served > 0) {
            // A reused connection: the head must not wait in the kernel. After a run of pipelined requests
            // its first bytes can sit in a large buffer the kernel charges in full, so it announces no
            // window for the rest: peeking would wait forever. All the bytes waiting are this head's, so
            // they are read into m_head, and the connection stays on this engine, kept alive.
            if (kept == 0)
                m_deadline = steadyMs() + worker.m_config.handshakeTimeout.count();
            m_head.append(buffer.constData() + kept, n);
            consume(n);
            return false;
        }
        // The bytes stay in the kernel, so the notifier would fire again at once: look again a little later.
        m_notifier->setEnabled(false);
        QTimer::singleShot(std::chrono::milliseconds(20), this, [this] {
            if (m_notifier)
                m_notifier->setEnabled(true);
        });
        return false;
    case HeadStatus::TooLarge:
        worker.rejectHttp(takeSocket(false), 431, "Request Header Fields Too Large",
                          u"the request head is larger than 16 KiB"_s);
        return false;
    case HeadStatus::Invalid:
        worker.rejectHttp(takeSocket(false), 400, "Bad Request", parsed.error);
        return false;
    case HeadStatus::Complete:
        break;
    }
    HttpRequestHead &head = parsed.head;
    RequestHandler &handler = *worker.m_handler;
    const bool session = handler.isSessionRequest(head);
    RequestHandler::KeepAliveRoute hot =
        session ? RequestHandler::KeepAliveRoute{} : handler.keepAliveRoute(head);
    if (!session && hot.id == 0) {
        // The rest of the REST API and the pages: QHttpServer, one request, then the connection closes.
        worker.route(takeSocket(false), head, true);
        return false;
    }
    const ServerConfig &config = worker.m_config;
    if (!session) {
        // The same check route() makes for the rest.
        if (const auto refusal = refuseRequestHead(head, config.maxMessageSize, worker.m_hub->auth())) {
            writeHttpError(takeSocket(false), refusal->status, refusal->reason, refusal->code,
                           refusal->detail);
            return false;
        }
    }
    // Consume the head from the kernel, and of a hot request the part of its body already peeked; what
    // follows (a session's pipelined first frame, the next request) stays there.
    auto request = session ? nullptr : std::make_unique<HotRequest>();
    qsizetype take = head.headSize - kept;
    if (request) {
        request->length = std::max<qint64>(0, head.contentLength());
        request->body = peeked.sliced(head.headSize)
                            .first(std::min<qsizetype>(request->length, peeked.size() - head.headSize))
                            .toByteArray();
        take += request->body.size();
    }
    if (kept > 0)
        m_head = QByteArray(); // no buffer kept while idle
    if (!consume(take))
        return false;
    if (session) {
        worker.route(takeSocket(true), head, true);
        return false;
    }
    request->head = std::move(head);
    request->route = std::move(hot);
    if (request->body.size() < request->length) {
        // The rest of the body is on its way: read it as it comes, within the head's time limit.
        const bool expects =
            request->head.versionMinor >= 1 && request->head.hasToken("expect", "100-continue");
        m_partial = std::move(request);
        if (expects)
            send("HTTP/1.1 100 Continue\r\n\r\n");
        m_deadline = steadyMs() + config.bodyTimeout.count();
        return false;
    }
    return serveHot(*request);
}

bool PlainConnection::consume(qsizetype bytes)
{
    QByteArray &buffer = m_worker->m_peekBuffer; // only a place to put them: they were peeked already
    qsizetype consumed = 0;
    while (consumed < bytes) {
        const ssize_t r = ::recv(m_fd, buffer.data(), size_t(bytes - consumed), MSG_DONTWAIT);
        if (r <= 0 && !(r < 0 && errno == EINTR)) {
            drop();
            return false;
        }
        if (r > 0)
            consumed += r;
    }
    return true;
}

bool PlainConnection::isKeepAliveRequest(const HeadParseResult &parsed) const
{
    const RequestHandler &handler = *m_worker->m_handler;
    return parsed.status == HeadStatus::Complete && !handler.isSessionRequest(parsed.head) &&
           handler.keepAliveRoute(parsed.head).id != 0;
}

void PlainConnection::handOverHead()
{
    const QByteArray head = std::exchange(m_head, QByteArray());
    QTcpSocket *socket = takeSocket(false);
    // The socket reads the rest from the kernel after these bytes, as if it had read them all.
    for (qsizetype i = head.size(); i-- > 0;)
        socket->ungetChar(head.at(i));
    m_worker->watchHead(socket);
}

bool PlainConnection::readHotBody()
{
    HotRequest &request = *m_partial;
    const qsizetype have = request.body.size();
    request.body.resize(request.length);
    const ssize_t r = ::recv(m_fd, request.body.data() + have, size_t(request.length - have), MSG_DONTWAIT);
    request.body.resize(have + std::max<ssize_t>(r, 0));
    if (r == 0 || (r < 0 && !wouldBlock())) {
        drop(); // the client went away mid-body: nobody to answer
        return false;
    }
    if (request.body.size() < request.length)
        return false;
    const std::unique_ptr<HotRequest> complete = std::move(m_partial);
    return serveHot(*complete);
}

bool PlainConnection::serveHot(HotRequest &request)
{
    Worker &worker = *m_worker;
    const ServerConfig &config = worker.m_config;
    Hub *hub = worker.m_hub;
    const HttpRequestHead &head = request.head;
    RestRequest rest;
    rest.method = head.method;
    rest.path = head.path;
    // As QHttpServer reads the query for its routes: QUrlQuery(QUrl), '+' kept.
    rest.query = QUrlQuery(QUrl::fromEncoded(head.target));
    rest.headers = head.headers;
    rest.body = std::move(request.body);
    rest.peer = m_peer;
    const bool keepAlive = head.keepAlive() && !worker.m_shuttingDown;
    // The answer may wait: for the group commit that stores a publish (keep-alive only: the answer is held
    // on this connection while it serves nothing else) and, with --publish-window, for its fan-out.
    auto watch = std::make_shared<FanoutWatch>();
    // Under a publish flood the answer waits for the fan-out whatever the window (maxQueuedMessages).
    const int window = config.publishWindow > 0                           ? config.publishWindow
                       : hub->queuedMessages() > config.maxQueuedMessages ? 1
                                                                          : 0;
    const PublishOptions options{watch, window > 0, keepAlive ? &worker : nullptr};
    const RestResponse response = worker.m_handler->serveKeepAlive(request.route, rest, options);
    ++m_served;
    const QByteArray bytes = serializeResponse(response, keepAlive, keepAliveSeconds());
    if (!keepAlive) {
        watch->release();
        writeAndClose(takeSocket(false), bytes);
        return false;
    }
    m_deadline = steadyMs() + config.keepAliveTimeout.count();
    if (!watch->used && !watch->deferred) {
        watch->release();
        return send(bytes);
    }
    // --publish-window: with that many publishes of this connection not yet written by every worker, this
    // answer waits for the oldest. A publisher that waits for its answers then never has more than that many
    // messages queued ahead of the subscribers: each message's latency is its own fan-out, not the queue's,
    // and a publish flood cannot outgrow the workers. Other connections are not held. A publish in a group
    // commit is answered once committed (202, or 503 if the commit failed), and no earlier.
    ++m_fanningOut;
    const bool deferred = watch->deferred;
    watch->written = [bell = worker.m_doorbell,
                      guard = QPointer<PlainConnection>(this)](const FanoutWatch &done) {
        const std::optional<StoreError> failure = done.failure;
        Worker *w = nullptr;
        {
            QMutexLocker lock(&bell->mutex);
            w = bell->worker;
            if (w && QThread::currentThread() != w->thread()) {
                QMetaObject::invokeMethod(
                    w,
                    [guard, failure] {
                        if (guard)
                            guard->fannedOut(failure);
                    },
                    Qt::QueuedConnection);
                return;
            }
        }
        // The last release came on this connection's own thread (its worker's write, or a group commit it
        // flushed): no need to go round the event loop.
        if (w && guard)
            guard->fannedOut(failure);
    };
    if (deferred || (watch->used && m_fanningOut >= window)) {
        // Held before the release: what it waits for may be done already, and then the release answers.
        m_held = bytes;
        m_notifier->setEnabled(false);
        watch->release();
        return false;
    }
    watch->release();
    return send(bytes);
}

int PlainConnection::keepAliveSeconds() const
{
    return int(std::chrono::ceil<std::chrono::seconds>(m_worker->m_config.keepAliveTimeout).count());
}

void PlainConnection::fannedOut(const std::optional<StoreError> &failure)
{
    --m_fanningOut;
    if (m_fd < 0 || m_held.isEmpty())
        return;
    // Only a group commit fails, and its answer is the one held: nothing after it was read meanwhile.
    if (failure)
        m_held = serializeResponse(m_worker->m_handler->storeFailure(*failure), true, keepAliveSeconds());
    if (m_fanningOut >= std::max(m_worker->m_config.publishWindow, 1))
        return;
    const QByteArray bytes = std::exchange(m_held, QByteArray());
    m_notifier->setEnabled(true);
    if (send(bytes))
        sniff(); // the next request may be waiting already
}

bool PlainConnection::send(QByteArrayView bytes)
{
    if (m_unsent.isEmpty()) {
        const ssize_t n = ::send(m_fd, bytes.data(), size_t(bytes.size()), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n == bytes.size())
            return true;
        if (n < 0 && !wouldBlock()) {
            drop(); // reset by the client
            return false;
        }
        bytes = bytes.sliced(std::max<ssize_t>(n, 0));
    }
    m_unsent += bytes;
    // Nothing more is read until the answer is out: a client that pipelines without reading gets no further.
    m_notifier->setEnabled(false);
    if (!m_writeNotifier) {
        m_writeNotifier = new QSocketNotifier(m_fd, QSocketNotifier::Write, this);
        connect(m_writeNotifier, &QSocketNotifier::activated, this, &PlainConnection::flush);
    }
    // From now on the deadline is the answer's: it must keep leaving (flush moves it on each write).
    m_deadline = steadyMs() + m_worker->m_config.writeTimeout.count();
    return false;
}

void PlainConnection::flush()
{
    const ServerConfig &config = m_worker->m_config;
    const ssize_t n =
        ::send(m_fd, m_unsent.constData(), size_t(m_unsent.size()), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && !wouldBlock()) {
        drop();
        return;
    }
    m_unsent.remove(0, std::max<ssize_t>(n, 0));
    if (!m_unsent.isEmpty()) {
        if (n > 0)
            m_deadline = steadyMs() + config.writeTimeout.count(); // read slowly, not stalled
        return;
    }
    m_unsent = QByteArray(); // no buffer kept while idle
    // Sent: the wait for the rest of a body (after a 100 Continue) or for the next request starts now.
    m_deadline = steadyMs() + (m_partial ? config.bodyTimeout : config.keepAliveTimeout).count();
    // Deleted from inside its own signal: QSocketNotifier checks that it is still alive after emitting.
    delete m_writeNotifier;
    m_writeNotifier = nullptr;
    m_notifier->setEnabled(true);
    sniff(); // requests that arrived meanwhile are already in the kernel
}

void PlainConnection::expire(qint64 now)
{
    const ServerConfig &config = m_worker->m_config;
    Metrics &metrics = m_worker->m_hub->metrics();
    if (!m_held.isEmpty()) {
        // Its answer waits for a fan-out, which always ends: not the client's delay.
        m_deadline = now + config.keepAliveTimeout.count();
        return;
    }
    char byte = 0;
    const bool idle = m_served > 0 && !m_partial && m_unsent.isEmpty() && m_head.isEmpty() &&
                      ::recv(m_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && wouldBlock();
    if (idle || !m_unsent.isEmpty()) {
        // An idle keep-alive connection closes quietly; one whose client does not read its answers, too.
        if (!idle)
            Metrics::add(metrics.writeTimeouts);
        drop();
        return;
    }
    const bool body = bool(m_partial);
    Metrics::add(body ? metrics.bodyTimeouts : metrics.headTimeouts);
    m_worker->rejectHttp(takeSocket(false), 408, "Request Timeout",
                         body ? u"request body not received in time"_s
                              : u"request head not received in time"_s);
}

QTcpSocket *PlainConnection::takeSocket(bool unbuffered)
{
    m_worker->m_plainPending.remove(this);
    // The notifiers go first: two notifiers on one descriptor confuse the event dispatcher.
    delete m_notifier;
    m_notifier = nullptr;
    delete m_writeNotifier;
    m_writeNotifier = nullptr;
    auto *socket = new QTcpSocket(m_worker);
    const QIODevice::OpenMode mode =
        unbuffered ? QIODevice::ReadWrite | QIODevice::Unbuffered : QIODevice::ReadWrite;
    if (!socket->setSocketDescriptor(m_fd, QAbstractSocket::ConnectedState, mode))
        qCWarning(lcServer) << "cannot adopt connection:" << socket->errorString();
    if (m_counted) {
        Hub *hub = m_worker->m_hub;
        const QHostAddress peer = m_peer;
        connect(socket, &QObject::destroyed, [hub, peer] { hub->releaseAddress(peer); });
    }
    m_fd = -1;
    deleteLater();
    return socket;
}

void PlainConnection::drop()
{
    m_worker->m_plainPending.remove(this);
    if (m_counted)
        m_worker->m_hub->releaseAddress(m_peer);
    m_counted = false;
    delete m_notifier;
    m_notifier = nullptr;
    delete m_writeNotifier;
    m_writeNotifier = nullptr;
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = -1;
    deleteLater();
}

} // namespace Herald
