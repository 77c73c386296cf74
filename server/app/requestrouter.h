#pragma once

#include "requesthandler.h"

#include <QObject>

class QHttpServer;
class QMutex;

namespace Herald {

class HttpApi;
class HttpIntake;
class Worker;

// The routes behind one worker (RequestHandler): the hot REST routes answered on keep-alive connections, the
// WebSocket and SSE sessions, and the rest of the REST API and the pages through the worker's own
// QHttpServer. A child of its worker, so it lives on the worker's thread with everything it builds.
class RequestRouter : public QObject, public RequestHandler
{
public:
    // modelMutex serialises model changes across workers (a unique check and the write that follows it).
    RequestRouter(Worker *worker, QMutex *modelMutex);

    bool isSessionRequest(const HttpRequestHead &head) const override;
    KeepAliveRoute keepAliveRoute(const HttpRequestHead &head) const override;
    RestResponse serveKeepAlive(const KeepAliveRoute &route, const RestRequest &request,
                                const PublishOptions &options) override;
    RestResponse storeFailure(const StoreError &error) const override;
    bool startSession(QTcpSocket *socket, const HttpRequestHead &head) override;
    void serveOneShot(QTcpSocket *socket) override;

private:
    Worker *m_worker;
    QHttpServer *m_http;      // this thread's REST API and pages
    HttpIntake *m_httpIntake; // never listens: plain HTTP connections are added to it
    HttpApi *m_api;           // its handlers, for the hot routes served on keep-alive connections
};

} // namespace Herald
