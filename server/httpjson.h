#pragma once

#include <QHttpServerResponse>
#include <QJsonArray>
#include <QJsonObject>

#include <optional>

class QHttpServerRequest;

namespace Herald {

struct StoreError;

// JSON answers of the REST API (SPEC section 5): a body and an explicit status; errors are
// {"error":code,"detail":…}.
QHttpServerResponse jsonResponse(const QJsonObject &body, int status = 200);
QHttpServerResponse jsonResponse(const QJsonArray &body, int status = 200);
QHttpServerResponse errorResponse(int status, const QString &code, const QString &detail);
// 503 "unavailable": the store could not read or commit; nothing was changed.
QHttpServerResponse storeErrorResponse(const StoreError &error);

// Reads a request body that must be one JSON object of at most maxSize bytes. On failure returns the answer
// to send (413 too_large, 400 invalid_json).
std::optional<QHttpServerResponse> readJsonObject(const QHttpServerRequest &request, qint64 maxSize,
                                                  QJsonObject &out);

} // namespace Herald
