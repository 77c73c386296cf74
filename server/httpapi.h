#pragma once

#include "serverconfig.h"

#include <QDateTime>
#include <QObject>

class QHttpServer;
class QHttpServerRequest;
class QHttpServerResponse;

namespace Herald {

class Hub;

// The REST API and the pages (SPEC section 5), as QHttpServer routes on the main thread.
class HttpApi : public QObject
{
    Q_OBJECT

public:
    HttpApi(Hub *hub, const ServerConfig &config, QHttpServer *server, QObject *parent = nullptr);

    // {"error":code,"detail":…} with the given status.
    static QHttpServerResponse errorResponse(int status, const QString &code, const QString &detail);

private:
    void registerRoutes();
    QHttpServerResponse stats() const;
    QHttpServerResponse health() const;
    QHttpServerResponse metrics() const;
    QHttpServerResponse publish(const QHttpServerRequest &request);
    QHttpServerResponse staticFile(const QString &resourcePath) const;

    Hub *m_hub;
    ServerConfig m_config;
    QHttpServer *m_server;
    QDateTime m_started;
};

} // namespace Herald
