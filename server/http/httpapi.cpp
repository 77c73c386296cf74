#include "httpapi.h"

#include "channelname.h"
#include "cluster.h"
#include "httpguard.h"
#include "httpjson.h"
#include "httprequesthead.h"
#include "hub.h"
#include "message.h"
#include "publisher.h"
#include "rawhttp.h"
#include "request.h"
#include "store.h"

#include <QFile>
#include <QFileInfo>
#include <QHttpServer>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QHttpServerResponse>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QMap>
#include <QUrlQuery>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
using Status = QHttpServerResponder::StatusCode;

QByteArray mimeTypeFor(const QString &path)
{
    static const QHash<QString, QByteArray> types = {
        {u"html"_s, "text/html; charset=utf-8"},
        {u"js"_s, "text/javascript; charset=utf-8"},
        {u"css"_s, "text/css; charset=utf-8"},
        {u"json"_s, "application/json"},
        {u"svg"_s, "image/svg+xml"},
        {u"png"_s, "image/png"},
        {u"ico"_s, "image/x-icon"},
        {u"wav"_s, "audio/wav"},
        {u"mp3"_s, "audio/mpeg"},
        {u"map"_s, "application/json"},
        {u"txt"_s, "text/plain; charset=utf-8"},
    };
    return types.value(QFileInfo(path).suffix().toLower(), "application/octet-stream");
}

} // namespace

HttpApi::HttpApi(Hub *hub, const ServerConfig &config, QHttpServer *server, QObject *parent)
    : QObject(parent)
    , m_hub(hub)
    , m_config(config)
    , m_server(server)
    , m_guard(hub)
    , m_started(QDateTime::currentDateTimeUtc())
{
    registerRoutes();
}

void HttpApi::addRoute(const QString &rule, bool get, Handler handler)
{
    using Method = QHttpServerRequest::Method;
    m_routes.append({rule, get ? "GET, HEAD" : "POST"});
    m_server->route(rule, get ? Method::Get | Method::Head : Method::Post,
                    [this, handler](const QHttpServerRequest &request, QHttpServerResponder &&responder) {
                        answer(handler(restRequest(request)), request, std::move(responder));
                    });
}

void HttpApi::addRoute(const QString &rule, bool get, ArgHandler handler)
{
    using Method = QHttpServerRequest::Method;
    m_routes.append({rule, get ? "GET, HEAD" : "POST"});
    m_server->route(rule, get ? Method::Get | Method::Head : Method::Post,
                    [this, handler](const QString &arg, const QHttpServerRequest &request,
                                    QHttpServerResponder &&responder) {
                        answer(handler(arg, restRequest(request)), request, std::move(responder));
                    });
}

void HttpApi::addDeleteRoute(const QString &rule, ArgHandler handler)
{
    m_routes.append({rule, "DELETE"});
    m_server->route(rule, QHttpServerRequest::Method::Delete,
                    [this, handler](const QString &arg, const QHttpServerRequest &request,
                                    QHttpServerResponder &&responder) {
                        answer(handler(arg, restRequest(request)), request, std::move(responder));
                    });
}

QByteArray HttpApi::allowedMethods(const QString &path) const
{
    // The rules' own syntax: <arg> is one path segment.
    const QStringList segments = path.split(u'/');
    for (const auto &[rule, methods] : m_routes) {
        const QStringList parts = rule.split(u'/');
        if (parts.size() != segments.size())
            continue;
        bool match = true;
        for (qsizetype i = 0; i < parts.size() && match; ++i)
            match = parts.at(i) == u"<arg>"_s ? !segments.at(i).isEmpty() : parts.at(i) == segments.at(i);
        if (match)
            return methods;
    }
    return {};
}

void HttpApi::answer(RestResponse &&response, const QHttpServerRequest &request,
                     QHttpServerResponder &&responder) const
{
    Metrics::add(m_hub->metrics().httpRequests);
    for (const auto &[name, value] : corsHeaders(request.value("Origin")))
        response.setHeader(name, value);
    // One request per connection here: the worker reads every request head itself, so that a reused
    // connection cannot carry an SSE stream (browsers reuse idle ones for EventSource) or a body past the
    // size and smuggling checks to QHttpServer, which would buffer any of them. The hot routes keep their
    // connections alive: the worker serves those itself (serveHot), and sees the next head first.
    response.setHeader("Connection", "close");
    writeResponse(response, request, std::move(responder));
}

