#include "modelapi.h"

#include "httpapi.h"
#include "httpjson.h"
#include "hub.h"
#include "recordstore.h"
#include "request.h"

#include <QHttpServer>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QUrlQuery>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
using Method = QHttpServerRequest::Method;

std::optional<qint64> parseId(const QString &text)
{
    const auto id = parseSequence(text);
    if (!id || *id <= 0)
        return std::nullopt;
    return id;
}

RestResponse badId(const ModelSpec &model, const QString &text)
{
    return restError(
        422, ErrorCode::BadRequest,
        u"'%1' is not a %2 id (a positive integer)"_s.arg(text.left(40), model.display.toLower()));
}

RestResponse notFound(const ModelSpec &model, qint64 id)
{
    return restError(404, ErrorCode::NotFound,
                     u"%1 not found: no %2 %3"_s.arg(model.display, model.name).arg(id));
}

RestResponse fieldErrors(const QList<FieldError> &errors)
{
    QJsonArray list;
    QStringList lines;
    for (const FieldError &e : errors) {
        list.append(QJsonObject{{"field"_L1, e.field}, {"message"_L1, e.message}});
        lines.append(e.field + u' ' + e.message);
    }
    return restJson(QJsonObject{{"error"_L1, errorCodeName(ErrorCode::BadRequest)},
                                {"detail"_L1, lines.join(u"; "_s)},
                                {"errors"_L1, list}},
                    422);
}

RestResponse methodNotAllowed(const QString &allowed)
{
    RestResponse r =
        restError(405, ErrorCode::MethodNotAllowed, u"method not allowed here; allowed: %1"_s.arg(allowed));
    r.setHeader("Allow", allowed.toLatin1());
    return r;
}

RestResponse preflight(const QString &allowed)
{
    // CORS preflight for cross-origin PATCH/DELETE and JSON bodies (SPEC section 7 narrows the origins
    // later).
    RestResponse r = restNoContent();
    r.setHeader("Allow", allowed.toLatin1());
    r.setHeader("Access-Control-Allow-Methods", allowed.toLatin1());
    r.setHeader("Access-Control-Allow-Headers", "Content-Type, Authorization, X-Client-Id");
    r.setHeader("Access-Control-Max-Age", "600");
    return r;
}

bool isRead(const RestRequest &request)
{
    return request.method == "GET" || request.method == "HEAD";
}

bool broadcastWanted(const RestRequest &request)
{
    const QString v = request.query.queryItemValue(u"broadcast"_s).toLower();
    return v != u"false"_s && v != u"0"_s && v != u"no"_s;
}
} // namespace

ModelApi::ModelApi(Hub *hub, const ServerConfig &config, QHttpServer *server, const HttpApi *api,
                   QMutex *changes, QObject *parent)
    : QObject(parent)
    , m_hub(hub)
    , m_config(config)
    , m_server(server)
    , m_api(api)
    , m_changes(changes)
    , m_guard(hub)
{
    for (const ModelSpec &model : m_config.models)
        registerModel(model);
}

const ModelSpec *ModelApi::modelNamed(const QString &name) const
{
    for (const ModelSpec &m : m_config.models) {
        if (m.name == name)
            return &m;
    }
    return nullptr;
}

