#pragma once

#include "httpguard.h"
#include "publisher.h"
#include "restrequest.h"
#include "serverconfig.h"

#include <QDateTime>
#include <QJsonArray>
#include <QObject>

#include <functional>
#include <optional>

class QHttpServer;
class QHttpServerRequest;
class QHttpServerResponder;
class QUrlQuery;

namespace Herald {

class Hub;
struct HttpRequestHead;
struct PublishOptions;
struct StoreError;
struct StoredPage;

// The REST API and the pages (SPEC section 5), as routes of a worker's QHttpServer (one per I/O thread).
// The hot routes are also served on the workers' keep-alive connections (PlainConnection, through the
// RequestRouter) by serveHot(): the same handlers, so both ways answer alike.
class HttpApi : public QObject
{
    Q_OBJECT

public:
    HttpApi(Hub *hub, const ServerConfig &config, QHttpServer *server, QObject *parent = nullptr);

    // The hot routes: POST /api/publish, POST /api/channels/{channel}/events and GET /healthz.
    struct HotRoute
    {
        enum class Kind
        {
            None,
            Publish,
            ChannelEvent,
            Health,
        };
        Kind kind = Kind::None;
        QString channel; // ChannelEvent
    };
    // Only plain spellings match (no percent-encoding, no header the handlers read sent twice): whatever
    // QHttpServer might read differently stays with it, and the answer cannot depend on which way a request
    // went.
    static HotRoute hotRoute(const HttpRequestHead &head);
    // The route's handler, then what answer() adds (CORS), counted in /metrics. A publish goes to the hub
    // with `options`: the keep-alive connection's watch and group commit.
    RestResponse serveHot(const HotRoute &route, const RestRequest &request, const PublishOptions &options);

    // How every QHttpServer route answers (the model routes too): counted in /metrics, CORS, the connection
    // closed after it, and for HEAD the head alone. The one place a handler's RestResponse becomes
    // QHttpServer's answer.
    void answer(RestResponse &&response, const QHttpServerRequest &request,
                QHttpServerResponder &&responder) const;

private:
    static constexpr int MaxLimit = 1000;
    static constexpr int DefaultChannelPage = 100; // GET /api/channels without ?limit=
    struct Paging
    {
        qint64 since = -1; // -1: not given
        qint64 before = 0; // 0: not given
        int limit = 50;
    };

    static std::optional<RestResponse> readPaging(const QUrlQuery &query, Paging &paging);
    static QJsonArray messagesJson(const StoredPage &page, bool withRead);
    RestResponse withRecovered(QJsonObject page, const QString &channel, qint64 since) const;

    void registerRoutes();
    // Registers a route answering GET and HEAD, or POST, and notes it for allowedMethods().
    using Handler = std::function<RestResponse(const RestRequest &)>;
    using ArgHandler = std::function<RestResponse(const QString &, const RestRequest &)>;
    void addRoute(const QString &rule, bool get, Handler handler);
    void addRoute(const QString &rule, bool get, ArgHandler handler);
    void addDeleteRoute(const QString &rule, ArgHandler handler);
    // The Allow header for a path one of these routes has, whatever its method; empty for an unknown path.
    QByteArray allowedMethods(const QString &path) const;
    HeaderList corsHeaders(QByteArrayView origin) const;
    RestResponse stats(const RestRequest &request) const;
    RestResponse health() const;
    RestResponse metrics(const RestRequest &request) const;
    // `options`: how Hub::publish commits and whom it tells (nullptr: at once, nobody waits).
    RestResponse publish(const RestRequest &request, const PublishOptions *options);
    // A publish's Idempotency-Key and schedule ("at", "delay"), into `publish`; a bad one is a 422.
    static std::optional<RestResponse> readDelivery(const RestRequest &request, const QJsonObject &body,
                                                    const Identity &who, PublishRequest &publish);
    static RestResponse publishAnswer(const PublishAnswer &answer, const QString &channel);
    RestResponse notifications(const RestRequest &request);
    // DELETE /api/messages/{id} (messageapi.cpp).
    RestResponse withdraw(const QString &idText, const RestRequest &request);
    RestResponse channels(const RestRequest &request) const;
    RestResponse history(const QString &channel, const RestRequest &request);
    RestResponse publishChannelEvent(const QString &channel, const RestRequest &request,
                                     const PublishOptions *options);
    RestResponse broadcast(const RestRequest &request);
    RestResponse staticFile(const QString &resourcePath) const;

    Hub *m_hub;
    ServerConfig m_config;
    QHttpServer *m_server;
    HttpGuard m_guard;
    QDateTime m_started;
    QList<std::pair<QString, QByteArray>> m_routes; // rule, "GET, HEAD" or "POST"
};

} // namespace Herald
