#include "session.h"

#include "channelname.h"
#include "envelope.h"
#include "errorcode.h"
#include "expirytimer.h"
#include "httprequesthead.h"
#include "rawhttp.h"
#include "worker.h"
#include "wsframe.h"

#include <QTcpSocket>
#include <QTimer>

#include <utility>

using namespace Qt::StringLiterals;

namespace Herald {

Session::Session(Worker *worker, QTcpSocket *socket, ClientInfo info)
    : QObject(worker) // the worker's thread owns it; deleting the worker deletes its sessions
    , m_worker(worker)
    , m_socket(socket)
    , m_info(std::move(info))
{
    m_socket->setParent(this);
    connect(m_socket, &QTcpSocket::disconnected, this, &Session::finish);
}

Session::~Session() = default;

QTcpSocket *Session::socket() const
{
    return findChild<QTcpSocket *>();
}

std::optional<Identity> Session::identifyHandshake(Hub *hub, QTcpSocket *socket, const HttpRequestHead &head,
                                                   bool anonymousOk)
{
    const AuthPolicy &auth = hub->auth();
    if (!auth.originAllowed(head.header("origin"), head.header("host"))) {
        Metrics::add(hub->metrics().refusedOrigin);
        writeHttpError(socket, 403, "Forbidden", ErrorCode::Forbidden, u"origin not allowed"_s);
        return std::nullopt;
    }
    // The same order as REST (HttpGuard): the Authorization header, then ?token= (browsers cannot set
    // headers).
    QByteArray token = bearerToken(head.header("authorization"));
    if (token.isEmpty())
        token = head.queryValue(u"token"_s).toUtf8();
    auto identity = auth.identify(token);
    if (identity && !anonymousOk && !identity->open && !identity->authenticated)
        identity = Result<Identity, AuthError>::failure({u"authentication required: pass ?token="_s});
    if (!identity) {
        Metrics::add(hub->metrics().refusedUnauthorized);
        writeHttpError(socket, 401, "Unauthorized", ErrorCode::Unauthorized, identity.error().message,
                       "WWW-Authenticate: Bearer\r\n");
        return std::nullopt;
    }
    return *identity;
}

bool Session::registerHandshake(Hub *hub, QTcpSocket *socket, ClientInfo &info, const Identity &who)
{
    info.sessionId = hub->registerSession(info, who);
    if (info.sessionId != 0)
        return true;
    Metrics::add(hub->metrics().refusedForbidden);
    writeHttpError(socket, 403, "Forbidden", ErrorCode::Forbidden,
                   u"client id %1 is in use by another user"_s.arg(info.clientId));
    return false;
}

void Session::refuseHandshake(Worker *worker, QTcpSocket *socket, const HeadRefusal &refusal)
{
    if (refusal.code == ErrorCode::TooManySubscriptions)
        Metrics::add(worker->hub()->metrics().subscriptionsCapped);
    // A 405 names what the route takes (RFC 9110 15.5.6), as the REST API's do.
    writeHttpError(socket, refusal.status, refusal.reason, refusal.code, refusal.detail,
                   refusal.status == 405 ? QByteArrayView("Allow: GET\r\n") : QByteArrayView());
}

void Session::expireWith(const QDateTime &deadline)
{
    if (!m_expiry) {
        if (!deadline.isValid())
            return;
        m_expiry = new ExpiryTimer(this);
        connect(m_expiry, &ExpiryTimer::expired, this, [this] {
            Metrics::add(m_worker->hub()->metrics().refusedUnauthorized);
            close(Ws::CloseCode::PolicyViolation, u"token expired"_s);
        });
    }
    m_expiry->start(deadline);
}

void Session::start(bool joinNow)
{
    Q_ASSERT(m_info.sessionId != 0);
    m_worker->sessionStarted(this);
    if (joinNow)
        join();
}

void Session::join()
{
    if (m_joined)
        return;
    m_joined = true;
    // Broadcasts reach every client, and personal delivery (seed 001's "notification", admin messages to a
    // client) goes to client:<id>: only once the connection may receive anything at all.
    m_worker->joinEveryone(this);
    m_worker->subscribeLocal(this, clientChannel(m_info.clientId));
}

void Session::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    m_worker->sessionFinished(this);
    m_worker->hub()->unregisterSession(m_info.sessionId);
    deleteLater();
}