void HttpApi::registerRoutes()
{
    constexpr bool Get = true;
    constexpr bool Post = false;
    addRoute(u"/"_s, Get, [this](const RestRequest &) { return staticFile(u":/web/index.html"_s); });
    addRoute(u"/ws/stats"_s, Get, [this](const RestRequest &r) { return stats(r); });
    addRoute(u"/api/stats"_s, Get, [this](const RestRequest &r) { return stats(r); });
    addRoute(u"/healthz"_s, Get, [this](const RestRequest &) { return health(); });
    addRoute(u"/metrics"_s, Get, [this](const RestRequest &r) { return metrics(r); });
    // One-shot requests: their publishes commit at once, nothing holds the answer.
    addRoute(u"/api/publish"_s, Post, [this](const RestRequest &r) { return publish(r, nullptr); });
    addRoute(u"/api/notifications"_s, Get, [this](const RestRequest &r) { return notifications(r); });
    // Read state and settings: ReadsApi.
    addRoute(u"/api/channels"_s, Get, [this](const RestRequest &r) { return channels(r); });
    addDeleteRoute(u"/api/messages/<arg>"_s,
                   [this](const QString &id, const RestRequest &r) { return withdraw(id, r); });
    addRoute(u"/api/channels/<arg>/events"_s, Post, [this](const QString &channel, const RestRequest &r) {
        return publishChannelEvent(channel, r, nullptr);
    });
    addRoute(u"/api/broadcast"_s, Post, [this](const RestRequest &r) { return broadcast(r); });
    addRoute(u"/api/channels/<arg>/history"_s, Get,
             [this](const QString &channel, const RestRequest &r) { return history(channel, r); });
    // WebSocket upgrades and event streams are the worker's sessions, GET only: noted here so that another
    // method on them is a 405 too. A HEAD cannot open a stream, so it is one of those (Allow: GET).
    for (const QString &rule : {u"/ws"_s, u"/ws/<arg>"_s, u"/events"_s, u"/events/<arg>"_s})
        m_routes.append({rule, "GET"});

    // Assets under /static/ may be nested (static/bootstrap/css/…), which the 6.4 router's <arg> cannot
    // match, so they are looked up here; a known path asked with another method is a 405 naming the ones it
    // has; everything else is a JSON 404.
    m_server->setMissingHandler([this](const QHttpServerRequest &request, QHttpServerResponder &&responder) {
        const QString path = request.url().path();
        if (request.method() == QHttpServerRequest::Method::Options) {
            // CORS preflight for the REST API: a page on an allowed origin may send JSON and a bearer token.
            RestResponse r = restNoContent();
            r.setHeader("Access-Control-Allow-Methods", "GET, POST, PATCH, PUT, DELETE, OPTIONS");
            r.setHeader("Access-Control-Allow-Headers",
                        "Content-Type, Authorization, X-Client-Id, Idempotency-Key");
            r.setHeader("Access-Control-Max-Age", "600");
            answer(std::move(r), request, std::move(responder));
            return;
        }
        const bool read = request.method() == QHttpServerRequest::Method::Get ||
                          request.method() == QHttpServerRequest::Method::Head;
        if (path.startsWith(u"/static/"_s) && !path.contains(u".."_s)) {
            const QString resource = u":/web"_s + path;
            if (QFileInfo(resource).isFile()) {
                RestResponse r = read ? staticFile(resource)
                                      : restError(405, ErrorCode::MethodNotAllowed,
                                                  u"%1 is read with GET or HEAD"_s.arg(path));
                if (!read)
                    r.setHeader("Allow", "GET, HEAD");
                answer(std::move(r), request, std::move(responder));
                return;
            }
        }
        // A GET that reaches this handler on a session route is not an upgrade: no route, as before.
        if (const QByteArray allow = allowedMethods(path);
            !allow.isEmpty() &&
            !(request.method() == QHttpServerRequest::Method::Get && allow.startsWith("GET"))) {
            // RFC 9110 15.5.6: the resource exists, not with this method; Allow says which it has.
            RestResponse r =
                restError(405, ErrorCode::MethodNotAllowed,
                          u"method not allowed: %1 answers %2"_s.arg(path, QString::fromLatin1(allow)));
            r.setHeader("Allow", allow);
            answer(std::move(r), request, std::move(responder));
            return;
        }
        answer(restError(404, ErrorCode::NotFound, u"no route for %1"_s.arg(path)), request,
               std::move(responder));
    });
}

