#include "wssession.h"

#include "channelname.h"
#include "httprequesthead.h"
#include "logging.h"
#include "rawhttp.h"
#include "worker.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTcpSocket>
#include <QTimer>
#include <QUuid>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// An admin closing a client, distinguishable from a server shutdown (1001) or a policy refusal (1008).
constexpr quint16 CloseKicked = 4001;
// A peer that never answers our close frame is cut after this.
constexpr auto CloseTimeout = std::chrono::seconds(3);

QStringList splitChannels(const QString &list)
{
    QStringList out;
    for (const QString &part : list.split(u',', Qt::SkipEmptyParts)) {
        const QString c = part.trimmed();
        if (!c.isEmpty() && !out.contains(c))
            out.append(c);
    }
    return out;
}
} // namespace

WsSession *WsSession::create(Worker *worker, QTcpSocket *socket, const HttpRequestHead &head)
{
    if (head.method != "GET") {
        writeHttpError(socket, 405, "Method Not Allowed", u"bad_request"_s, u"WebSocket upgrades use GET"_s);
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
    const QString path = head.path;
    QString segment;
    if (path == u"/ws"_s || path == u"/ws/"_s) {
        info.route = Route::Native;
    } else {
        segment = path.mid(4);
        if (segment.contains(u'/')) {
            writeHttpError(socket, 404, "Not Found", u"not_found"_s,
                           u"no WebSocket endpoint at %1"_s.arg(path));
            return nullptr;
        }
        if (segment == u"client"_s)
            info.route = Route::SeedClient;
        else if (segment == u"server"_s)
            info.route = Route::Admin;
        else if (worker->hub()->isModelChannel(segment))
            info.route = Route::ModelChannel;
        else if (isValidIdentifier(segment))
            info.route = Route::SeedChat;
        else {
            writeHttpError(
                socket, 400, "Bad Request", u"bad_channel"_s,
                u"'%1' is neither a channel nor a client id ([A-Za-z0-9_.:-], at most 121)"_s.arg(segment));
            return nullptr;
        }
    }

    const QString queryClientId = head.queryValue(u"client_id"_s);
    if (info.route == Route::SeedChat) {
        info.clientId = segment;
    } else if (!queryClientId.isEmpty()) {
        if (!isValidIdentifier(queryClientId)) {
            writeHttpError(socket, 400, "Bad Request", u"bad_request"_s,
                           u"client_id must match [A-Za-z0-9_.:-]{1,121}"_s);
            return nullptr;
        }
        info.clientId = queryClientId;
    } else {
        info.clientId = QUuid::createUuid().toString(QUuid::WithoutBraces);
    }

    // The resume point (SPEC section 2): replay what was stored after it, then go live.
    std::optional<qint64> since;
    const QString sinceText = head.queryValue(u"since"_s);
    if (!sinceText.isNull()) {
        since = parseSequence(sinceText);
        if (!since) {
            writeHttpError(socket, 400, "Bad Request", u"bad_request"_s,
                           u"since must be a non-negative integer (the last message id seen)"_s);
            return nullptr;
        }
    }

    // Known before registration, so the admin feed's client_connected and snapshot carry it.
    if (info.route == Route::Native && isValidIdentifier(head.queryValue(u"user_id"_s)))
        info.userId = head.queryValue(u"user_id"_s);

    QByteArray response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: " +
                          Ws::acceptKey(key) + "\r\n\r\n";
    socket->write(response);

    auto *session = new WsSession(worker, socket, info, worker->config().maxMessageSize);
    session->start();
    Metrics::add(worker->hub()->metrics().wsConnectionsTotal);
    Metrics::add(worker->hub()->metrics().wsConnections);

    switch (session->m_info.route) {
    case Route::Native: {
        const QString userId = head.queryValue(u"user_id"_s);
        session->welcome(splitChannels(head.queryValue(u"channels"_s)), userId);
        break;
    }
    case Route::SeedClient:
        worker->addCountsListener(session);
        break;
    case Route::Admin:
        worker->addAdmin(session);
        worker->addCountsListener(session);
        session->sendRaw(Ws::encodeFrame(Ws::Opcode::Text, worker->hub()->snapshotFrame()));
        break;
    case Route::ModelChannel:
        session->sendJson(QJsonObject{{"type"_L1, "connection"_L1},
                                      {"message"_L1, u"Connected to channel: %1"_s.arg(segment)},
                                      {"channel"_L1, segment},
                                      {"client_id"_L1, session->clientId()},
                                      {"timestamp"_L1, nowTimestamp()}});
        session->subscribe(segment);
        break;
    case Route::SeedChat:
        session->subscribe(Channels::Chat.toString());
        break;
    case Route::Events:
        break;
    }
    if (since && session->m_info.route != Route::Admin && session->m_info.route != Route::SeedClient) {
        QStringList channels(session->m_info.channels.cbegin(), session->m_info.channels.cend());
        channels.sort();
        // Broadcasts reach every client, so a resuming client has missed those too.
        channels.append(Channels::Broadcast.toString());
        session->resume(channels, *since, nullptr);
    }
    session->flush();
    // Bytes that came with the handshake (a client may pipeline its first frame).
    if (socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(session, &WsSession::onReadyRead, Qt::QueuedConnection);
    return session;
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
    QJsonArray subscribed;
    if (!userId.isEmpty()) {
        if (isValidIdentifier(userId)) {
            m_info.userId = userId;
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
    sendJson(QJsonObject{{"type"_L1, "connected"_L1},
                         {"client_id"_L1, clientId()},
                         {"channels"_L1, subscribed},
                         {"last_id"_L1, m_worker->hub()->lastId()},
                         {"timestamp"_L1, nowTimestamp()}});
}

void WsSession::resume(const QStringList &channels, qint64 since, const Request *replyTo)
{
    auto replay = fetchReplay(channels, since);
    if (!replay) {
        sendError(ErrorCode::Unavailable, u"cannot replay: %1"_s.arg(replay.error().message), replyTo);
        return;
    }
    // Announced first, so a client knows before the messages whether they close the gap.
    QJsonObject notice{{"type"_L1, "replay"_L1},
                       {"since"_L1, since},
                       {"count"_L1, replay->messages.size()},
                       {"recovered"_L1, replay->recovered},
                       {"last_id"_L1, m_worker->hub()->lastId()}};
    sendJson(notice, replyTo);
    sendReplayed(replay->messages);
}

void WsSession::sendPublishError(const StoreError &error, const Request *replyTo)
{
    sendError(ErrorCode::Unavailable, u"not published: the store cannot commit (%1)"_s.arg(error.message),
              replyTo);
}

void WsSession::onReadyRead()
{
    if (m_finished)
        return;
    m_parser.append(m_socket->readAll());
    while (auto event = m_parser.next()) {
        switch (event->kind) {
        case Ws::Event::Kind::Text:
            if (!m_closing)
                handleText(event->payload);
            break;
        case Ws::Event::Kind::Binary:
            sendError(ErrorCode::InvalidJson, u"binary frames are not supported: send JSON text"_s);
            break;
        case Ws::Event::Kind::Ping:
            sendRaw(Ws::encodeFrame(Ws::Opcode::Pong, event->payload));
            break;
        case Ws::Event::Kind::Pong:
            break;
        case Ws::Event::Kind::Close:
            // Echo the peer's code, then let it close the TCP connection (RFC 6455 5.5.1).
            if (!m_closing) {
                m_closing = true;
                const quint16 code = event->closeCode == Ws::CloseCode::NoStatus ? 0 : event->closeCode;
                sendRaw(Ws::encodeClose(code));
            }
            flush();
            m_socket->disconnectFromHost();
            return;
        case Ws::Event::Kind::Error:
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
    sendRaw(Ws::encodeClose(code, reason));
    flush();
    m_socket->disconnectFromHost();
    QTimer::singleShot(CloseTimeout, this, [this] {
        if (!m_finished)
            m_socket->abort();
    });
}

void WsSession::sendRaw(const QByteArray &frame)
{
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
    sendRaw(Ws::encodeFrame(Ws::Opcode::Text, QJsonDocument(o).toJson(QJsonDocument::Compact)));
}

void WsSession::sendError(ErrorCode code, const QString &message, const Request *replyTo)
{
    QJsonObject o{{"type"_L1, "error"_L1}, {"code"_L1, errorCodeName(code)}, {"message"_L1, message}};
    if (replyTo)
        o.insert("action"_L1, replyTo->name);
    sendJson(o, replyTo);
}

bool WsSession::subscribeChecked(const QString &channel, const Request *replyTo)
{
    if (!isValidChannelName(channel)) {
        sendError(
            ErrorCode::BadChannel,
            u"invalid channel name '%1': use [A-Za-z0-9_.:-], 1 to 128 characters"_s.arg(channel.left(140)),
            replyTo);
        return false;
    }
    if (channel.startsWith(Channels::ClientPrefix)) {
        sendError(ErrorCode::Forbidden, u"client: channels are personal and cannot be subscribed"_s, replyTo);
        return false;
    }
    subscribe(channel);
    return true;
}

void WsSession::handleText(const QByteArray &payload)
{
    Metrics::add(m_worker->hub()->metrics().framesIn);
    auto parsed = parseRequest(payload);
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
        sendJson(QJsonObject{{"type"_L1, "stats"_L1}, {"data"_L1, m_worker->hub()->stats()}}, &r);
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
        // Open mode: every connection is already allowed everything (SPEC section 7).
        sendJson(QJsonObject{{"type"_L1, "authenticated"_L1}, {"auth"_L1, "open"_L1}}, &r);
        return;
    case Action::Unknown:
        break;
    }
    sendError(ErrorCode::UnknownAction, u"unknown action '%1'"_s.arg(r.name), &r);
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
        if (sub && m_info.userId != **userId) {
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
    QStringList resumed;
    for (const QString &ch : std::as_const(channels)) {
        if (sub) {
            if (!subscribeChecked(ch, &r))
                continue;
            resumed.append(ch);
        } else {
            if (!isValidChannelName(ch)) {
                sendError(ErrorCode::BadChannel, u"invalid channel name '%1'"_s.arg(ch.left(140)), &r);
                continue;
            }
            unsubscribe(ch);
        }
        if (ack) {
            sendJson(QJsonObject{{"type"_L1, sub ? "subscribed"_L1 : "unsubscribed"_L1},
                                 {"channel"_L1, ch},
                                 {"last_id"_L1, m_worker->hub()->lastId()}},
                     &r);
        }
    }
    if (sub && since->has_value() && !resumed.isEmpty())
        resume(resumed, **since, &r);
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
        sendError(ErrorCode::BadChannel, u"invalid channel name"_s, &r);
        return;
    }
    // With the kind given in "type", the message type cannot also come from "type".
    QJsonObject payload = r.body;
    if (r.kindFromType)
        payload.remove("type"_L1);
    auto message = messageFromPayload(payload, u"message"_s);
    if (!message) {
        sendError(message.error().code, message.error().message, &r);
        return;
    }
    Message m = std::move(message).value();
    m.channel = channel;
    if (m.sender.isNull())
        m.sender = clientId();
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
    Message m;
    m.message = text.toString();
    m.sender = clientId();
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
    QJsonObject payload = r.body;
    if (r.kindFromType)
        payload.remove("type"_L1);
    auto message = messageFromPayload(payload, u"broadcast"_s);
    if (!message) {
        sendError(message.error().code, message.error().message, &r);
        return;
    }
    Message m = std::move(message).value();
    if (m.sender.isNull())
        m.sender = clientId();
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
    const auto target = requiredString(r.body, "client_id"_L1);
    if (!target) {
        sendError(target.error().code, target.error().message, &r);
        return;
    }
    const int count =
        m_worker->hub()->disconnectClient(*target, CloseKicked, u"disconnected by an administrator"_s);
    if (count == 0) {
        sendError(ErrorCode::NotFound, u"no client '%1' is connected"_s.arg(*target), &r);
        return;
    }
    sendJson(
        QJsonObject{{"type"_L1, "disconnected"_L1}, {"client_id"_L1, *target}, {"connections"_L1, count}},
        &r);
}

} // namespace Herald
