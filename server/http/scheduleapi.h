#pragma once

#include "httpguard.h"

#include <QObject>

class QHttpServer;

namespace Herald {

class HttpApi;
class Hub;
class Scheduler;

// Scheduled publishes over REST (docs/protocol.md, "Scheduled delivery"):
//   GET /api/scheduled[?channel=&limit=]   those on channels the caller may write, in due order
//   GET /api/scheduled/{handle}            one: {"handle","at","channel","message":{…}}
//   DELETE /api/scheduled/{handle}         cancels it: {"handle","cancelled":true}
// Reading or cancelling one needs write permission on its channel, as publishing it did. 404 for a handle
// that is unknown, delivered or cancelled. Every method is routed here so that a wrong one is a 405.
class ScheduleApi : public QObject
{
    Q_OBJECT

public:
    ScheduleApi(Hub *hub, QHttpServer *server, const HttpApi *api, QObject *parent = nullptr);

    static constexpr int DefaultLimit = 100;
    static constexpr int MaxLimit = 1000;

private:
    RestResponse list(const RestRequest &request);
    RestResponse one(const QString &handle, const RestRequest &request);
    Scheduler *scheduler() const;

    Hub *m_hub;
    const HttpApi *m_api;
    HttpGuard m_guard;
};

} // namespace Herald
