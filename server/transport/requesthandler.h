#pragma once

#include "restrequest.h"

#include <QString>

class QTcpSocket;

namespace Herald {

struct HttpRequestHead;
struct PublishOptions;
struct StoreError;

// What serves the requests a worker reads (the shape of qBittorrent's IRequestHandler): the transport reads
// and checks every request head, asks this which way the request goes, and hands it over, with its socket or,
// on a keep-alive connection, with its body. The transport itself knows no route. One per worker, called on
// the worker's thread only.
class RequestHandler
{
public:
    // A route served on the keep-alive connection itself: which of the handler's routes (0: none) and what
    // the path named. The connection keeps it with the request until the body is in, then hands it back.
    struct KeepAliveRoute
    {
        int id = 0;
        QString argument;
    };

    virtual ~RequestHandler() = default;

    // A WebSocket upgrade or an event stream: the connection becomes a session (startSession).
    virtual bool isSessionRequest(const HttpRequestHead &head) const = 0;
    // Of a plain connection's request that is no session: a route answered on the connection, which stays
    // open (serveKeepAlive), or none, and then the request goes the one-shot way (serveOneShot).
    virtual KeepAliveRoute keepAliveRoute(const HttpRequestHead &head) const = 0;
    // `options` go with the request's publishes to the hub: the answer's watch and group commit.
    virtual RestResponse serveKeepAlive(const KeepAliveRoute &route, const RestRequest &request,
                                        const PublishOptions &options) = 0;
    // The answer of a keep-alive publish whose group commit failed (it replaces the one held).
    virtual RestResponse storeFailure(const StoreError &error) const = 0;
    // The socket's head is consumed; it has no parent. False if refused, the HTTP error written: the socket
    // closes once that is sent.
    virtual bool startSession(QTcpSocket *socket, const HttpRequestHead &head) = 0;
    // Every other request, its bytes still unread: the socket is the handler's from now on. The transport has
    // set its deadlines and closes it after the one answer.
    virtual void serveOneShot(QTcpSocket *socket) = 0;
};

} // namespace Herald
