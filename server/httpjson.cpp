#include "httpjson.h"

#include "rawhttp.h"
#include "store.h"

#include <QHttpServerRequest>
#include <QJsonDocument>
#include <QJsonParseError>

using namespace Qt::StringLiterals;

namespace Herald {

QHttpServerResponse jsonResponse(const QJsonObject &body, int status)
{
    return QHttpServerResponse("application/json", QJsonDocument(body).toJson(QJsonDocument::Compact),
                               QHttpServerResponse::StatusCode(status));
}

QHttpServerResponse jsonResponse(const QJsonArray &body, int status)
{
    return QHttpServerResponse("application/json", QJsonDocument(body).toJson(QJsonDocument::Compact),
                               QHttpServerResponse::StatusCode(status));
}

QHttpServerResponse errorResponse(int status, const QString &code, const QString &detail)
{
    return QHttpServerResponse("application/json", jsonErrorBody(code, detail),
                               QHttpServerResponse::StatusCode(status));
}

QHttpServerResponse storeErrorResponse(const StoreError &error)
{
    // 503 either way: the client may retry later; nothing was published.
    const QString what =
        error.kind == StoreError::Kind::Full ? u"the store is full"_s : u"the store is unavailable"_s;
    return errorResponse(503, u"unavailable"_s, u"%1: %2"_s.arg(what, error.message));
}

std::optional<QHttpServerResponse> readJsonObject(const QHttpServerRequest &request, qint64 maxSize,
                                                  QJsonObject &out)
{
    const QByteArray body = request.body();
    if (body.size() > maxSize)
        return errorResponse(413, u"too_large"_s, u"the body is larger than %1 bytes"_s.arg(maxSize));
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(body, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        return errorResponse(400, u"invalid_json"_s, u"the body must be a JSON object"_s);
    out = doc.object();
    return std::nullopt;
}

} // namespace Herald