void ModelApi::registerModel(const ModelSpec &model)
{
    // Every method is routed here so that a wrong one is a 405 with Allow, not a 404.
    const auto collection = [this, model](const RestRequest &request) {
        if (request.method == "OPTIONS")
            return preflight(u"GET, POST, OPTIONS"_s);
        if (auto refused = authorize(model, request))
            return std::move(*refused);
        if (isRead(request))
            return list(model, request);
        if (request.method == "POST")
            return serialised([&](const QByteArray &fence) { return create(model, request, fence); });
        return methodNotAllowed(u"GET, HEAD, POST"_s);
    };
    const auto item = [this, model](const QString &id, const RestRequest &request) {
        if (request.method == "OPTIONS")
            return preflight(u"GET, PATCH, PUT, DELETE, OPTIONS"_s);
        if (auto refused = authorize(model, request))
            return std::move(*refused);
        if (isRead(request))
            return get(model, id);
        // A full PUT body validates as a patch that sets every field it names.
        if (request.method == "PATCH" || request.method == "PUT")
            return serialised([&](const QByteArray &fence) { return update(model, id, request, fence); });
        if (request.method == "DELETE")
            return serialised([&](const QByteArray &fence) { return remove(model, id, request, fence); });
        return methodNotAllowed(u"GET, HEAD, PATCH, PUT, DELETE"_s);
    };
    // Answered through HttpApi::answer, as every route: CORS, the connection closed, HEAD without a body.
    const auto answerCollection = [this, collection](const QHttpServerRequest &request,
                                                     QHttpServerResponder &&responder) {
        m_api->answer(collection(restRequest(request)), request, std::move(responder));
    };
    const auto answerItem = [this, item](const QString &id, const QHttpServerRequest &request,
                                         QHttpServerResponder &&responder) {
        m_api->answer(item(id, restRequest(request)), request, std::move(responder));
    };
    m_server->route(u"/%1/"_s.arg(model.name), Method::AnyKnown, answerCollection);
    m_server->route(u"/%1"_s.arg(model.name), Method::AnyKnown, answerCollection);
    m_server->route(u"/%1/<arg>"_s.arg(model.name), Method::AnyKnown, answerItem);
}

std::optional<RestResponse> ModelApi::authorize(const ModelSpec &model, const RestRequest &request)
{
    // SPEC section 7: reading a model needs its channel; changing one is for admins.
    Identity who;
    if (auto refused = m_guard.identify(request, who))
        return refused;
    if (isRead(request))
        return m_guard.check(who.canRead(model.name), who.refusal(model.name, false));
    return m_guard.check(who.isAdmin(), u"changing %1 needs an admin token"_s.arg(model.name));
}

RestResponse ModelApi::list(const ModelSpec &model, const RestRequest &request)
{
    const QUrlQuery &query = request.query;
    int limit = MaxListLimit;
    int offset = 0;
    for (auto [key, target, max] : {std::tuple{u"limit"_s, &limit, MaxListLimit},
                                    std::tuple{u"offset"_s, &offset, std::numeric_limits<int>::max()}}) {
        if (!query.hasQueryItem(key))
            continue;
        bool ok = false;
        const int v = query.queryItemValue(key).toInt(&ok);
        if (!ok || v < (key == u"limit"_s ? 1 : 0) || v > max)
            return restError(422, ErrorCode::BadRequest,
                             key == u"limit"_s ? u"limit must be an integer from 1 to %1"_s.arg(MaxListLimit)
                                               : u"offset must be a non-negative integer"_s);
        *target = v;
    }
    // Filtering by a reference (GET /posts/?user_id=3): the one filter a client of related models needs.
    QString filterField;
    QJsonValue filterValue;
    for (const FieldSpec &f : model.fields) {
        if (f.type != FieldSpec::Type::Reference || !query.hasQueryItem(f.name))
            continue;
        const auto id = parseId(query.queryItemValue(f.name));
        if (!id)
            return restError(422, ErrorCode::BadRequest, u"%1 must be a positive integer"_s.arg(f.name));
        filterField = f.name;
        filterValue = *id;
    }
    // The list and the channel position are read together: a late joiner applies the channel's events after
    // that id (/ws/users?since=…) and neither misses nor repeats a change.
    qint64 lastId = 0;
    const auto records = m_hub->listRecords(model.name, limit, offset, filterField, filterValue, &lastId);
    if (!records)
        return restStoreError(records.error());
    QJsonArray array;
    for (const QJsonObject &o : *records)
        array.append(o);
    // Seed 004's clients expect a plain array (fetch('/users/').then(r => r.json()).then(setUsers)), so the
    // position travels in a header.
    RestResponse r = restJson(array);
    r.setHeader("X-Herald-Last-Id", QByteArray::number(lastId));
    r.setHeader("Access-Control-Expose-Headers", "X-Herald-Last-Id");
    return r;
}

