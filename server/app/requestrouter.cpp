#include "requestrouter.h"

#include "httpapi.h"
#include "httpjson.h"
#include "httprequesthead.h"
#include "listener.h"
#include "modelapi.h"
#include "readsapi.h"
#include "scheduleapi.h"
#include "ssesession.h"
#include "worker.h"
#include "wssession.h"

#include <QHttpServer>
#include <QTcpSocket>

using namespace Qt::StringLiterals;

namespace Herald {

RequestRouter::RequestRouter(Worker *worker, QMutex *modelMutex)
    : QObject(worker)
    , m_worker(worker)
    , m_http(new QHttpServer(this))
    , m_httpIntake(new HttpIntake(this))
    , m_api(new HttpApi(worker->hub(), worker->config(), m_http, this))
{
    new ModelApi(worker->hub(), worker->config(), m_http, m_api, modelMutex, this);
    new ReadsApi(worker->hub(), worker->config(), m_http, m_api, this);
    new ScheduleApi(worker->hub(), m_http, m_api, this);
    m_httpIntake->bindTo(m_http);
}

bool RequestRouter::isSessionRequest(const HttpRequestHead &head) const
{
    const QString &path = head.path;
    const bool wsPath = path == u"/ws"_s || path.startsWith(u"/ws/"_s);
    const bool ssePath = path == u"/events"_s || path.startsWith(u"/events/"_s);
    return (wsPath && head.isWebSocketUpgrade()) || (ssePath && head.method == "GET");
}

// KeepAliveRoute::id 0 is no route.
static_assert(int(HttpApi::HotRoute::Kind::None) == 0);

RequestHandler::KeepAliveRoute RequestRouter::keepAliveRoute(const HttpRequestHead &head) const
{
    HttpApi::HotRoute hot = HttpApi::hotRoute(head);
    return {int(hot.kind), std::move(hot.channel)};
}

RestResponse RequestRouter::serveKeepAlive(const KeepAliveRoute &route, const RestRequest &request,
                                           const PublishOptions &options)
{
    return m_api->serveHot({HttpApi::HotRoute::Kind(route.id), route.argument}, request, options);
}

RestResponse RequestRouter::storeFailure(const StoreError &error) const
{
    return restStoreError(error);
}

bool RequestRouter::startSession(QTcpSocket *socket, const HttpRequestHead &head)
{
    const bool wsPath = head.path == u"/ws"_s || head.path.startsWith(u"/ws/"_s);
    if (wsPath)
        return WsSession::create(m_worker, socket, head) != nullptr;
    return SseSession::create(m_worker, socket, head) != nullptr;
}

void RequestRouter::serveOneShot(QTcpSocket *socket)
{
    // QHttpServer (6.4) picks sockets up on pendingConnectionAvailable, which take() emits, then waits for
    // readyRead. It deletes a socket once it disconnects; the intake owns one still open when the worker
    // goes.
    socket->setParent(m_httpIntake);
    m_httpIntake->take(socket);
}

} // namespace Herald
