#include "readsapi.h"

#include "channelname.h"
#include "httpapi.h"
#include "httpjson.h"
#include "hub.h"
#include "logging.h"
#include "publisher.h"
#include "quiethours.h"
#include "request.h"

#include <QHttpServer>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QJsonArray>
#include <QMutex>
#include <QUrlQuery>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
using Method = QHttpServerRequest::Method;

// One change of read state at a time in this process: its count and its event go out in the order of the
// changes, so the last event a client gets has the latest count. (Across the nodes of a cluster two changes
// at once may still arrive in either order; the next change puts the count right.)
QMutex &changeLock()
{
    static QMutex lock;
    return lock;
}

RestResponse methodNotAllowed(const QString &path, const QString &allowed)
{
    RestResponse r = restError(405, ErrorCode::MethodNotAllowed,
                               u"method not allowed: %1 answers %2"_s.arg(path.left(200), allowed));
    r.setHeader("Allow", allowed.toLatin1());
    return r;
}

RestResponse preflight(const QString &allowed)
{
    RestResponse r = restNoContent();
    r.setHeader("Allow", allowed.toLatin1());
    r.setHeader("Access-Control-Allow-Methods", (allowed + u", OPTIONS"_s).toLatin1());
    r.setHeader("Access-Control-Allow-Headers", "Content-Type, Authorization, X-Client-Id");
    r.setHeader("Access-Control-Max-Age", "600");
    return r;
}

bool methodIn(const QByteArray &method, const QString &allowed)
{
    return allowed.split(u", "_s).contains(QString::fromLatin1(method));
}

RestResponse notFound(qint64 id)
{
    return restError(404, ErrorCode::NotFound, u"no stored notification %1"_s.arg(id));
}

QJsonArray idArray(const QList<qint64> &ids)
{
    QJsonArray list;
    for (qint64 id : ids)
        list.append(id);
    return list;
}
} // namespace

ReadsApi::ReadsApi(Hub *hub, const ServerConfig &config, QHttpServer *server, const HttpApi *api,
                   QObject *parent)
    : QObject(parent)
    , m_hub(hub)
    , m_config(config)
    , m_server(server)
    , m_api(api)
    , m_guard(hub)
{
    // The fixed names first: QHttpServer takes the first rule that matches, and <arg> would match them.
    route(u"/api/notifications/read-all"_s, u"POST"_s, [this](const RestRequest &r) { return markAll(r); });
    route(u"/api/notifications/read"_s, u"POST"_s,
          [this](const RestRequest &r) { return markList(r, true); });
    route(u"/api/notifications/unread"_s, u"POST"_s,
          [this](const RestRequest &r) { return markList(r, false); });
    route(u"/api/notifications/<arg>/read"_s, u"POST"_s,
          [this](const QString &id, const RestRequest &r) { return markOne(id, r, u"read"_s); });
    route(u"/api/notifications/<arg>/unread"_s, u"POST"_s,
          [this](const QString &id, const RestRequest &r) { return markOne(id, r, u"unread"_s); });
    route(u"/api/notifications/<arg>"_s, u"DELETE"_s,
          [this](const QString &id, const RestRequest &r) { return markOne(id, r, u"deleted"_s); });
    route(u"/api/users/<arg>/settings"_s, u"GET, HEAD, PUT"_s,
          [this](const QString &id, const RestRequest &r) { return settings(id, r); });
}

void ReadsApi::route(const QString &rule, const QString &allowed, Handler handler)
{
    m_server->route(
        rule, Method::AnyKnown,
        [this, rule, allowed, handler](const QHttpServerRequest &request, QHttpServerResponder &&responder) {
            const RestRequest r = restRequest(request);
            RestResponse response = r.method == "OPTIONS"          ? preflight(allowed)
                                    : !methodIn(r.method, allowed) ? methodNotAllowed(r.path, allowed)
                                                                   : handler(r);
            m_api->answer(std::move(response), request, std::move(responder));
        });
}

