#include "session.h"

#include "channelname.h"
#include "envelope.h"
#include "errorcode.h"
#include "httprequesthead.h"
#include "rawhttp.h"
#include "worker.h"

#include <QTcpSocket>

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

std::optional<Identity> Session::identifyHandshake(Hub *hub, QTcpSocket *socket, const HttpRequestHead &head,
                                                   bool anonymousOk)
{
    const AuthPolicy &auth = hub->auth();
    if (!auth.originAllowed(head.header("origin"), head.header("host"))) {
        Metrics::add(hub->metrics().refusedOrigin);
        writeHttpError(socket, 403, "Forbidden", u"forbidden"_s, u"origin not allowed"_s);
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
        writeHttpError(socket, 401, "Unauthorized", u"unauthorized"_s, identity.error().message,
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
    writeHttpError(socket, 403, "Forbidden", errorCodeName(ErrorCode::Forbidden),
                   u"client id %1 is in use by another user"_s.arg(info.clientId));
    return false;
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
    if (m_finished)
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
        m_lastId = id;
    }
    if (!envelope.excludeClientId.isEmpty() && envelope.excludeClientId == m_info.clientId)
        return false;
    enqueue(encoded(envelope));
    return true;
}

void Session::enqueue(QByteArrayView bytes)
{
    if (m_finished)
        return;
    m_out.append(bytes);
    m_worker->markDirty(this);
}

void Session::flush()
{
    if (m_out.isEmpty() || m_finished)
        return;
    // Unbounded, a client that stops reading would grow the server's memory with every message.
    if (m_socket->bytesToWrite() + m_out.size() > m_worker->config().maxSendBuffer) {
        m_out.clear();
        Metrics::add(m_worker->hub()->metrics().slowConsumers);
        cutOffSlowConsumer();
        return;
    }
    writeToSocket(m_socket, m_out);
    m_out.clear();
}

Result<Replay, StoreError> Session::fetchReplay(const QStringList &channels, qint64 since,
                                                const QString &epoch)
{
    Hub *hub = m_worker->hub();
    History *store = hub->history();
    // Read the hub's position first: anything published after it is either in the read or arrives live.
    const qint64 current = hub->lastId();
    if (!store) {
        Replay none;
        if (since > current)
            none.lose(ReplayGap::Reset);
        else if (since < current)
            none.lose(ReplayGap::Expired); // nothing is kept without a store
        return none;
    }
    if (!epoch.isEmpty() && epoch != store->epoch()) {
        Replay reset;
        reset.lose(ReplayGap::Reset);
        return reset;
    }
    QStringList persistent;
    for (const QString &c : channels) {
        if (store->isPersistent(c) && !persistent.contains(c))
            persistent.append(c);
    }
    auto r = store->replay(persistent, since, current);
    // After a reset, `since` names nothing here: the ids this history hands out next may well be below it.
    if (r && r->gap != ReplayGap::Reset) {
        Metrics::add(hub->metrics().messagesReplayed, r->messages.size());
        // The client has everything up to `since`: a live copy of one of those is a repeat. On a cluster this
        // happens when the node's bus is behind the history the client came from (another node).
        for (const QString &c : std::as_const(persistent)) {
            qint64 &seen = m_replayed[c];
            seen = std::max(seen, since);
        }
        if (!persistent.isEmpty())
            m_replayMax = std::max(m_replayMax, since);
    }
    return r;
}

int Session::sendReplayed(const QList<Message> &messages)
{
    int sent = 0;
    for (const Message &m : messages) {
        qint64 &seen = m_replayed[m.channel];
        if (m.id <= seen)
            continue; // an overlapping second replay of the same channel
        seen = m.id;
        m_replayMax = std::max(m_replayMax, m.id);
        enqueue(encoded(*makeEnvelope(m, Envelope::Target::Channel)));
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
