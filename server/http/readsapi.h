#pragma once

#include "history.h"
#include "httpguard.h"
#include "restrequest.h"
#include "result.h"
#include "serverconfig.h"

#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>

#include <functional>
#include <optional>

class QHttpServer;

namespace Herald {

class HttpApi;
class Hub;

// A user's read state and settings over REST (docs/protocol.md, "Read state" and "Quiet hours"):
//   POST /api/notifications/{id}/read, /{id}/unread, DELETE /api/notifications/{id},
//   POST /api/notifications/read, /unread {"user_id":"1","ids":[…]}, POST
//   /api/notifications/read-all?user_id= GET|PUT /api/users/{id}/settings
// Every change is published, after the store has it, as a stored event on reads:<user id>, so every live
// connection of that user on every node learns it, and a resume replays it. Access is the user queue's.
class ReadsApi : public QObject
{
    Q_OBJECT

public:
    static constexpr int MaxIds = 1000; // ids in one list request

    ReadsApi(Hub *hub, const ServerConfig &config, QHttpServer *server, const HttpApi *api,
             QObject *parent = nullptr);

private:
    using Handler = std::function<RestResponse(const RestRequest &)>;
    using ArgHandler = std::function<RestResponse(const QString &, const RestRequest &)>;
    // Routes every method to the handler, so a wrong one is a 405 with Allow rather than a 404; `allowed` is
    // "POST" or "GET, HEAD, PUT" and so on.
    void route(const QString &rule, const QString &allowed, Handler handler);
    void route(const QString &rule, const QString &allowed, ArgHandler handler);

    // One message: read or unread (DELETE: deleted).
    RestResponse markOne(const QString &idText, const RestRequest &request, const QString &change);
    // A list of one user's messages.
    RestResponse markList(const RestRequest &request, bool read);
    RestResponse markAll(const RestRequest &request);
    RestResponse settings(const QString &userId, const RestRequest &request);

    // The user queue a request may change: 401/403 otherwise.
    std::optional<RestResponse> authorize(const RestRequest &request, const QString &userId);
    // Publishes {"type":…,<fields>,"unread":N} on reads:<user id>, N counted after the change, and returns N.
    // Called with the change lock held, so the events of this node's changes carry counts in their order.
    Result<qint64, StoreError> announce(const QString &userId, const QString &type, QJsonObject fields);
    // {"type":…,<fields>} on reads:<user id>, stored like the queue.
    void publishEvent(const QString &userId, const QString &type, QJsonObject fields);

    Hub *m_hub;
    const ServerConfig m_config;
    QHttpServer *m_server;
    const HttpApi *m_api;
    HttpGuard m_guard;
};

} // namespace Herald