void ReadsApi::route(const QString &rule, const QString &allowed, ArgHandler handler)
{
    m_server->route(rule, Method::AnyKnown,
                    [this, allowed, handler](const QString &arg, const QHttpServerRequest &request,
                                             QHttpServerResponder &&responder) {
                        const RestRequest r = restRequest(request);
                        RestResponse response = r.method == "OPTIONS" ? preflight(allowed)
                                                : !methodIn(r.method, allowed)
                                                    ? methodNotAllowed(r.path, allowed)
                                                    : handler(arg, r);
                        m_api->answer(std::move(response), request, std::move(responder));
                    });
}

std::optional<RestResponse> ReadsApi::authorize(const RestRequest &request, const QString &userId)
{
    Identity who;
    if (auto refused = m_guard.identify(request, who))
        return refused;
    const QString queue = userChannel(userId);
    return m_guard.check(who.canRead(queue), who.refusal(queue, false));
}

Result<qint64, StoreError> ReadsApi::announce(const QString &userId, const QString &type, QJsonObject fields)
{
    auto unread = m_hub->history()->unreadCount(userChannel(userId));
    if (!unread)
        return unread;
    fields.insert("unread"_L1, *unread);
    publishEvent(userId, type, std::move(fields));
    return unread;
}

void ReadsApi::publishEvent(const QString &userId, const QString &type, QJsonObject fields)
{
    Message event;
    event.channel = readsChannel(userId);
    event.type = type;
    event.timestamp = QDateTime::currentDateTimeUtc();
    event.extra = std::move(fields);
    // The change is made: a failed event is logged, not answered as a failure (a retry would change nothing,
    // and the other devices catch up at their next change or reload).
    if (const PublishResult id = m_hub->publish(std::move(event)); !id)
        qCWarning(lcServer).noquote()
            << "the" << type << "event for user" << userId << "was not published:" << id.error().message;
}

RestResponse ReadsApi::markOne(const QString &idText, const RestRequest &request, const QString &change)
{
    Identity who;
    if (auto refused = m_guard.identify(request, who))
        return std::move(*refused);
    const auto id = parseSequence(idText);
    if (!id)
        return restError(422, ErrorCode::BadRequest, u"the notification id must be a non-negative integer"_s);
    History *history = m_hub->history();
    auto owner = history->channelOf(*id);
    if (!owner)
        return restStoreError(owner.error());
    // Another user's notification is "not found", not "forbidden": ids are guessable, queues are private.
    if (!owner->has_value() || !isUserChannel(**owner) || !who.canRead(**owner))
        return notFound(*id);
    const QString channel = **owner;
    const QString userId = channel.mid(Channels::UserPrefix.size());
    QMutexLocker lock(&changeLock());
    auto changed = change == u"deleted"_s ? history->removeFromQueue(channel, {*id})
                                          : history->setRead(channel, {*id}, change == u"read"_s);
    if (!changed)
        return restStoreError(changed.error());
    if (changed->isEmpty())
        return notFound(*id); // gone meanwhile
    auto unread = announce(userId, change, QJsonObject{{"ids"_L1, idArray(*changed)}});
    if (!unread)
        return restStoreError(unread.error());
    QJsonObject answer{{"id"_L1, *id}, {"user_id"_L1, userId}, {"unread"_L1, *unread}};
    if (change == u"deleted"_s)
        answer.insert("deleted"_L1, true);
    else
        answer.insert("read"_L1, change == u"read"_s);
    return restJson(answer);
}