HttpApi::HotRoute HttpApi::hotRoute(const HttpRequestHead &head)
{
    using Kind = HotRoute::Kind;
    for (const QByteArrayView name : {"origin", "authorization", "x-client-id"}) {
        if (head.headerValues(name).size() > 1)
            return {};
    }
    const qsizetype questionMark = head.target.indexOf('?');
    const QByteArrayView path =
        QByteArrayView(head.target).first(questionMark < 0 ? head.target.size() : questionMark);
    if (head.method == "POST") {
        if (path == "/api/publish")
            return {Kind::Publish, {}};
        // /api/channels/{channel}/events, the channel in the characters a channel name may have.
        constexpr QByteArrayView Prefix("/api/channels/");
        constexpr QByteArrayView Suffix("/events");
        if (path.startsWith(Prefix) && path.endsWith(Suffix) && path.size() > Prefix.size() + Suffix.size()) {
            const QByteArrayView channel =
                path.sliced(Prefix.size(), path.size() - Prefix.size() - Suffix.size());
            for (const char ch : channel) {
                const bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                                   (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == ':' ||
                                   ch == '-';
                if (!plain)
                    return {};
            }
            // Only dots: a router that normalises the path would read "/api/channels/../events" otherwise.
            if (channel.count('.') == channel.size())
                return {};
            return {Kind::ChannelEvent, QString::fromLatin1(channel)};
        }
    } else if (head.method == "GET" && path == "/healthz") {
        return {Kind::Health, {}};
    }
    return {};
}

RestResponse HttpApi::serveHot(const HotRoute &route, const RestRequest &request,
                               const PublishOptions &options)
{
    RestResponse response;
    switch (route.kind) {
    case HotRoute::Kind::Publish:
        response = publish(request, &options);
        break;
    case HotRoute::Kind::ChannelEvent:
        response = publishChannelEvent(route.channel, request, &options);
        break;
    case HotRoute::Kind::Health:
        response = health();
        break;
    case HotRoute::Kind::None:
        response = restError(404, ErrorCode::NotFound, u"no route for %1"_s.arg(request.path));
        break;
    }
    // What answer() does for QHttpServer's routes.
    Metrics::add(m_hub->metrics().httpRequests);
    for (const auto &[name, value] : corsHeaders(request.header("origin")))
        response.setHeader(name, value);
    return response;
}

HeaderList HttpApi::corsHeaders(QByteArrayView origin) const
{
    // CORS for the REST API: "*" where tokens protect the data (token mode, no --allowed-origins) or with
    // --allowed-origins *; else the allowed origins only, echoed. A page of the server's own needs none.
    const AuthPolicy &auth = m_hub->auth();
    if (auth.corsAnyOrigin())
        return {{"Access-Control-Allow-Origin", "*"}};
    if (!origin.isEmpty() && auth.originAllowed(origin, {}))
        return {{"Access-Control-Allow-Origin", origin.toByteArray()}, {"Vary", "Origin"}};
    return {};
}

RestResponse HttpApi::staticFile(const QString &resourcePath) const
{
    QFile file(resourcePath);
    if (!file.open(QIODevice::ReadOnly))
        return restError(404, ErrorCode::NotFound, u"no such file"_s);
    RestResponse response;
    response.contentType = mimeTypeFor(resourcePath);
    response.body = file.readAll();
    response.setHeader("Cache-Control", "no-cache");
    return response;
}

RestResponse HttpApi::stats(const RestRequest &request) const
{
    Identity who;
    if (auto refused = m_guard.identify(request, who))
        return std::move(*refused);
    return restJson(m_hub->stats(&who));
}

RestResponse HttpApi::health() const
{
    const HubCounts c = m_hub->counts();
    const Cluster *cluster = m_hub->cluster();
    // A node off the cluster bus, or whose store refuses writes (full, locked, failing), still serves its own
    // connections: 200, and "degraded" with the reason for monitoring.
    const bool busDown = cluster && !cluster->isBusUp();
    const Store *store = m_hub->store();
    const std::optional<StoreError> storeFailure = store ? store->writeFailure() : std::nullopt;
    const bool degraded = busDown || storeFailure;
    QJsonObject o{{"status"_L1, degraded ? "degraded"_L1 : "ok"_L1},
                  {"version"_L1, QStringLiteral(HERALD_VERSION)},
                  {"uptime_seconds"_L1, m_started.secsTo(QDateTime::currentDateTimeUtc())},
                  {"clients"_L1, c.clients},
                  {"subscribers"_L1, c.subscribers},
                  {"last_id"_L1, m_hub->lastId()},
                  {"epoch"_L1, m_hub->epoch()},
                  // Public like the rest of /healthz: a page learns it must ask for a token before it is
                  // refused (a refused WebSocket upgrade cannot tell a browser why).
                  {"auth"_L1, m_hub->auth().tokenMode() ? "token"_L1 : "open"_L1}};
    if (storeFailure) {
        o.insert("store"_L1, storeFailure->kind == StoreError::Kind::Full ? "full"_L1 : "failing"_L1);
        o.insert("reason"_L1, storeFailure->message);
    }
    if (cluster) {
        o.insert("node"_L1, cluster->nodeId());
        o.insert("redis"_L1, busDown ? "down"_L1 : "up"_L1);
        o.insert("nodes"_L1, int(cluster->peers().size()) + 1);
    }
    return restJson(o);
}

RestResponse HttpApi::metrics(const RestRequest &request) const
{
    Identity who;
    if (auto refused = m_guard.identify(request, who))
        return std::move(*refused);
    // Operational detail about everyone: for operators (an admin token, e.g. a Prometheus scrape config).
    if (auto refused = m_guard.check(who.isAdmin(), u"/metrics needs an admin token"_s))
        return std::move(*refused);
    const Metrics &m = m_hub->metrics();
    const HubCounts c = m_hub->counts();
    QByteArray out;
    auto metric = [&out](const char *name, const char *type, const char *help,
                         std::initializer_list<std::pair<QByteArray, qint64>> samples) {
        out += QByteArray("# HELP ") + name + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n';
        for (const auto &[labels, value] : samples)
            out += QByteArray(name) + labels + ' ' + QByteArray::number(value) + '\n';
    };
    metric("herald_connections", "gauge", "Open client connections by transport.",
           {{"{transport=\"websocket\"}", Metrics::get(m.wsConnections)},
            {"{transport=\"sse\"}", Metrics::get(m.sseConnections)}});
    metric("herald_connections_total", "counter", "Client connections accepted since start, by transport.",
           {{"{transport=\"websocket\"}", Metrics::get(m.wsConnectionsTotal)},
            {"{transport=\"sse\"}", Metrics::get(m.sseConnectionsTotal)}});
    metric("herald_clients", "gauge", "Connected clients (dashboards excluded).", {{"", c.clients}});
    metric("herald_subscribers", "gauge", "Clients with at least one subscription.", {{"", c.subscribers}});
    metric("herald_channels", "gauge", "Channels with at least one subscriber.",
           {{"", qint64(m_hub->liveChannelCount())}});
    metric("herald_messages_in_total", "counter", "Messages published into the hub.",
           {{"", Metrics::get(m.messagesPublished)}});
    metric("herald_messages_out_total", "counter", "Messages written to clients (one per recipient).",
           {{"", Metrics::get(m.messagesDelivered)}});
    metric("herald_frames_in_total", "counter", "WebSocket text frames received from clients.",
           {{"", Metrics::get(m.framesIn)}});
    metric("herald_protocol_errors_total", "counter", "Malformed frames and requests answered with an error.",
           {{"", Metrics::get(m.protocolErrors)}});
    metric("herald_http_requests_total", "counter", "HTTP requests answered by the REST API.",
           {{"", Metrics::get(m.httpRequests)}});
    metric("herald_last_message_id", "gauge", "The last message id handed out.", {{"", m_hub->lastId()}});
    metric("herald_messages_replayed_total", "counter", "Stored messages sent to resuming clients.",
           {{"", Metrics::get(m.messagesReplayed)}});
    metric("herald_store_errors_total", "counter", "Publishes refused because the store could not commit.",
           {{"", Metrics::get(m.storeErrors)}});
    metric("herald_refusals_total", "counter", "Requests and connections refused by the security rules.",
           {{"{reason=\"unauthorized\"}", Metrics::get(m.refusedUnauthorized)},
            {"{reason=\"forbidden\"}", Metrics::get(m.refusedForbidden)},
            {"{reason=\"origin\"}", Metrics::get(m.refusedOrigin)},
            {"{reason=\"connection_cap\"}", Metrics::get(m.connectionsCapped)},
            {"{reason=\"subscription_cap\"}", Metrics::get(m.subscriptionsCapped)}});
    metric("herald_rate_limited_total", "counter", "Client frames dropped by the per-connection rate limit.",
           {{"", Metrics::get(m.rateLimited)}});
    metric("herald_slow_consumers_total", "counter", "Clients cut off because their send buffer was full.",
           {{"", Metrics::get(m.slowConsumers)}});
    metric("herald_send_queue_peak_bytes", "gauge",
           "The most bytes queued for one client that it had not read yet (bounded by the send buffer).",
           {{"", Metrics::get(m.sendQueuePeak)}});
    metric("herald_idle_timeouts_total", "counter", "WebSockets closed after the idle timeout.",
           {{"", Metrics::get(m.idleTimeouts)}});
    metric("herald_timeouts_total", "counter", "Connections closed at a deadline, by the phase they were in.",
           {{"{phase=\"handshake\"}", Metrics::get(m.handshakeTimeouts)},
            {"{phase=\"head\"}", Metrics::get(m.headTimeouts)},
            {"{phase=\"body\"}", Metrics::get(m.bodyTimeouts)},
            {"{phase=\"write\"}", Metrics::get(m.writeTimeouts)}});
    metric("herald_group_commits_total", "counter",
           "Transactions that stored several REST publishes at once.", {{"", Metrics::get(m.groupCommits)}});
    metric("herald_group_committed_total", "counter", "REST publishes stored by those transactions.",
           {{"", Metrics::get(m.groupCommitted)}});
    RestResponse response;
    response.contentType = "text/plain; version=0.0.4; charset=utf-8";
    response.body = std::move(out);
    return response;
}

std::optional<RestResponse> HttpApi::readPaging(const QUrlQuery &query, Paging &paging)
{
    // since/before: ids; limit: 1..MaxLimit. Anything else is a 422 naming the parameter.
    for (auto [key, target] :
         {std::pair{u"since"_s, &paging.since}, std::pair{u"before"_s, &paging.before}}) {
        if (!query.hasQueryItem(key))
            continue;
        const auto v = parseSequence(query.queryItemValue(key));
        if (!v)
            return restError(422, ErrorCode::BadRequest,
                             u"%1 must be a non-negative integer (a message id)"_s.arg(key));
        *target = *v;
    }
    if (query.hasQueryItem(u"limit"_s)) {
        bool ok = false;
        const int limit = query.queryItemValue(u"limit"_s).toInt(&ok);
        if (!ok || limit < 1 || limit > MaxLimit)
            return restError(422, ErrorCode::BadRequest,
                             u"limit must be an integer from 1 to %1"_s.arg(MaxLimit));
        paging.limit = limit;
    }
    return std::nullopt;
}

RestResponse HttpApi::withRecovered(QJsonObject page, const QString &channel, qint64 since) const
{
    // With a resume point, whether the history after it is complete (SPEC section 2's "recovered").
    if (since >= 0) {
        auto covered = m_hub->history()->covers(channel, since);
        if (!covered)
            return restStoreError(covered.error());
        const bool reset = since > m_hub->lastId();
        page.insert("recovered"_L1, *covered && !reset);
        // Why not, as in the replay frame (append only).
        if (reset)
            page.insert("reason"_L1, replayGapName(ReplayGap::Reset));
        else if (!*covered)
            page.insert("reason"_L1, replayGapName(ReplayGap::Expired));
    }
    return restJson(page);
}

QJsonArray HttpApi::messagesJson(const StoredPage &page, bool withRead)
{
    QJsonArray list;
    for (qsizetype i = 0; i < page.messages.size(); ++i) {
        QJsonObject o = page.messages.at(i).toJson();
        if (withRead)
            o.insert("read"_L1, page.read.value(i));
        list.append(o);
    }
    return list;
}

RestResponse HttpApi::notifications(const RestRequest &request)
{
    Identity who;
    if (auto refused = m_guard.identify(request, who))
        return std::move(*refused);
    const QUrlQuery &query = request.query;
    const QString userId = query.queryItemValue(u"user_id"_s);
    if (userId.isEmpty())
        return restError(422, ErrorCode::BadRequest, u"user_id is required"_s);
    if (!isValidIdentifier(userId))
        return restError(422, ErrorCode::BadRequest, u"user_id must match [A-Za-z0-9_.:-]{1,121}"_s);
    Paging paging;
    if (auto error = readPaging(query, paging))
        return std::move(*error);
    History *store = m_hub->history();
    const QString channel = userChannel(userId);
    if (auto refused = m_guard.check(who.canRead(channel), who.refusal(channel, false)))
        return std::move(*refused);
    // Read before the list: a client keeps what came live after it (the page's reload), so a message
    // published during the read must not be named by it.
    const qint64 lastId = m_hub->lastId();
    auto page = store->history(channel, paging.since, paging.before, paging.limit);
    if (!page)
        return restStoreError(page.error());
    auto unread = store->unreadCount(channel);
    if (!unread)
        return restStoreError(unread.error());
    QJsonObject o{{"user_id"_L1, userId},
                  {"channel"_L1, channel},
                  {"notifications"_L1, messagesJson(*page, true)},
                  {"unread"_L1, *unread},
                  {"has_more"_L1, page->hasMore},
                  {"last_id"_L1, lastId}};
    return withRecovered(std::move(o), channel, paging.since);
}

RestResponse HttpApi::channels(const RestRequest &request) const
{
    Identity who;
    if (auto refused = m_guard.identify(request, who))
        return std::move(*refused);
    // One page, in name order: ?limit= (1 to MaxLimit, default DefaultChannelPage) after ?after=<name>. It
    // is built on an I/O thread, so its work is the page's, not the number of channels: the store and the
    // hub each give at most limit + 1 names after the cursor (the hub under its lock for that long only).
    const QUrlQuery &query = request.query;
    int limit = DefaultChannelPage;
    if (query.hasQueryItem(u"limit"_s)) {
        bool ok = false;
        limit = query.queryItemValue(u"limit"_s).toInt(&ok);
        if (!ok || limit < 1 || limit > MaxLimit)
            return restError(422, ErrorCode::BadRequest,
                             u"limit must be an integer from 1 to %1"_s.arg(MaxLimit));
    }
    const QString after = query.queryItemValue(u"after"_s, QUrl::FullyDecoded);
    if (!after.isEmpty() && !isValidChannelName(after))
        return restError(422, ErrorCode::BadChannel,
                         u"after must be a channel name: the 'next' of the previous page"_s);
    auto stored = m_hub->history()->channels(after, limit + 1);
    if (!stored)
        return restStoreError(stored.error());
    const QList<std::pair<QString, int>> live = m_hub->liveChannels(after, limit + 1);
    // Both lists are sorted: merge them, each name once, up to limit + 1 names (one more tells has_more).
    QJsonArray list;
    QString last;
    int taken = 0;
    bool more = false;
    auto s = stored->cbegin();
    auto l = live.cbegin();
    while (s != stored->cend() || l != live.cend()) {
        const bool fromStored = s != stored->cend() && (l == live.cend() || s->name <= l->first);
        const bool fromLive = l != live.cend() && (s == stored->cend() || l->first <= s->name);
        const QString &name = fromStored ? s->name : l->first;
        if (taken == limit) {
            more = true;
            break;
        }
        ++taken;
        last = name;
        if (who.canRead(name)) { // another user's queue is not even listed
            const int subscribers = fromLive ? l->second : 0;
            if (fromStored) {
                list.append(QJsonObject{{"name"_L1, name},
                                        {"subscribers"_L1, subscribers},
                                        {"stored"_L1, s->messages},
                                        {"last_id"_L1, s->lastId},
                                        {"last_message_at"_L1, formatTimestamp(s->lastMessageAt)},
                                        {"persistent"_L1, m_hub->history()->isPersistent(name)}});
            } else {
                list.append(QJsonObject{{"name"_L1, name},
                                        {"subscribers"_L1, subscribers},
                                        {"stored"_L1, 0},
                                        {"persistent"_L1, m_hub->history()->isPersistent(name)}});
            }
        }
        if (fromStored)
            ++s;
        if (fromLive)
            ++l;
    }
    QJsonObject o{{"channels"_L1, list}, {"last_id"_L1, m_hub->lastId()}, {"has_more"_L1, more}};
    if (more)
        o.insert("next"_L1, last);
    return restJson(o);
}

RestResponse HttpApi::history(const QString &channel, const RestRequest &request)
{
    Identity who;
    if (auto refused = m_guard.identify(request, who))
        return std::move(*refused);
    if (!isValidChannelName(channel))
        return restError(422, ErrorCode::BadChannel, invalidChannelMessage(channel));
    if (auto refused = m_guard.check(who.canRead(channel), who.refusal(channel, false)))
        return std::move(*refused);
    Paging paging;
    if (auto error = readPaging(request.query, paging))
        return std::move(*error);
    History *store = m_hub->history();
    auto known = store->knows(channel);
    if (!known)
        return restStoreError(known.error());
    if (!*known && m_hub->subscriberCount(channel) == 0)
        return restError(404, ErrorCode::NotFound,
                         u"no channel '%1': nothing was published on it"_s.arg(channel));
    auto page = store->history(channel, paging.since, paging.before, paging.limit);
    if (!page)
        return restStoreError(page.error());
    QJsonObject o{{"channel"_L1, channel},
                  {"messages"_L1, messagesJson(*page, false)},
                  {"has_more"_L1, page->hasMore},
                  {"last_id"_L1, m_hub->lastId()}};
    return withRecovered(std::move(o), channel, paging.since);
}

RestResponse HttpApi::publishChannelEvent(const QString &channel, const RestRequest &request,
                                          const PublishOptions *options)
{
    // Seed 004's broadcast_custom("user_login", {...}): {"type":"user_login","channel":…,"data":…}, with
    // "model" on a model channel like its created/updated/deleted events.
    Identity who;
    if (auto refused = m_guard.identify(request, who))
        return std::move(*refused);
    if (!isValidChannelName(channel))
        return restError(422, ErrorCode::BadChannel, invalidChannelMessage(channel));
    if (auto refused = m_guard.check(who.canWrite(channel), who.refusal(channel, true)))
        return std::move(*refused);
    QJsonObject o;
    if (auto error = readJsonBody(request.body, m_config.maxMessageSize, o))
        return std::move(*error);
    // The event name may come as "type" (a message's field) or "event" (what the seed calls it).
    if (!o.contains("type"_L1) && o.value("event"_L1).isString())
        o.insert("type"_L1, o.take("event"_L1));
    if (!o.value("type"_L1).isString())
        return restError(422, ErrorCode::BadRequest, u"field 'type' (the event name) is required"_s);
    o.remove("event"_L1);
    auto message = messageFromPayload(o, QString());
    if (!message)
        return restError(422, message.error().code, message.error().message);
    Message m = std::move(message).value();
    m.channel = channel;
    const QString clientId = QString::fromUtf8(request.header("x-client-id"));
    m.sender = who.senderFor(clientId, m.sender);
    if (m_hub->isModelChannel(channel))
        m.extra.insert("model"_L1, channel);
    const PublishResult id = m_hub->publish(std::move(m), clientId, nullptr, options);
    if (!id)
        return restStoreError(id.error());
    return restJson(QJsonObject{{"id"_L1, *id}, {"channel"_L1, channel}}, 202);
}

RestResponse HttpApi::broadcast(const RestRequest &request)
{
    // Seed 004's broadcast_to_all_channels({"type":"maintenance","message":…}): every connected client.
    Identity who;
    if (auto refused = m_guard.identify(request, who))
        return std::move(*refused);
    const QString everyone = Channels::Broadcast.toString();
    if (auto refused = m_guard.check(who.canWrite(everyone), who.refusal(everyone, true)))
        return std::move(*refused);
    QJsonObject o;
    if (auto error = readJsonBody(request.body, m_config.maxMessageSize, o))
        return std::move(*error);
    auto message = publishedMessageFromPayload(o, u"broadcast"_s);
    if (!message)
        return restError(422, message.error().code, message.error().message);
    Message m = std::move(message).value();
    m.sender = who.senderFor(QString::fromUtf8(request.header("x-client-id")), m.sender);
    const PublishResult id = m_hub->broadcastToAll(std::move(m));
    if (!id)
        return restStoreError(id.error());
    return restJson(QJsonObject{{"id"_L1, *id}, {"channel"_L1, Channels::Broadcast.toString()}}, 202);
}

RestResponse HttpApi::publish(const RestRequest &request, const PublishOptions *options)
{
    Identity who;
    if (auto refused = m_guard.identify(request, who))
        return std::move(*refused);
    QJsonObject o;
    if (auto error = readJsonBody(request.body, m_config.maxMessageSize, o))
        return std::move(*error);
    const QJsonValue channel = o.value("channel"_L1);
    if (!channel.isString())
        return restError(422, ErrorCode::BadRequest, u"field 'channel' is required and must be a string"_s);
    if (!isValidChannelName(channel.toString()))
        return restError(422, ErrorCode::BadChannel, invalidChannelMessage(channel.toString()));
    if (auto refused = m_guard.check(who.canWrite(channel.toString()), who.refusal(channel.toString(), true)))
        return std::move(*refused);
    auto message = publishedMessageFromPayload(o, u"message"_s);
    if (!message)
        return restError(422, message.error().code, message.error().message);
    PublishRequest publish;
    publish.message = std::move(message).value();
    publish.message.channel = channel.toString();
    publish.excludeClientId = QString::fromUtf8(request.header("x-client-id"));
    publish.message.sender = who.senderFor(publish.excludeClientId, publish.message.sender);
    publish.options = options;
    if (auto refused = readDelivery(request, o, who, publish))
        return std::move(*refused);
    return publishAnswer(m_hub->publisher().publish(std::move(publish)), channel.toString());
}

std::optional<RestResponse> HttpApi::readDelivery(const RestRequest &request, const QJsonObject &body,
                                                  const Identity &who, PublishRequest &publish)
{
    // The key may come as the Idempotency-Key header (IETF draft, Stripe's and Centrifugo's name) or, as in
    // frames, the idempotency_key field; the header wins.
    const QList<QByteArray> keys = request.headerValues("idempotency-key");
    if (keys.size() > 1)
        return restError(422, ErrorCode::BadRequest,
                         u"one Idempotency-Key header, not %1"_s.arg(keys.size()));
    if (!keys.isEmpty()) {
        publish.idempotencyKey = QString::fromLatin1(keys.first()).trimmed();
        if (!isValidIdempotencyKey(publish.idempotencyKey))
            return restError(422, ErrorCode::BadRequest,
                             u"header 'Idempotency-Key' must be 1 to 128 printable ASCII characters"_s);
    } else {
        auto key = idempotencyKeyFromPayload(body);
        if (!key)
            return restError(422, key.error().code, key.error().message);
        publish.idempotencyKey = key->value_or(QString());
    }
    publish.idempotencyScope = who.subject;
    auto when = scheduleFromPayload(body, publish.message.timestamp);
    if (!when)
        return restError(422, when.error().code, when.error().message);
    publish.deliverAt = *when;
    return std::nullopt;
}

RestResponse HttpApi::publishAnswer(const PublishAnswer &answer, const QString &channel)
{
    if (!answer) {
        const PublishFailure &f = answer.error();
        return f.store ? restStoreError(*f.store) : restError(f.status, f.code, f.message);
    }
    QJsonObject o{{"channel"_L1, channel}};
    if (answer->id > 0)
        o.insert("id"_L1, answer->id);
    if (answer->duplicate)
        o.insert("duplicate"_L1, true);
    if (!answer->scheduled.isEmpty()) {
        o.insert("scheduled"_L1, answer->scheduled);
        o.insert("at"_L1, formatTimestamp(answer->deliverAt));
    }
    return restJson(o, 202);
}

} // namespace Herald
