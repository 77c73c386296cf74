#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QString>
#include <QUrlQuery>

class QHttpServerRequest;
class QHttpServerResponse;

namespace Herald {

using HeaderList = QList<QPair<QByteArray, QByteArray>>;

// One REST request, whoever read it off the wire: QHttpServer (restRequest() below) or the worker's
// keep-alive path (PlainConnection). The handlers that take it run the same code for both, so auth, CORS,
// limits and error bodies cannot drift apart.
struct RestRequest
{
    QByteArray method;  // "POST"
    QString path;       // percent-decoded
    QUrlQuery query;    // as QUrlQuery(QUrl) reads it: '+' stays a '+'
    HeaderList headers; // names lower-cased
    QByteArray body;
    QHostAddress peer;

    QByteArray header(QByteArrayView lowerName) const; // first value, or null
    // Every value, for a header that must come once (QHttpServer joins repeats into one with ", ").
    QList<QByteArray> headerValues(QByteArrayView lowerName) const;
};

// A REST answer: status, body and the headers beyond Content-Type and Content-Length.
struct RestResponse
{
    int status = 200;
    QByteArray contentType = "application/json";
    QByteArray body;
    HeaderList headers;

    void setHeader(const QByteArray &name, const QByteArray &value); // replaces one of the same name
    QByteArray header(QByteArrayView name) const;                    // case-insensitive
};

RestRequest restRequest(const QHttpServerRequest &request);
QHttpServerResponse toHttpServerResponse(const RestResponse &response);

// "Accepted" for 202 and so on; "Unknown" for what Herald never sends.
QByteArrayView reasonPhrase(int status);

// The response as HTTP/1.1 bytes. keepAlive false adds "Connection: close"; true adds the Keep-Alive hint
// (seconds) so a client does not reuse the connection just as the server closes it.
QByteArray serializeResponse(const RestResponse &response, bool keepAlive, int keepAliveSeconds);

} // namespace Herald