RestResponse ReadsApi::markList(const RestRequest &request, bool read)
{
    QJsonObject body;
    if (auto error = readJsonBody(request.body, m_config.maxMessageSize, body))
        return std::move(*error);
    const QJsonValue user = body.value("user_id"_L1);
    // A number is taken as the page sends ids: user_id 1 is "1".
    const QString userId = user.isDouble() ? QString::number(user.toInteger()) : user.toString();
    if (!isValidIdentifier(userId))
        return restError(422, ErrorCode::BadRequest,
                         u"field 'user_id' is required: a string of [A-Za-z0-9_.:-]{1,121}"_s);
    if (auto refused = authorize(request, userId))
        return std::move(*refused);
    const QJsonValue list = body.value("ids"_L1);
    const QString idsMust = u"field 'ids' must be an array of 1 to %1 message ids"_s.arg(MaxIds);
    if (!list.isArray() || list.toArray().isEmpty() || list.toArray().size() > MaxIds)
        return restError(422, ErrorCode::BadRequest, idsMust);
    QList<qint64> ids;
    for (const QJsonValue &v : list.toArray()) {
        const double d = v.toDouble(-1);
        if (!v.isDouble() || d < 0 || d != double(qint64(d)))
            return restError(422, ErrorCode::BadRequest, idsMust);
        ids.append(qint64(d));
    }
    const QString channel = userChannel(userId);
    QMutexLocker lock(&changeLock());
    auto changed = m_hub->history()->setRead(channel, ids, read);
    if (!changed)
        return restStoreError(changed.error());
    const QString type = read ? u"read"_s : u"unread"_s;
    Result<qint64, StoreError> unread =
        changed->isEmpty() ? m_hub->history()->unreadCount(channel)
                           : announce(userId, type, QJsonObject{{"ids"_L1, idArray(*changed)}});
    if (!unread)
        return restStoreError(unread.error());
    // `ids`: those of the list that are in the queue (others are left out, as they are unknown to it).
    return restJson(QJsonObject{
        {"user_id"_L1, userId}, {"ids"_L1, idArray(*changed)}, {"read"_L1, read}, {"unread"_L1, *unread}});
}

RestResponse ReadsApi::markAll(const RestRequest &request)
{
    const QString userId = request.query.queryItemValue(u"user_id"_s);
    if (!isValidIdentifier(userId))
        return restError(422, ErrorCode::BadRequest, u"user_id is required: [A-Za-z0-9_.:-]{1,121}"_s);
    if (auto refused = authorize(request, userId))
        return std::move(*refused);
    // `up_to`: the newest id the client has shown (a device marks what it saw, not what is still on its way).
    qint64 asked = -1;
    if (request.query.hasQueryItem(u"up_to"_s)) {
        bool ok = false;
        asked = request.query.queryItemValue(u"up_to"_s).toLongLong(&ok);
        if (!ok || asked < 0)
            return restError(422, ErrorCode::BadRequest, u"up_to must be a message id (0 or more)"_s);
    }
    QMutexLocker lock(&changeLock());
    // Everything up to the last id this node has handed on: what its clients can have seen. A message
    // published after it stays unread, on every device alike.
    const qint64 upTo = asked >= 0 ? std::min(asked, m_hub->lastId()) : m_hub->lastId();
    auto marked = m_hub->history()->markReadUpTo(userChannel(userId), upTo);
    if (!marked)
        return restStoreError(marked.error());
    auto unread = announce(userId, u"read"_s, QJsonObject{{"all"_L1, true}, {"up_to"_L1, upTo}});
    if (!unread)
        return restStoreError(unread.error());
    return restJson(QJsonObject{
        {"user_id"_L1, userId}, {"marked"_L1, *marked}, {"unread"_L1, *unread}, {"up_to"_L1, upTo}});
}

RestResponse ReadsApi::settings(const QString &userId, const RestRequest &request)
{
    if (!isValidIdentifier(userId))
        return restError(422, ErrorCode::BadRequest, u"the user id must match [A-Za-z0-9_.:-]{1,121}"_s);
    if (auto refused = authorize(request, userId))
        return std::move(*refused);
    History *history = m_hub->history();
    if (request.method != "PUT") {
        auto stored = history->userSettings(userId);
        if (!stored)
            return restStoreError(stored.error());
        QJsonObject o = userSettingsFromStored(*stored).toJson();
        o.insert("user_id"_L1, userId);
        return restJson(o);
    }
    QJsonObject body;
    if (auto error = readJsonBody(request.body, m_config.maxMessageSize, body))
        return std::move(*error);
    auto parsed = userSettingsFromJson(body);
    if (!parsed)
        return restError(422, ErrorCode::BadRequest, parsed.error().message);
    const QJsonObject settings = parsed->toJson();
    QMutexLocker lock(&changeLock());
    if (auto saved = history->saveUserSettings(userId, compactJson(settings)); !saved)
        return restStoreError(saved.error());
    // This node's publishes see it from now on; other nodes on the event below (UserSettingsCache).
    m_hub->publisher().userSettings().forget(userId);
    publishEvent(userId, u"settings"_s, QJsonObject{{"settings"_L1, settings}});
    QJsonObject o = settings;
    o.insert("user_id"_L1, userId);
    return restJson(o);
}

} // namespace Herald