bool Session::deliver(const Envelope &envelope)
{
    // A closing session can still be in a recipient list being walked (Worker::deliver works on a copy).
    if (m_finished || m_closing)
        return false;
    const qint64 id = envelope.message.id;
    if (id > 0) {
        // The same envelope through two lists (an admin that also subscribed).
        if (id == m_lastId)
            return false;
        // Already sent by a replay. Everything stored on the channel up to the replay's newest id was in it:
        // commits happen in id order (Hub::publishLocked), so the replay's read saw all of them.
        if (envelope.stored && id <= m_replayMax && id <= m_replayed.value(envelope.message.channel))
            return false;
        // Before where the client was told it starts (startAfter).
        if (envelope.stored && id <= m_startedMax && id <= m_startedAfter.value(envelope.message.channel))
            return false;
        m_lastId = id;
    }
    if (!envelope.excludeClientId.isEmpty() && envelope.excludeClientId == m_info.clientId)
        return false;
    const QByteArray &bytes = encoded(envelope);
    if (Q_UNLIKELY(m_catchingUp)) {
        // Committed before it was dispatched, so a later page reads it in its turn.
        if (envelope.stored && id > 0 && m_catchUpChannels.contains(envelope.message.channel))
            return false;
        m_held.append(bytes);
        m_heldBytes += bytes.size();
        if (m_socketQueued + m_out.size() + m_heldBytes > 2 * m_worker->config().maxSendBuffer)
            cutOff();
        return true;
    }
    // A stored message past the send buffer is not queued: the client reads it from the store at its own
    // pace, so a burst of any size costs at most the buffer.
    if (Q_UNLIKELY(m_socketQueued + m_out.size() + bytes.size() > m_worker->config().maxSendBuffer) &&
        envelope.stored && id > 0) {
        const QStringList channels = resumableChannels();
        if (channels.contains(envelope.message.channel)) {
            catchUp(channels, id - 1);
            return false;
        }
    }
    enqueue(bytes);
    return true;
}

void Session::enqueue(QByteArrayView bytes)
{
    if (m_finished || m_closing)
        return;
    m_out.append(bytes);
    m_worker->markDirty(this);
}

namespace {
// A page of a catch-up: small enough to keep the queue near the send buffer, large enough to be cheap.
constexpr int PageMessages = 256;
constexpr qint64 PageBytes = 256 * 1024;
// The stall check runs this many times per --send-stall-timeout.
constexpr int StallTicks = 4;
} // namespace

qint64 Session::lowWater() const
{
    return m_worker->config().maxSendBuffer / 2;
}

void Session::flush()
{
    if (m_out.isEmpty() || m_finished)
        return;
    writeToSocket(m_socket, m_out);
    m_out.clear();
    m_socketQueued = m_socket->bytesToWrite();
    if (Q_UNLIKELY(m_socketQueued > lowWater())) {
        Metrics::raise(m_worker->hub()->metrics().sendQueuePeak, m_socketQueued);
        // Stored messages never take the queue past the buffer (they are caught up on instead); what does
        // (other channels, held messages) is bounded all the same: a client that reads is not sent that much.
        const qint64 limit = m_worker->config().maxSendBuffer;
        if (m_socketQueued + m_heldBytes > 2 * limit) {
            cutOff();
            return;
        }
        if (m_socketQueued > limit)
            watchStall();
    }
    if (m_catchingUp && !m_pumpScheduled && m_socketQueued < lowWater()) {
        // Written straight to the kernel: no bytesWritten will come to ask for the next page.
        m_pumpScheduled = true;
        QMetaObject::invokeMethod(this, &Session::pump, Qt::QueuedConnection);
    }
}

void Session::onBytesWritten()
{
    ++m_progress;
    m_socketQueued = m_socket->bytesToWrite();
    if (m_catchingUp && !m_pumpScheduled && m_socketQueued < lowWater())
        pump();
}

void Session::catchUp(const QStringList &channels, qint64 after)
{
    if (channels.isEmpty() || m_finished || m_closing)
        return;
    // Everything up to `after` on these channels has been sent: a copy of it is a repeat.
    for (const QString &c : channels) {
        qint64 &seen = m_replayed[c];
        seen = std::max(seen, after);
    }
    m_replayMax = std::max(m_replayMax, after);
    if (m_catchingUp) {
        // A second resume while one runs: one read covers both, queueStored() skips what was sent.
        for (const QString &c : channels) {
            if (!m_catchUpChannels.contains(c))
                m_catchUpChannels.append(c);
        }
        m_catchUpAfter = std::min(m_catchUpAfter, after);
    } else {
        m_catchingUp = true;
        m_catchUpChannels = channels;
        m_catchUpAfter = after;
    }
    if (!m_socket->isWritable() || m_socket->state() != QAbstractSocket::ConnectedState)
        return;
    connect(m_socket, &QTcpSocket::bytesWritten, this, &Session::onBytesWritten, Qt::UniqueConnection);
    watchStall();
    pump();
}

