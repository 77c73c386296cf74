#pragma once

#include "httpguard.h"
#include "serverconfig.h"

#include <QDateTime>
#include <QJsonArray>
#include <QObject>

#include <optional>

class QHttpServer;
class QHttpServerRequest;
class QHttpServerResponse;
class QUrlQuery;

namespace Herald {

class Hub;
struct StoreError;
struct StoredPage;

// The REST API and the pages (SPEC section 5), as routes of a worker's QHttpServer (one per I/O thread).
class HttpApi : public QObject
{
    Q_OBJECT

public:
    HttpApi(Hub *hub, const ServerConfig &config, QHttpServer *server, QObject *parent = nullptr);

private:
    static constexpr int MaxLimit = 1000;
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
    void applyCors(QHttpServerResponse &response, const QHttpServerRequest &request) const;
    QHttpServerResponse stats(const QHttpServerRequest &request) const;
    QHttpServerResponse health() const;
    QHttpServerResponse metrics(const QHttpServerRequest &request) const;
    QHttpServerResponse publish(const QHttpServerRequest &request);
    QHttpServerResponse notifications(const QHttpServerRequest &request);
    QHttpServerResponse markRead(const QString &idText, const QHttpServerRequest &request);
    QHttpServerResponse markAllRead(const QHttpServerRequest &request);
    QHttpServerResponse channels(const QHttpServerRequest &request) const;
    QHttpServerResponse history(const QString &channel, const QHttpServerRequest &request);
    QHttpServerResponse publishChannelEvent(const QString &channel, const QHttpServerRequest &request);
    QHttpServerResponse broadcast(const QHttpServerRequest &request);
    QHttpServerResponse staticFile(const QString &resourcePath) const;

    Hub *m_hub;
    ServerConfig m_config;
    QHttpServer *m_server;
    HttpGuard m_guard;
    QDateTime m_started;
};

} // namespace Herald