RestResponse ModelApi::get(const ModelSpec &model, const QString &idText)
{
    const auto id = parseId(idText);
    if (!id)
        return badId(model, idText);
    auto record = m_hub->records()->record(model.name, *id);
    if (!record)
        return restStoreError(record.error());
    if (!record->has_value())
        return notFound(model, *id);
    return restJson(**record);
}

std::optional<RestResponse> ModelApi::checkConstraints(const ModelSpec &model, const QJsonObject &record,
                                                       qint64 id)
{
    RecordStore *store = m_hub->records();
    QList<FieldError> missing;
    for (const FieldSpec &f : model.fields) {
        const QJsonValue v = record.value(f.name);
        if (v.isUndefined() || v.isNull())
            continue;
        if (f.unique) {
            auto taken = store->countRecords(model.name, f.name, v, f.type == FieldSpec::Type::Email, id);
            if (!taken)
                return restStoreError(taken.error());
            if (*taken > 0)
                return restError(409, ErrorCode::Conflict,
                                 u"a %1 with %2 '%3' already exists"_s.arg(model.display.toLower(), f.name,
                                                                           v.toVariant().toString()));
        }
        if (f.type == FieldSpec::Type::Reference) {
            auto target = store->record(f.references, v.toInteger());
            if (!target)
                return restStoreError(target.error());
            if (!target->has_value()) {
                const ModelSpec *ref = modelNamed(f.references);
                missing.append({f.name, u"refers to %1 %2, which does not exist"_s
                                            .arg(ref ? ref->display.toLower() : f.references)
                                            .arg(v.toInteger())});
            }
        }
    }
    if (!missing.isEmpty())
        return fieldErrors(missing);
    return std::nullopt;
}

std::optional<RestResponse> ModelApi::commit(const ModelSpec &model, const QString &event,
                                             const RecordWrite &write, const QJsonObject &eventData,
                                             const RestRequest &request)
{
    if (!broadcastWanted(request)) {
        auto written = m_hub->records()->writeRecord(write);
        if (!written)
            return restStoreError(written.error());
        return std::nullopt;
    }
    // Seed 004's frame: {"type":"created","model":"users","channel":"users","timestamp":…,"data":{…}}.
    Message m;
    m.channel = model.name;
    m.type = event;
    m.data = eventData;
    m.extra.insert("model"_L1, model.name);
    const QString exclude = QString::fromUtf8(request.header("x-client-id"));
    auto published = m_hub->publish(std::move(m), exclude, &write);
    if (!published)
        return restStoreError(published.error());
    return std::nullopt;
}

RestResponse ModelApi::serialised(const std::function<RestResponse(const QByteArray &fence)> &change)
{
    // Why a lock rather than checks inside the write: the checks (checkConstraints, remove()'s references)
    // stay in this one C++ implementation, reading through RecordStore, for one server and a cluster alike;
    // doing them in the Redis write script instead would mean a second implementation of every constraint,
    // in Lua, and carrying 409 and 422 back through Hub::publish. The cluster only adds its lock around them,
    // and the write script refuses a change whose lock expired meanwhile (RecordWrite::fence), so a slow
    // node cannot write what it checked against a state that is gone.
    QMutexLocker local(m_changes);               // this node's threads, without a trip to Redis
    auto held = m_hub->records()->lockChanges(); // every node's; nothing to take on one server
    if (!held)
        return restStoreError(held.error());
    const RecordLock lock = std::move(held).value();
    return change(lock.token());
}