void Session::startAfter(const QStringList &channels, qint64 lastId)
{
    for (const QString &c : channels) {
        qint64 &start = m_startedAfter[c];
        start = std::max(start, lastId);
    }
    m_startedMax = std::max(m_startedMax, lastId);
}

void Session::pump()
{
    m_pumpScheduled = false;
    History *store = m_worker->hub()->history();
    const QString broadcast = Channels::Broadcast.toString();
    while (m_catchingUp && !m_finished && !m_closing &&
           m_socket->state() == QAbstractSocket::ConnectedState &&
           m_socket->bytesToWrite() + m_out.size() < lowWater()) {
        // Channels unsubscribed meanwhile are no longer read.
        QStringList channels;
        for (const QString &c : std::as_const(m_catchUpChannels)) {
            if (c == broadcast || m_info.channels.contains(c))
                channels.append(c);
        }
        FramePage page;
        if (store && !channels.isEmpty()) {
            // Retention may delete what the client has not been sent yet (a long catch-up meets the minute's
            // prune). Asked before the read and after it: a deletion before the read is announced ahead of
            // the page; one that came during the read makes the page suspect, so it is read again.
            const bool cut = retentionCut(store, channels);
            auto read = store->replayPage(channels, m_catchUpAfter, PageMessages,
                                          std::min(PageBytes, std::max<qint64>(1, lowWater() / 2)));
            if (!read) {
                // The client resumes by id later, when the store can be read again.
                close(1011, u"history unavailable: %1"_s.arg(read.error().message));
                return;
            }
            if (!cut && retentionCut(store, channels))
                continue;
            if (!cut) {
                m_inExpiredGap = false;
            } else if (!m_inExpiredGap) {
                m_inExpiredGap = true; // one notice per gap, however many pages it spans
                Replay gap;
                gap.after = m_catchUpAfter;
                gap.upTo = m_catchUpAfter; // sent up to here; the rest of the catch-up follows
                gap.lose(ReplayGap::Expired);
                sendReplayNotice(replayNotice(m_catchUpAfter, gap));
            }
            page = std::move(read).value();
        }
        if (!page.frames.isEmpty())
            m_catchUpAfter = page.frames.constLast().id;
        Metrics::add(m_worker->hub()->metrics().messagesReplayed, queueStored(page.frames));
        if (!page.hasMore) {
            // Caught up: what waited goes out after the stored messages, and live delivery takes over.
            m_catchingUp = false;
            m_catchUpChannels.clear();
            const QList<QByteArray> held = std::exchange(m_held, {});
            m_heldBytes = 0;
            for (const QByteArray &bytes : held)
                enqueue(bytes);
        }
    }
    flush();
}

bool Session::retentionCut(History *store, const QStringList &channels) const
{
    for (const QString &c : channels) {
        auto covered = store->covers(c, m_catchUpAfter);
        if (covered && !*covered)
            return true;
    }
    return false;
}

QJsonObject Session::replayNotice(qint64 since, const Replay &replay) const
{
    QJsonObject notice{{"type"_L1, "replay"_L1},
                       {"since"_L1, since},
                       {"count"_L1, replay.count},
                       {"recovered"_L1, replay.recovered},
                       {"last_id"_L1, replay.upTo > 0 ? replay.upTo : m_plannedUpTo},
                       {"epoch"_L1, m_worker->hub()->epoch()}};
    if (!replay.recovered)
        notice.insert("reason"_L1, replayGapName(replay.gap));
    return notice;
}

void Session::watchStall()
{
    const auto timeout = m_worker->config().sendStallTimeout;
    if (timeout.count() <= 0)
        return;
    if (!m_stallTimer) {
        m_stallTimer = new QTimer(this);
        connect(m_stallTimer, &QTimer::timeout, this, &Session::checkStall);
        connect(m_socket, &QTcpSocket::bytesWritten, this, &Session::onBytesWritten, Qt::UniqueConnection);
    }
    if (m_stallTimer->isActive())
        return;
    m_progressAtTick = m_progress;
    m_stalledTicks = 0;
    m_stallTimer->start(std::max<qint64>(1, timeout.count() / StallTicks));
}

