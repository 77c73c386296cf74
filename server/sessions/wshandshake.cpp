// WsSession, part: the upgrade, the route and what it sets up (create, routeRefusal, setUpRoute, welcome).
#include "wssession.h"

#include "channelname.h"
#include "httprequesthead.h"
#include "rawhttp.h"
#include "streamrequest.h"
#include "worker.h"

#include <QJsonArray>
#include <QTcpSocket>
#include <QTimer>

using namespace Qt::StringLiterals;

namespace Herald {

WsSession *WsSession::create(Worker *worker, QTcpSocket *socket, const HttpRequestHead &head)
{
    if (auto refusal = StreamRequest::refuseMethod(head, u"WebSocket upgrades use GET"_s)) {
        refuseHandshake(worker, socket, *refusal);
        return nullptr;
    }
    // RFC 6455 4.2.1: HTTP/1.1 or later, and one key and one version (11.3.1, 11.3.5: not repeated).
    if (head.versionMinor < 1) {
        writeHttpError(socket, 400, "Bad Request", ErrorCode::BadRequest,
                       u"a WebSocket upgrade needs HTTP/1.1"_s);
        return nullptr;
    }
    if (head.headerValues("sec-websocket-key").size() > 1 ||
        head.headerValues("sec-websocket-version").size() > 1) {
        writeHttpError(socket, 400, "Bad Request", ErrorCode::BadRequest,
                       u"Sec-WebSocket-Key and Sec-WebSocket-Version may each appear once"_s);
        return nullptr;
    }
    if (head.header("sec-websocket-version") != "13") {
        writeHttpError(socket, 426, "Upgrade Required", ErrorCode::BadRequest,
                       u"only WebSocket version 13 is supported"_s, "Sec-WebSocket-Version: 13\r\n");
        return nullptr;
    }
    const QByteArray key = head.header("sec-websocket-key");
    if (QByteArray::fromBase64(key).size() != 16) {
        writeHttpError(socket, 400, "Bad Request", ErrorCode::BadRequest,
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
            writeHttpError(socket, 404, "Not Found", ErrorCode::NotFound,
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
            writeHttpError(socket, 400, "Bad Request", ErrorCode::BadChannel,
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
        writeHttpError(socket, 403, "Forbidden", ErrorCode::Forbidden, refusal);
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
    if (m_setup.stream.since()) {
        if (const QStringList channels = positionedChannels(); !channels.isEmpty())
            resume(channels, *m_setup.stream.since(), m_setup.stream.epoch(), nullptr);
    }
    if (m_identity.authenticated)
        expireWith(m_identity.expiresAt);
}

QStringList WsSession::positionedChannels() const
{
    if (m_info.route == Route::Admin || m_info.route == Route::SeedClient)
        return {};
    QStringList channels = m_info.channels.toList();
    // Broadcasts reach every client, so a resuming client has missed those too.
    channels.append(Channels::Broadcast.toString());
    return channels;
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
    // Read once subscribed: whatever gets an id after this reaches this session live.
    const qint64 lastId = m_worker->hub()->lastId();
    if (!m_setup.stream.since())
        startAfter(positionedChannels(), lastId);
    // Fields are append only, as in every frame.
    sendJson(QJsonObject{{"type"_L1, "connected"_L1},
                         {"client_id"_L1, clientId()},
                         {"channels"_L1, subscribed},
                         {"last_id"_L1, lastId},
                         {"epoch"_L1, m_worker->hub()->epoch()},
                         {"timestamp"_L1, nowTimestamp()}});
    const QList<QJsonObject> held = std::move(*m_heldErrors);
    m_heldErrors.reset();
    for (const QJsonObject &error : held)
        sendJson(error, nullptr);
}

} // namespace Herald