RestResponse ModelApi::create(const ModelSpec &model, const RestRequest &request, const QByteArray &fence)
{
    QJsonObject input;
    if (auto error = readJsonBody(request.body, m_config.maxMessageSize, input))
        return std::move(*error);
    if (const auto errors = validateRecord(model, input, false); !errors.isEmpty())
        return fieldErrors(errors);
    QJsonObject record = normalizeRecord(model, input, false);
    if (auto error = checkConstraints(model, record, 0))
        return std::move(*error);
    auto id = m_hub->records()->allocateRecordId(model.name);
    if (!id)
        return restStoreError(id.error());
    const QString now = nowTimestamp();
    record.insert("id"_L1, *id);
    record.insert("created_at"_L1, now);
    record.insert("updated_at"_L1, now);
    const RecordWrite write{RecordWrite::Op::Upsert, model.name, *id, record, fence};
    if (auto error = commit(model, u"created"_s, write, record, request))
        return std::move(*error);
    RestResponse r = restJson(record, 201);
    r.setHeader("Location", u"/%1/%2"_s.arg(model.name).arg(*id).toUtf8());
    return r;
}

RestResponse ModelApi::update(const ModelSpec &model, const QString &idText, const RestRequest &request,
                              const QByteArray &fence)
{
    const auto id = parseId(idText);
    if (!id)
        return badId(model, idText);
    QJsonObject input;
    if (auto error = readJsonBody(request.body, m_config.maxMessageSize, input))
        return std::move(*error);
    auto existing = m_hub->records()->record(model.name, *id);
    if (!existing)
        return restStoreError(existing.error());
    if (!existing->has_value())
        return notFound(model, *id);
    if (const auto errors = validateRecord(model, input, true); !errors.isEmpty())
        return fieldErrors(errors);
    const QJsonObject changes = normalizeRecord(model, input, true);
    QJsonObject record = **existing;
    for (auto it = changes.begin(); it != changes.end(); ++it) {
        if (it.value().isNull())
            record.remove(it.key()); // an optional field cleared
        else
            record.insert(it.key(), it.value());
    }
    if (auto error = checkConstraints(model, changes, *id))
        return std::move(*error);
    record.insert("updated_at"_L1, nowTimestamp());
    const RecordWrite write{RecordWrite::Op::Upsert, model.name, *id, record, fence};
    if (auto error = commit(model, u"updated"_s, write, record, request))
        return std::move(*error);
    return restJson(record);
}

RestResponse ModelApi::remove(const ModelSpec &model, const QString &idText, const RestRequest &request,
                              const QByteArray &fence)
{
    const auto id = parseId(idText);
    if (!id)
        return badId(model, idText);
    auto existing = m_hub->records()->record(model.name, *id);
    if (!existing)
        return restStoreError(existing.error());
    if (!existing->has_value())
        return notFound(model, *id);
    // Restrict, as SQL does by default: deleting a user who still has posts would leave posts without an
    // author, and cascading would delete more than the caller asked for.
    for (const ModelSpec &other : m_config.models) {
        for (const FieldSpec &f : other.fields) {
            if (f.type != FieldSpec::Type::Reference || f.references != model.name)
                continue;
            auto count = m_hub->records()->countRecords(other.name, f.name, QJsonValue(*id));
            if (!count)
                return restStoreError(count.error());
            if (*count > 0)
                return restError(
                    409, ErrorCode::Conflict,
                    u"%1 %2 is still referenced by %3 %4; delete %5 first"_s.arg(model.display)
                        .arg(*id)
                        .arg(*count)
                        // "1 post", "2 posts": a model's display name is its singular, its name the plural.
                        .arg(*count == 1 ? other.display.toLower() : other.name,
                             *count == 1 ? u"it"_s : u"those"_s));
        }
    }
    const RecordWrite write{RecordWrite::Op::Delete, model.name, *id, {}, fence};
    if (auto error = commit(model, u"deleted"_s, write, QJsonObject{{"id"_L1, *id}}, request))
        return std::move(*error);
    return restJson(QJsonObject{{"message"_L1, u"%1 deleted"_s.arg(model.display)}, {"id"_L1, *id}});
}

} // namespace Herald
