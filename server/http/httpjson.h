#pragma once

#include "errorcode.h"
#include "restrequest.h"

#include <QHttpServerResponder>
#include <QJsonArray>
#include <QJsonObject>

#include <optional>

class QHttpServerRequest;

namespace Herald {

struct StoreError;

// JSON answers of the REST API (SPEC section 5): a body and an explicit status; errors are
// {"error":code,"detail":…}. Every handler returns a RestResponse, whichever way its request came (the
// keep-alive path or QHttpServer), so both answer alike. An error's code is an ErrorCode, never a string,
// so every code the REST API sends is one of the append-only wire names (errorCodeName).
RestResponse restJson(const QJsonObject &body, int status = 200);
RestResponse restJson(const QJsonArray &body, int status = 200);
RestResponse restError(int status, ErrorCode code, const QString &detail);
// 204 without a body, with the Content-Type QHttpServerResponse(StatusCode) gives one (QHttpServer 6.4).
RestResponse restNoContent();
// 503 "unavailable": the store could not read or commit; nothing was changed.
RestResponse restStoreError(const StoreError &error);
// A request body that must be one JSON object of at most maxSize bytes. On failure returns the answer to
// send (413 too_large, 400 invalid_json).
std::optional<RestResponse> readJsonBody(const QByteArray &body, qint64 maxSize, QJsonObject &out);

// Writes the answer of a QHttpServer route; to a HEAD request only its head, with the Content-Length its
// body has (RFC 9110 9.3.2): QHttpServer 6.4 would send the body too.
void writeResponse(const RestResponse &response, const QHttpServerRequest &request,
                   QHttpServerResponder &&responder);

} // namespace Herald
