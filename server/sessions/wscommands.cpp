// WsSession, part: the frames a client sends (auth, subscribe, publish, chat, admin actions).
#include "wssession.h"

#include "channelname.h"
#include "publisher.h"
#include "worker.h"

#include <QJsonArray>
#include <QTcpSocket>

using namespace Qt::StringLiterals;

namespace Herald {

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

void WsSession::sendPublishError(const StoreError &error, const Request *replyTo)
{
    if (error.kind == StoreError::Kind::Unknown) {
        sendError(ErrorCode::OutcomeUnknown, error.message, replyTo);
        return;
    }
    sendError(ErrorCode::Unavailable, u"not published: the store cannot commit (%1)"_s.arg(error.message),
              replyTo);
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
    case Action::Withdraw:
        doWithdraw(r);
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
        bool added = false;
        if (sub) {
            // Subscribed already: a catch-up may be under way on it, which must go on from where it is.
            added = !m_info.channels.contains(ch);
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
            const qint64 lastId = m_worker->hub()->lastId();
            if (added && !since->has_value())
                startAfter({ch}, lastId);
            sendJson(QJsonObject{{"type"_L1, sub ? "subscribed"_L1 : "unsubscribed"_L1},
                                 {"channel"_L1, ch},
                                 {"last_id"_L1, lastId},
                                 {"last_id_scope"_L1, "hub"_L1}},
                     &r);
        }
    }
    if (sub && since->has_value() && !resumed.isEmpty())
        resume(resumed, **since, epoch->value_or(QString()), &r);
}

std::optional<Message> WsSession::messageFrom(const Request &r, const QString &defaultKind)
{
    // With the kind given in "type", the message type cannot also come from "type".
    QJsonObject payload = r.body;
    if (r.kindFromType)
        payload.remove("type"_L1);
    auto message = publishedMessageFromPayload(payload, defaultKind);
    if (!message) {
        sendError(message.error().code, message.error().message, &r);
        return std::nullopt;
    }
    Message m = std::move(message).value();
    m.sender = m_identity.senderFor(clientId());
    return m;
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
    std::optional<Message> m = messageFrom(r, u"message"_s);
    if (!m)
        return;
    m->channel = channel;
    PublishRequest publish;
    publish.message = std::move(*m);
    publish.idempotencyScope = m_identity.subject;
    auto key = idempotencyKeyFromPayload(r.body);
    auto when = scheduleFromPayload(r.body, publish.message.timestamp);
    if (!key || !when) {
        const ProtocolError &e = !key ? key.error() : when.error();
        sendError(e.code, e.message, &r);
        return;
    }
    publish.idempotencyKey = key->value_or(QString());
    publish.deliverAt = *when;
    const PublishAnswer answer = m_worker->hub()->publisher().publish(std::move(publish));
    if (!answer) {
        const PublishFailure &f = answer.error();
        if (f.store)
            sendPublishError(*f.store, &r);
        else
            sendError(f.code, f.message, &r);
        return;
    }
    QJsonObject published{{"type"_L1, "published"_L1}, {"channel"_L1, channel}};
    if (answer->id > 0)
        published.insert("id"_L1, answer->id);
    if (answer->duplicate)
        published.insert("duplicate"_L1, true);
    if (!answer->scheduled.isEmpty()) {
        published.insert("scheduled"_L1, answer->scheduled);
        published.insert("at"_L1, formatTimestamp(answer->deliverAt));
    }
    sendJson(published, &r);
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
    std::optional<Message> m = messageFrom(r, u"broadcast"_s);
    if (!m)
        return;
    const PublishResult id = m_worker->hub()->broadcastToAll(std::move(*m));
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

void WsSession::doWithdraw(const Request &r)
{
    // {"action":"withdraw","id":X}: as DELETE /api/messages/{id}, answered {"type":"withdrawn",...}.
    const auto id = optionalSequence(r.body, "id"_L1);
    if (!id || !id->has_value()) {
        sendError(ErrorCode::BadRequest, u"withdraw needs an 'id': a message id"_s, &r);
        return;
    }
    bool forbidden = false;
    const ChannelCheck check = [&](const QString &channel) -> std::optional<PublishFailure> {
        if (m_identity.canWrite(channel))
            return std::nullopt;
        if (!m_identity.canRead(channel)) // not found, as over REST
            return PublishFailure{404, ErrorCode::NotFound, u"no message %1"_s.arg(**id), std::nullopt};
        forbidden = true;
        return PublishFailure{403, ErrorCode::Forbidden, m_identity.refusal(channel, true), std::nullopt};
    };
    const auto done = m_worker->hub()->publisher().withdraw(**id, check);
    if (!done) {
        const PublishFailure &f = done.error();
        if (forbidden)
            allowed(false, f.message, &r);
        else if (f.store)
            sendPublishError(*f.store, &r);
        else
            sendError(f.code, f.message, &r);
        return;
    }
    sendJson(QJsonObject{{"type"_L1, "withdrawn"_L1},
                         {"id"_L1, done->id},
                         {"channel"_L1, done->channel},
                         {"withdraws"_L1, done->withdraws}},
             &r);
}

} // namespace Herald
