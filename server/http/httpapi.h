#pragma once

#include "httpguard.h"
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
class QHttpServerResponse;
class QUrlQuery;

namespace Herald {

class Hub;
struct HttpRequestHead;
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
    // The route's handler, then what answer() adds (CORS), counted in /metrics.
    RestResponse serveHot(const HotRoute &route, const RestRequest &request);

    // How every QHttpServer route answers (the model routes too): counted in /metrics, CORS, the connection
    // closed after it, and for HEAD the head alone.
    void answer(QHttpServerResponse &&response, const QHttpServerRequest &request,
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

    static std::optional<QHttpServerResponse> readPaging(const QUrlQuery &query, Paging &paging);
    static QJsonArray messagesJson(const StoredPage &page, bool withRead);
    QHttpServerResponse withRecovered(QJsonObject page, const QString &channel, qint64 since) const;

    void registerRoutes();
    // Registers a route answering GET and HEAD, or POST, and notes it for allowedMethods().
    using Handler = std::function<QHttpServerResponse(const QHttpServerRequest &)>;
    using ArgHandler = std::function<QHttpServerResponse(const QString &, const QHttpServerRequest &)>;
    void addRoute(const QString &rule, bool get, Handler handler);
    void addRoute(const QString &rule, bool get, ArgHandler handler);
    // The Allow header for a path one of these routes has, whatever its method; empty for an unknown path.
    QByteArray allowedMethods(const QString &path) const;
    HeaderList corsHeaders(QByteArrayView origin) const;
    void applyCors(QHttpServerResponse &response, const QHttpServerRequest &request) const;
    QHttpServerResponse stats(const QHttpServerRequest &request) const;
    RestResponse health() const;
    QHttpServerResponse metrics(const QHttpServerRequest &request) const;
    RestResponse publish(const RestRequest &request);
    QHttpServerResponse notifications(const QHttpServerRequest &request);
    QHttpServerResponse markRead(const QString &idText, const QHttpServerRequest &request);
    QHttpServerResponse markAllRead(const QHttpServerRequest &request);
    QHttpServerResponse channels(const QHttpServerRequest &request) const;
    QHttpServerResponse history(const QString &channel, const QHttpServerRequest &request);
    RestResponse publishChannelEvent(const QString &channel, const RestRequest &request);
    QHttpServerResponse broadcast(const QHttpServerRequest &request);
    QHttpServerResponse staticFile(const QString &resourcePath) const;

    Hub *m_hub;
    ServerConfig m_config;
    QHttpServer *m_server;
    HttpGuard m_guard;
    QDateTime m_started;
    QList<std::pair<QString, QByteArray>> m_routes; // rule, "GET, HEAD" or "POST"
};

} // namespace Herald