void Session::checkStall()
{
    if (m_finished)
        return;
    const qint64 unsent = m_socket->bytesToWrite();
    m_socketQueued = unsent;
    // Owed more than its buffer (still catching up, or a queue past it) and not one byte read for the
    // timeout.
    const bool behind = m_catchingUp || unsent > m_worker->config().maxSendBuffer;
    if (!behind) {
        m_stallTimer->stop();
        return;
    }
    if (unsent == 0) {
        // The kernel took everything: progress. A catch-up goes on, and stays watched: nothing else would
        // start this timer again once its pages fill the socket.
        m_progressAtTick = m_progress;
        m_stalledTicks = 0;
        if (!m_pumpScheduled) {
            m_pumpScheduled = true;
            QMetaObject::invokeMethod(this, &Session::pump, Qt::QueuedConnection);
        }
        return;
    }
    if (m_progress != m_progressAtTick) {
        m_progressAtTick = m_progress;
        m_stalledTicks = 0;
        return;
    }
    if (++m_stalledTicks >= StallTicks)
        cutOff();
}

void Session::cutOff()
{
    if (m_finished)
        return;
    m_out.clear();
    m_held.clear();
    m_heldBytes = 0;
    m_catchingUp = false;
    m_catchUpChannels.clear();
    if (m_stallTimer)
        m_stallTimer->stop();
    Metrics::add(m_worker->hub()->metrics().slowConsumers);
    cutOffSlowConsumer();
}

QStringList Session::resumableChannels() const
{
    QStringList out;
    History *store = m_worker->hub()->history();
    if (!store)
        return out;
    for (const QString &c : m_info.channels) {
        if (store->isPersistent(c))
            out.append(c);
    }
    const QString broadcast = Channels::Broadcast.toString();
    if (m_joined && store->isPersistent(broadcast) && !out.contains(broadcast))
        out.append(broadcast);
    return out;
}

Result<Replay, StoreError> Session::fetchReplay(const QStringList &channels, qint64 since,
                                                const QString &epoch)
{
    Hub *hub = m_worker->hub();
    History *store = hub->history();
    m_planned.clear();
    // The client names its position on these channels now: what it was told at subscribing no longer holds
    // (a resume from before it must replay what lies between).
    for (const QString &c : channels)
        m_startedAfter.remove(c);
    // Read the hub's position first: anything published after it is either in the read or arrives live.
    qint64 current = hub->lastId();
    if (since > current) {
        // Perhaps not ahead at all: a publish between its commit and its dispatch is in the store already,
        // where a catch-up page may have shown it to the client. Ask again once no publish is in flight.
        current = hub->readConsistent([] {});
    }
    m_plannedUpTo = current;
    if (!store) {
        Replay none;
        none.upTo = current;
        if (since > current)
            none.lose(ReplayGap::Reset);
        else if (since < current)
            none.lose(ReplayGap::Expired); // nothing is kept without a store
        return none;
    }
    if (!epoch.isEmpty() && epoch != store->epoch()) {
        Replay reset;
        reset.upTo = current;
        reset.lose(ReplayGap::Reset);
        return reset;
    }
    QStringList persistent;
    for (const QString &c : channels) {
        if (store->isPersistent(c) && !persistent.contains(c))
            persistent.append(c);
    }
    auto r = store->planReplay(persistent, since, current);
    if (r)
        r.value().upTo = current;
    // After a reset, `since` names nothing here: the ids this history hands out next may well be below it.
    if (r && r->gap != ReplayGap::Reset) {
        // The client has everything up to `since`: a live copy of one of those is a repeat. On a cluster this
        // happens when the node's bus is behind the history the client came from (another node).
        for (const QString &c : std::as_const(persistent)) {
            qint64 &seen = m_replayed[c];
            seen = std::max(seen, since);
        }
        if (!persistent.isEmpty())
            m_replayMax = std::max(m_replayMax, since);
        m_planned = persistent;
    }
    return r;
}

void Session::sendReplayed(const Replay &replay)
{
    const QStringList channels = std::exchange(m_planned, {});
    if (replay.gap == ReplayGap::Reset || replay.count <= 0)
        return; // newer messages arrive live
    catchUp(channels, replay.after);
}

int Session::queueStored(const QList<StoredFrame> &frames)
{
    int sent = 0;
    for (const StoredFrame &f : frames) {
        qint64 &seen = m_replayed[f.channel];
        if (f.id <= seen)
            continue; // an overlapping second replay of the same channel
        seen = f.id;
        m_replayMax = std::max(m_replayMax, f.id);
        enqueue(encodedStored(f));
        ++sent;
    }
    return sent;
}

bool Session::subscribe(const QString &channel)
{
    if (!m_worker->hub()->addSubscription(m_info.sessionId, channel))
        return false;
    m_info.channels.insert(channel);
    m_worker->subscribeLocal(this, channel);
    return true;
}

bool Session::unsubscribe(const QString &channel)
{
    if (!m_worker->hub()->removeSubscription(m_info.sessionId, channel))
        return false;
    m_info.channels.remove(channel);
    m_worker->unsubscribeLocal(this, channel);
    return true;
}

} // namespace Herald
