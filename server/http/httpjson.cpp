#include "httpjson.h"

#include "errorcode.h"
#include "jsontext.h"
#include "rawhttp.h"
#include "store.h"

#include <QHttpServerRequest>
#include <QHttpServerResponse>
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

RestResponse restJson(const QJsonArray &body, int status)
{
    RestResponse r;
    r.status = status;
    r.body = QJsonDocument(body).toJson(QJsonDocument::Compact);
    return r;
}

RestResponse restError(int status, ErrorCode code, const QString &detail)
{
    RestResponse r;
    r.status = status;
    r.body = jsonErrorBody(code, detail);
    return r;
}

RestResponse restNoContent()
{
    RestResponse r;
    r.status = 204;
    r.contentType = "application/x-empty";
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

void writeResponse(const RestResponse &response, const QHttpServerRequest &request,
                   QHttpServerResponder &&responder)
{
    if (request.method() != QHttpServerRequest::Method::Head) {
        toHttpServerResponse(response).write(std::move(responder));
        return;
    }
    responder.writeStatusLine(QHttpServerResponder::StatusCode(response.status));
    responder.writeHeader("Content-Type", response.contentType);
    for (const auto &[name, value] : response.headers)
        responder.writeHeader(name, value);
    responder.writeHeader("Content-Length", QByteArray::number(response.body.size()));
    responder.writeBody(QByteArray()); // the blank line that ends the head, and nothing after it
}

} // namespace Herald
