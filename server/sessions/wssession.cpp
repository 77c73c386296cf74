#include "wssession.h"

#include "channelname.h"
#include "gracefulclose.h"
#include "httprequesthead.h"
#include "logging.h"
#include "rawhttp.h"
#include "streamrequest.h"
#include "worker.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTcpSocket>
#include <QTimer>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// Herald's own close codes (4000-4999 is the application range of RFC 6455):
// an admin closing a client, distinguishable from a server shutdown (1001) or a policy refusal (1008);
constexpr quint16 CloseKicked = 4001;
// a client that read too slowly and should reconnect with ?since= (SPEC section 7);
constexpr quint16 CloseSlowConsumer = 4002;
// no frame, not even a pong, for --idle-timeout.
constexpr quint16 CloseIdle = 4003;
} // namespace

WsSession *WsSession::create(Worker *worker, QTcpSocket *socket, const HttpRequestHead &head)
{
    if (auto refusal = StreamRequest::refuseMethod(head, u"WebSocket upgrades use GET"_s)) {
        refuseHandshake(worker, socket, *refusal);
        return nullptr;
    }
    // RFC 6455 4.2.1: HTTP/1.1 or later, and one key and one version (11.3.1, 11.3.5: not repeated).
    if (head.versionMinor < 1) {
        writeHttpError(socket, 400, "Bad Request", u"bad_request"_s, u"a WebSocket upgrade needs HTTP/1.1"_s);
        return nullptr;
    }
    if (head.headerValues("sec-websocket-key").size() > 1 ||
        head.headerValues("sec-websocket-version").size() > 1) {
        writeHttpError(socket, 400, "Bad Request", u"bad_request"_s,
                       u"Sec-WebSocket-Key and Sec-WebSocket-Version may each appear once"_s);
        return nullptr;
    }
    if (head.header("sec-websocket-version") != "13") {
        writeHttpError(socket, 426, "Upgrade Required", u"bad_request"_s,
                       u"only WebSocket version 13 is supported"_s, "Sec-WebSocket-Version: 13\r\n");
        return nullptr;
    }
    const QByteArray key = head.header("sec-websocket-key");
    if (QByteArray::fromBase64(key).size() != 16) {
        writeHttpError(socket, 400, "Bad Request", u"bad_request"_s,
                       u"missing or malformed Sec-WebSocket-Key"_s);
        return nullptr;
    }

    ClientInfo info;
    info.transport = Transport::WebSocket;
    info.address = socket->peerAddress().toString();
    info.connectedAt = QDateTime::currentDateTimeUtc();

    // /ws, /ws/client, /ws/server, /ws/{model channel}, /ws/{client_id}
    RouteSetup setup;
    const QString path = head.path;
    if (path == u"/ws"_s || path == u"/ws/"_s) {
        info.route = Route::Native;
    } else {
        setup.segment = path.mid(4);
        if (setup.segment.contains(u'/')) {
            writeHttpError(socket, 404, "Not Found", u"not_found"_s,
                           u"no WebSocket endpoint at %1"_s.arg(path));
            return nullptr;
        }
        if (setup.segment == u"client"_s)
            info.route = Route::SeedClient;
        else if (setup.segment == u"server"_s)
            info.route = Route::Admin;
        else if (worker->hub()->isModelChannel(setup.segment))
            info.route = Route::ModelChannel;
        else if (isValidIdentifier(setup.segment))
            info.route = Route::SeedChat;
        else {
            writeHttpError(socket, 400, "Bad Request", u"bad_channel"_s,
                           u"'%1' is neither a channel nor a client id ([A-Za-z0-9_.:-], at most 121)"_s.arg(
                               setup.segment));
            return nullptr;
        }
    }

    auto request =
        StreamRequest::forWebSocket(head, info.route == Route::SeedChat ? setup.segment : QString(),
                                    info.route == Route::Native, worker->config().maxSubscriptions);
    if (!request) {
        refuseHandshake(worker, socket, request.error());
        return nullptr;
    }
    setup.stream = std::move(request).value();
    info.clientId = setup.stream.clientId();

    // Refused before the upgrade (SPEC section 7): a page from another origin, a bad token, a token that does
    // not allow this route. Without any token in token mode the upgrade goes ahead and the first frame must
    // authenticate.
    Hub *hub = worker->hub();
    const auto identity = identifyHandshake(hub, socket, head, true);
    if (!identity)
        return nullptr;
    if (const QString refusal = routeRefusal(*identity, info.route, setup); !refusal.isEmpty()) {
        Metrics::add(hub->metrics().refusedForbidden);
        writeHttpError(socket, 403, "Forbidden", u"forbidden"_s, refusal);
        return nullptr;
    }
    if (identity->authenticated)
        info.userId = identity->subject; // SPEC section 2: the user is the token's sub when auth is on
    else if (info.route == Route::Native && isValidIdentifier(setup.stream.userId()))
        info.userId = setup.stream.userId(); // known before registration, so the admin feed carries it
    // A client id held by another identity is refused here; without a token yet, it is claimed (or refused,
    // closing 1008) by the auth frame.
    if (!registerHandshake(hub, socket, info, *identity))
        return nullptr;

    QByteArray response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: " +
                          Ws::acceptKey(key) + "\r\n\r\n";
    writeToSocket(socket, response);

    auto *session = new WsSession(worker, socket, info, worker->config().maxMessageSize);
    session->m_identity = *identity;
    session->m_setup = setup;
    const bool mayProceed = session->m_identity.open || session->m_identity.authenticated;
    session->start(mayProceed);
    Metrics::add(hub->metrics().wsConnectionsTotal);
    Metrics::add(hub->metrics().wsConnections);

    if (mayProceed) {
        session->setUpRoute();
    } else {
        // Token mode without a token: the first frame must be {"type":"auth","token":…}, and soon.
        session->m_awaitingAuth = true;
        QTimer::singleShot(worker->config().handshakeTimeout, session, [session] {
            if (session->m_awaitingAuth) {
                Metrics::add(session->m_worker->hub()->metrics().refusedUnauthorized);
                session->close(Ws::CloseCode::PolicyViolation, u"authentication required"_s);
            }
        });
    }
    session->flush();
    // Bytes that came with the handshake (a client may pipeline its first frame).
    if (socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(session, &WsSession::onReadyRead, Qt::QueuedConnection);
    return session;
}

QString WsSession::routeRefusal(const Identity &who, Route route, const RouteSetup &setup)
{
    if (who.open || !who.authenticated)
        return {}; // open: everything; no token yet: decided once the first frame authenticates
    switch (route) {
    case Route::Admin:
        return who.isAdmin() ? QString() : u"the admin feed needs an admin token"_s;
    case Route::ModelChannel:
        return who.canRead(setup.segment) ? QString() : who.refusal(setup.segment, false);
    case Route::SeedChat:
        return who.canRead(Channels::Chat.toString()) ? QString()
                                                      : who.refusal(Channels::Chat.toString(), false);
    case Route::Native:
        if (const QString &userId = setup.stream.userId();
            !userId.isEmpty() && isValidIdentifier(userId) && !who.canRead(userChannel(userId)))
            return who.refusal(userChannel(userId), false);
        for (const QString &ch : setup.stream.channels()) {
            if (isValidChannelName(ch) && !who.canRead(ch))
                return who.refusal(ch, false);
        }
        return {};
    case Route::SeedClient:
    case Route::Events:
        return {};
    }
    return {};
}

void WsSession::setUpRoute()
{
    Worker *worker = m_worker;
    switch (m_info.route) {
    case Route::Native:
        welcome(m_setup.stream.channels(), m_setup.stream.userId());
        if (m_setup.stream.counts()) {
            worker->addCountsListener(this, true);
            sendRaw(Ws::encodeFrame(Ws::Opcode::Text, worker->hub()->pageCountsFrame()));
        }
        break;
    case Route::SeedClient:
        worker->addCountsListener(this);
        break;
    case Route::Admin:
        worker->addAdmin(this);
        worker->addCountsListener(this);
        sendRaw(Ws::encodeFrame(Ws::Opcode::Text, worker->hub()->snapshotFrame()));
        break;
    case Route::ModelChannel:
        sendJson(QJsonObject{{"type"_L1, "connection"_L1},
                             {"message"_L1, u"Connected to channel: %1"_s.arg(m_setup.segment)},
                             {"channel"_L1, m_setup.segment},
                             {"client_id"_L1, clientId()},
                             {"timestamp"_L1, nowTimestamp()}});
        subscribe(m_setup.segment);
        break;
    case Route::SeedChat:
        subscribe(Channels::Chat.toString());
        break;
    case Route::Events:
        break;
    }
    if (m_setup.stream.since() && m_info.route != Route::Admin && m_info.route != Route::SeedClient) {
        QStringList channels = m_info.channels.toList();
        // Broadcasts reach every client, so a resuming client has missed those too.
        channels.append(Channels::Broadcast.toString());
        resume(channels, *m_setup.stream.since(), m_setup.stream.epoch(), nullptr);
    }
    if (m_identity.authenticated)
        expireWith(m_identity.expiresAt);
}

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

void WsSession::welcome(const QStringList &channels, const QString &userId)
{
    // docs/protocol.md: `connected` is the first frame; what was wrong with the query follows it.
    m_heldErrors.emplace();
    QJsonArray subscribed;
    if (!userId.isEmpty()) {
        if (isValidIdentifier(userId)) {
            if (m_identity.open)
                m_info.userId = userId; // with tokens the user is the token's sub
            const QString ch = userChannel(userId);
            if (subscribeChecked(ch, nullptr))
                subscribed.append(ch);
        } else {
            sendError(ErrorCode::BadRequest, u"user_id must match [A-Za-z0-9_.:-]{1,121}"_s);
        }
    }
    for (const QString &ch : channels) {
        if (subscribeChecked(ch, nullptr))
            subscribed.append(ch);
    }
    // Fields are append only, as in every frame.
    sendJson(QJsonObject{{"type"_L1, "connected"_L1},
                         {"client_id"_L1, clientId()},
                         {"channels"_L1, subscribed},
                         {"last_id"_L1, m_worker->hub()->lastId()},
                         {"epoch"_L1, m_worker->hub()->epoch()},
                         {"timestamp"_L1, nowTimestamp()}});
    const QList<QJsonObject> held = std::move(*m_heldErrors);
    m_heldErrors.reset();
    for (const QJsonObject &error : held)
        sendJson(error, nullptr);
}

void WsSession::resume(const QStringList &channels, qint64 since, const QString &epoch,
                       const Request *replyTo)
{
    auto replay = fetchReplay(channels, since, epoch);
    if (!replay) {
        sendError(ErrorCode::Unavailable, u"cannot replay: %1"_s.arg(replay.error().message), replyTo);
        return;
    }
    // Announced first, so a client knows before the messages whether they close the gap.
    sendJson(replayNotice(since, *replay), replyTo);
    sendReplayed(*replay);
}

void WsSession::sendReplayNotice(const QJsonObject &notice)
{
    sendJson(notice, nullptr);
}

void WsSession::sendPublishError(const StoreError &error, const Request *replyTo)
{
    if (error.kind == StoreError::Kind::Unknown) {
        sendError(ErrorCode::OutcomeUnknown, error.message, replyTo);
        return;
    }
    sendError(ErrorCode::Unavailable, u"not published: the store cannot commit (%1)"_s.arg(error.message),
              replyTo);
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

bool WsSession::subscribeChecked(const QString &channel, const Request *replyTo)
{
    if (!isValidChannelName(channel)) {
        sendError(ErrorCode::BadChannel, invalidChannelMessage(channel), replyTo);
        return false;
    }
    if (channel.startsWith(Channels::ClientPrefix)) {
        sendError(ErrorCode::Forbidden, u"client: channels are personal and cannot be subscribed"_s, replyTo);
        return false;
    }
    if (!allowed(m_identity.canRead(channel), m_identity.refusal(channel, false), replyTo))
        return false;
    // --max-subscriptions: every subscription costs the hub and each publish's fan-out.
    if (const int cap = m_worker->config().maxSubscriptions;
        m_info.channels.size() >= cap && !m_info.channels.contains(channel)) {
        Metrics::add(m_worker->hub()->metrics().subscriptionsCapped);
        sendError(ErrorCode::TooManySubscriptions,
                  u"this connection has %1 subscriptions, the most it may have: unsubscribe first"_s.arg(cap),
                  replyTo);
        return false;
    }
    subscribe(channel);
    return true;
}

void WsSession::handleText(const QByteArray &payload)
{
    Metrics::add(m_worker->hub()->metrics().framesIn);
    auto parsed = parseRequest(payload);
    if (m_awaitingAuth) {
        // Token mode without a token at the upgrade: nothing but authentication is answered.
        if (parsed && parsed->action == Action::Auth) {
            doAuth(*parsed);
        } else {
            Metrics::add(m_worker->hub()->metrics().refusedUnauthorized);
            close(Ws::CloseCode::PolicyViolation,
                  u"authentication required: send {\"type\":\"auth\",\"token\":…}"_s);
        }
        return;
    }
    if (!parsed) {
        Metrics::add(m_worker->hub()->metrics().protocolErrors);
        sendError(parsed.error().code, parsed.error().message);
        return;
    }
    handleRequest(*parsed);
}

void WsSession::handleRequest(const Request &r)
{
    switch (r.action) {
    case Action::Ping:
        sendJson(QJsonObject{{"type"_L1, "pong"_L1}, {"message"_L1, "pong"_L1}}, &r);
        return;
    case Action::GetStats:
        sendJson(QJsonObject{{"type"_L1, "stats"_L1}, {"data"_L1, m_worker->hub()->stats(&m_identity)}}, &r);
        return;
    case Action::Subscribe:
        doSubscribe(r, true);
        return;
    case Action::Unsubscribe:
        doSubscribe(r, false);
        return;
    case Action::Publish:
        doPublish(r);
        return;
    case Action::Notify:
    case Action::Chat:
    case Action::Notification:
    case Action::BroadcastNotification:
        doSeedMessage(r);
        return;
    case Action::Broadcast:
        doBroadcast(r);
        return;
    case Action::Disconnect:
        doDisconnect(r);
        return;
    case Action::Auth:
        doAuth(r);
        return;
    case Action::Unknown:
        break;
    }
    sendError(ErrorCode::UnknownAction, u"unknown action '%1'"_s.arg(r.name), &r);
}

bool WsSession::allowed(bool allowed, const QString &reason, const Request *replyTo)
{
    if (allowed)
        return true;
    Metrics::add(m_worker->hub()->metrics().refusedForbidden);
    sendError(ErrorCode::Forbidden, reason, replyTo);
    return false;
}

void WsSession::doAuth(const Request &r)
{
    if (m_identity.open) {
        // Open mode: every connection is already allowed everything (SPEC section 7).
        sendJson(QJsonObject{{"type"_L1, "authenticated"_L1}, {"auth"_L1, "open"_L1}}, &r);
        return;
    }
    const auto token = requiredString(r.body, "token"_L1);
    auto identity = token ? m_worker->hub()->auth().identify(token->toUtf8())
                          : Result<Identity, AuthError>::failure({token.error().message});
    if (identity && !identity->authenticated)
        identity = Result<Identity, AuthError>::failure({u"no token"_s});
    if (!identity) {
        Metrics::add(m_worker->hub()->metrics().refusedUnauthorized);
        if (m_awaitingAuth) {
            close(Ws::CloseCode::PolicyViolation, identity.error().message);
        } else {
            // A failed refresh leaves the connection as it was.
            sendError(ErrorCode::Unauthorized, identity.error().message, &r);
        }
        return;
    }
    if (const QString refusal = routeRefusal(*identity, m_info.route, m_setup); !refusal.isEmpty()) {
        Metrics::add(m_worker->hub()->metrics().refusedForbidden);
        close(Ws::CloseCode::PolicyViolation, refusal);
        return;
    }
    if (!m_identity.authenticated || m_identity.subject != identity->subject) {
        if (m_identity.authenticated && !m_info.channels.isEmpty()) {
            // Another user on a connection with subscriptions would inherit the first one's channels.
            sendError(ErrorCode::Forbidden, u"a connection cannot change user; reconnect instead"_s, &r);
            return;
        }
        // As at the upgrade (Hub::registerSession): a client id another identity holds is theirs.
        if (!m_worker->hub()->claimClientId(sessionId(), *identity)) {
            Metrics::add(m_worker->hub()->metrics().refusedForbidden);
            close(Ws::CloseCode::PolicyViolation,
                  u"client id %1 is in use by another user"_s.arg(clientId()));
            return;
        }
        m_info.userId = identity->subject;
    }
    m_identity = *identity;
    // A refreshed token may allow less: subscriptions it no longer covers end here.
    const ChannelSet current = m_info.channels;
    for (const QString &ch : current) {
        if (!m_identity.canRead(ch) && unsubscribe(ch)) {
            Metrics::add(m_worker->hub()->metrics().refusedForbidden);
            sendJson(QJsonObject{{"type"_L1, "unsubscribed"_L1},
                                 {"channel"_L1, ch},
                                 {"reason"_L1, u"the new token does not allow it"_s}});
        }
    }
    QJsonObject reply{{"type"_L1, "authenticated"_L1},
                      {"auth"_L1, "token"_L1},
                      {"sub"_L1, m_identity.subject},
                      {"role"_L1, roleName(m_identity.role)}};
    if (m_identity.expiresAt.isValid())
        reply.insert("expires_at"_L1, formatTimestamp(m_identity.expiresAt));
    sendJson(reply, &r);
    if (m_awaitingAuth) {
        m_awaitingAuth = false;
        join();
        setUpRoute();
    } else {
        expireWith(m_identity.expiresAt); // none: stopped
    }
}

void WsSession::doSubscribe(const Request &r, bool sub)
{
    // Seed 003 clients only ever see counts, so they get no acknowledgements.
    const bool ack = m_info.route != Route::SeedClient;
    QStringList channels;
    const auto channel = optionalString(r.body, "channel"_L1);
    if (!channel) {
        sendError(channel.error().code, channel.error().message, &r);
        return;
    }
    if (channel->has_value())
        channels.append(**channel);
    const QJsonValue list = r.body.value("channels"_L1);
    if (list.isArray()) {
        for (const QJsonValue &v : list.toArray()) {
            if (!v.isString()) {
                sendError(ErrorCode::BadRequest, u"field 'channels' must be an array of strings"_s, &r);
                return;
            }
            channels.append(v.toString());
        }
    } else if (!list.isUndefined() && !list.isNull()) {
        sendError(ErrorCode::BadRequest, u"field 'channels' must be an array of strings"_s, &r);
        return;
    }
    const auto userId = optionalId(r.body, "user_id"_L1);
    if (!userId) {
        sendError(userId.error().code, userId.error().message, &r);
        return;
    }
    if (userId->has_value()) {
        if (!isValidIdentifier(**userId)) {
            sendError(ErrorCode::BadRequest, u"user_id must match [A-Za-z0-9_.:-]{1,121}"_s, &r);
            return;
        }
        if (sub && m_identity.open && m_info.userId != **userId) {
            m_info.userId = **userId;
            m_worker->hub()->setUserId(sessionId(), m_info.userId);
        }
        channels.append(userChannel(**userId));
    }
    if (channels.isEmpty()) {
        sendError(ErrorCode::BadRequest, u"%1 needs a 'channel', 'channels' or 'user_id'"_s.arg(r.name), &r);
        return;
    }
    const auto since = optionalSequence(r.body, "since"_L1);
    if (!since) {
        sendError(since.error().code, since.error().message, &r);
        return;
    }
    const auto epoch = optionalString(r.body, "epoch"_L1);
    if (!epoch) {
        sendError(epoch.error().code, epoch.error().message, &r);
        return;
    }
    QStringList resumed;
    for (const QString &ch : std::as_const(channels)) {
        if (sub) {
            if (!subscribeChecked(ch, &r))
                continue;
            resumed.append(ch);
        } else {
            if (!isValidChannelName(ch)) {
                sendError(ErrorCode::BadChannel, invalidChannelMessage(ch), &r);
                continue;
            }
            unsubscribe(ch);
        }
        if (ack) {
            // last_id is the hub's (ids are one sequence over every channel): the since that resumes this
            // subscription. last_id_scope says so in the frame, since "last_id" next to "channel" reads as
            // the channel's (appended; the meaning of last_id is unchanged).
            sendJson(QJsonObject{{"type"_L1, sub ? "subscribed"_L1 : "unsubscribed"_L1},
                                 {"channel"_L1, ch},
                                 {"last_id"_L1, m_worker->hub()->lastId()},
                                 {"last_id_scope"_L1, "hub"_L1}},
                     &r);
        }
    }
    if (sub && since->has_value() && !resumed.isEmpty())
        resume(resumed, **since, epoch->value_or(QString()), &r);
}

void WsSession::doPublish(const Request &r)
{
    QString channel;
    const auto ch = optionalString(r.body, "channel"_L1);
    const auto user = optionalId(r.body, "user_id"_L1);
    if (!ch || !user) {
        const ProtocolError &e = !ch ? ch.error() : user.error();
        sendError(e.code, e.message, &r);
        return;
    }
    if (ch->has_value())
        channel = **ch;
    else if (user->has_value())
        channel = isValidIdentifier(**user) ? userChannel(**user) : QString();
    else {
        sendError(ErrorCode::BadRequest, u"publish needs a 'channel' or a 'user_id'"_s, &r);
        return;
    }
    if (!isValidChannelName(channel)) {
        sendError(ErrorCode::BadChannel,
                  ch->has_value() ? invalidChannelMessage(channel)
                                  : u"user_id must match [A-Za-z0-9_.:-]{1,121}"_s,
                  &r);
        return;
    }
    if (!allowed(m_identity.canWrite(channel), m_identity.refusal(channel, true), &r))
        return;
    // With the kind given in "type", the message type cannot also come from "type".
    QJsonObject payload = r.body;
    if (r.kindFromType)
        payload.remove("type"_L1);
    auto message = publishedMessageFromPayload(payload, u"message"_s);
    if (!message) {
        sendError(message.error().code, message.error().message, &r);
        return;
    }
    Message m = std::move(message).value();
    m.channel = channel;
    m.sender = m_identity.senderFor(clientId());
    const PublishResult id = m_worker->hub()->publish(std::move(m));
    if (!id) {
        sendPublishError(id.error(), &r);
        return;
    }
    sendJson(QJsonObject{{"type"_L1, "published"_L1}, {"id"_L1, *id}, {"channel"_L1, channel}}, &r);
}

void WsSession::doSeedMessage(const Request &r)
{
    const QJsonValue text = r.body.value("message"_L1);
    if (!text.isString()) {
        sendError(ErrorCode::BadRequest, u"field 'message' is required and must be a string"_s, &r);
        return;
    }
    // chat writes to the stored chat channel and notify and broadcast_notification reach everyone: all three
    // publish, so they need a publisher or an admin (SPEC section 7); notification only echoes to the sender.
    const QString chat = Channels::Chat.toString();
    const QString everyone = Channels::Broadcast.toString();
    if (r.action == Action::Chat && !allowed(m_identity.canWrite(chat), m_identity.refusal(chat, true), &r))
        return;
    if ((r.action == Action::Notify || r.action == Action::BroadcastNotification) &&
        !allowed(m_identity.canWrite(everyone), m_identity.refusal(everyone, true), &r))
        return;
    Message m;
    m.message = text.toString();
    m.sender = m_identity.senderFor(clientId());
    Hub *hub = m_worker->hub();
    PublishResult result = qint64(0);
    switch (r.action) {
    case Action::Notify:
        // Seed 003: to every dashboard and every client on the broadcast channel.
        m.type = u"notify"_s;
        m.channel = Channels::Broadcast.toString();
        if (!m_info.userId.isEmpty())
            m.extra.insert("user_id"_L1, m_info.userId);
        result = hub->publish(std::move(m));
        break;
    case Action::Chat:
        m.type = u"chat"_s;
        m.channel = Channels::Chat.toString();
        result = hub->publish(std::move(m));
        break;
    case Action::Notification:
        m.type = u"notification"_s;
        m.extra.insert("scope"_L1, "personal"_L1);
        result = hub->sendToClient(clientId(), std::move(m));
        break;
    case Action::BroadcastNotification:
        m.type = u"notification"_s;
        m.extra.insert("scope"_L1, "broadcast"_L1);
        result = hub->broadcastToAll(std::move(m));
        break;
    default:
        break;
    }
    if (!result)
        sendPublishError(result.error(), &r);
}

void WsSession::doBroadcast(const Request &r)
{
    if (!allowed(m_identity.canWrite(Channels::Broadcast.toString()),
                 m_identity.refusal(Channels::Broadcast.toString(), true), &r))
        return;
    QJsonObject payload = r.body;
    if (r.kindFromType)
        payload.remove("type"_L1);
    auto message = publishedMessageFromPayload(payload, u"broadcast"_s);
    if (!message) {
        sendError(message.error().code, message.error().message, &r);
        return;
    }
    Message m = std::move(message).value();
    m.sender = m_identity.senderFor(clientId());
    const PublishResult id = m_worker->hub()->broadcastToAll(std::move(m));
    if (!id) {
        sendPublishError(id.error(), &r);
        return;
    }
    sendJson(QJsonObject{{"type"_L1, "published"_L1},
                         {"id"_L1, *id},
                         {"channel"_L1, Channels::Broadcast.toString()}},
             &r);
}

void WsSession::doDisconnect(const Request &r)
{
    if (!allowed(m_identity.isAdmin(), u"disconnecting clients needs an admin token"_s, &r))
        return;
    const auto target = requiredString(r.body, "client_id"_L1);
    if (!target) {
        sendError(target.error().code, target.error().message, &r);
        return;
    }
    const int count =
        m_worker->hub()->disconnectClient(*target, CloseKicked, u"disconnected by an administrator"_s);
    // On a cluster the client may be on another node: the kick went there too, so no "not found".
    if (count == 0 && !m_worker->hub()->cluster()) {
        sendError(ErrorCode::NotFound, u"no client '%1' is connected"_s.arg(*target), &r);
        return;
    }
    sendJson(
        QJsonObject{{"type"_L1, "disconnected"_L1}, {"client_id"_L1, *target}, {"connections"_L1, count}},
        &r);
}

} // namespace Herald
