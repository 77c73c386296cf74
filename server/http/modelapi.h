#pragma once

#include "httpguard.h"
#include "modelspec.h"
#include "serverconfig.h"

#include <QMutex>
#include <QObject>

#include <functional>
#include <optional>

class QHttpServer;

namespace Herald {

class HttpApi;

class Hub;
struct RecordWrite;

// Seed 004's model CRUD as REST routes, generated from each ModelSpec:
//   GET|POST /users/    GET|PATCH|DELETE /users/{id}
// Every committed change is announced on the model's channel as {"type":"created|updated|deleted","model":…,
// "channel":…,"timestamp":…,"data":…}, committed together with the change (one SQLite transaction, or one
// Redis script on a cluster) and delivered after it. ?broadcast=false suppresses the event; X-Client-Id keeps
// it from the client that made the change. Records are read and written through Hub::records(): the store on
// one server, Redis on a cluster, with the same code here for both.
class ModelApi : public QObject
{
    Q_OBJECT

public:
    // `changes` serialises model changes across the workers' threads, and RecordStore::lockChanges() across
    // the nodes of a cluster: each change's check (unique email, existing author) and its write are not
    // interleaved with another's.
    ModelApi(Hub *hub, const ServerConfig &config, QHttpServer *server, const HttpApi *api, QMutex *changes,
             QObject *parent = nullptr);

    static constexpr int MaxListLimit = 1000;

private:
    void registerModel(const ModelSpec &model);
    RestResponse list(const ModelSpec &model, const RestRequest &request);
    RestResponse get(const ModelSpec &model, const QString &idText);
    // Runs one change (create, update, remove) as the only one in progress, handing it the fence for its
    // RecordWrite; 503 if the cluster's lock cannot be had.
    RestResponse serialised(const std::function<RestResponse(const QByteArray &fence)> &change);
    RestResponse create(const ModelSpec &model, const RestRequest &request, const QByteArray &fence);
    RestResponse update(const ModelSpec &model, const QString &idText, const RestRequest &request,
                        const QByteArray &fence);
    RestResponse remove(const ModelSpec &model, const QString &idText, const RestRequest &request,
                        const QByteArray &fence);

    // 422 for field errors, 409 for a taken unique value or a record still referenced, 503 for the store.
    std::optional<RestResponse> checkConstraints(const ModelSpec &model, const QJsonObject &record,
                                                 qint64 id);
    // Commits the change and, unless ?broadcast=false, its event. Returns an answer only on failure.
    std::optional<RestResponse> commit(const ModelSpec &model, const QString &event, const RecordWrite &write,
                                       const QJsonObject &eventData, const RestRequest &request);
    const ModelSpec *modelNamed(const QString &name) const;
    std::optional<RestResponse> authorize(const ModelSpec &model, const RestRequest &request);

    Hub *m_hub;
    const ServerConfig m_config;
    QHttpServer *m_server;
    const HttpApi *m_api;
    QMutex *m_changes;
    HttpGuard m_guard;
};

} // namespace Herald
