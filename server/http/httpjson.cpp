#include "httpjson.h"

#include "errorcode.h"
#include "jsontext.h"
#include "rawhttp.h"
#include "store.h"

#include <QHttpServerRequest>
#include <QJsonDocument>
#include <QJsonParseError>

using namespace Qt::StringLiterals;

namespace Herald {

RestResponse restJson(const QJsonObject &body, int status)
{
    RestResponse r;
    r.status = status;
    r.body = compactJson(body);
    return r;
}

RestResponse restError(int status, ErrorCode code, const QString &detail)
{
    RestResponse r;
    r.status = status;
    r.body = jsonErrorBody(code, detail);
    return r;
}

RestResponse restStoreError(const StoreError &error)
{
    // Not 503: the write may have happened, and a blind retry could publish it twice.
    if (error.kind == StoreError::Kind::Unknown)
        return restError(504, ErrorCode::OutcomeUnknown, error.message);
    // 503: the client may retry later; nothing was published.
    const QString what =
        error.kind == StoreError::Kind::Full ? u"the store is full"_s : u"the store is unavailable"_s;
    return restError(503, ErrorCode::Unavailable, u"%1: %2"_s.arg(what, error.message));
}

std::optional<RestResponse> readJsonBody(const QByteArray &body, qint64 maxSize, QJsonObject &out)
{
    if (body.size() > maxSize)
        return restError(413, ErrorCode::TooLarge, u"the body is larger than %1 bytes"_s.arg(maxSize));
    JsonObjectError error;
    auto object = parseJsonObject(body, &error);
    if (!object)
        return restError(400, ErrorCode::InvalidJson, error.message.replace(u"the JSON"_s, u"the body"_s));
    out = std::move(*object);
    return std::nullopt;
}

QHttpServerResponse jsonResponse(const QJsonObject &body, int status)
{
    return QHttpServerResponse("application/json", compactJson(body),
                               QHttpServerResponse::StatusCode(status));
}

QHttpServerResponse jsonResponse(const QJsonArray &body, int status)
{
    return QHttpServerResponse("application/json", QJsonDocument(body).toJson(QJsonDocument::Compact),
                               QHttpServerResponse::StatusCode(status));
}

QHttpServerResponse errorResponse(int status, ErrorCode code, const QString &detail)
{
    return toHttpServerResponse(restError(status, code, detail));
}

QHttpServerResponse storeErrorResponse(const StoreError &error)
{
    return toHttpServerResponse(restStoreError(error));
}

std::optional<QHttpServerResponse> readJsonObject(const QHttpServerRequest &request, qint64 maxSize,
                                                  QJsonObject &out)
{
    if (auto refused = readJsonBody(request.body(), maxSize, out))
        return toHttpServerResponse(*refused);
    return std::nullopt;
}

void writeResponse(QHttpServerResponse &&response, const QHttpServerRequest &request,
                   QHttpServerResponder &&responder)
{
    if (request.method() != QHttpServerRequest::Method::Head) {
        response.write(std::move(responder));
        return;
    }
    // QHttpServerResponse (6.4) cannot list its headers, only give those of a name: these are all the names
    // Herald's answers set (tst_server's headAnswersLikeGet compares HEAD's head with GET's on every route).
    static constexpr const char *Names[] = {"Content-Type",
                                            "Connection",
                                            "Cache-Control",
                                            "Vary",
                                            "Allow",
                                            "Location",
                                            "WWW-Authenticate",
                                            "Retry-After",
                                            "X-Herald-Last-Id",
                                            "Access-Control-Allow-Origin",
                                            "Access-Control-Expose-Headers",
                                            "Access-Control-Allow-Methods",
                                            "Access-Control-Allow-Headers",
                                            "Access-Control-Max-Age"};
    responder.writeStatusLine(response.statusCode());
    for (const char *name : Names) {
        for (const QByteArray &value : response.headers(name))
            responder.writeHeader(name, value);
    }
    responder.writeHeader("Content-Length", QByteArray::number(response.data().size()));
    responder.writeBody(QByteArray()); // the blank line that ends the head, and nothing after it
}

} // namespace Herald
