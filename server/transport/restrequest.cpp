#include "restrequest.h"

#include <QHttpServerRequest>
#include <QHttpServerResponse>

namespace Herald {

namespace {
QByteArray methodName(QHttpServerRequest::Method method)
{
    using M = QHttpServerRequest::Method;
    switch (method) {
    case M::Get:
        return "GET";
    case M::Put:
        return "PUT";
    case M::Delete:
        return "DELETE";
    case M::Post:
        return "POST";
    case M::Head:
        return "HEAD";
    case M::Options:
        return "OPTIONS";
    case M::Patch:
        return "PATCH";
    case M::Connect:
        return "CONNECT";
    case M::Trace:
        return "TRACE";
    default:
        return {};
    }
}
} // namespace

QByteArray RestRequest::header(QByteArrayView lowerName) const
{
    for (const auto &[name, value] : headers) {
        if (name == lowerName)
            return value;
    }
    return {};
}

QList<QByteArray> RestRequest::headerValues(QByteArrayView lowerName) const
{
    QList<QByteArray> values;
    for (const auto &[name, value] : headers) {
        if (name == lowerName)
            values.append(value);
    }
    return values;
}

void RestResponse::setHeader(const QByteArray &name, const QByteArray &value)
{
    for (auto &[n, v] : headers) {
        if (n.compare(name, Qt::CaseInsensitive) == 0) {
            v = value;
            return;
        }
    }
    headers.append({name, value});
}

QByteArray RestResponse::header(QByteArrayView name) const
{
    for (const auto &[n, v] : headers) {
        if (QByteArrayView(n).compare(name, Qt::CaseInsensitive) == 0)
            return v;
    }
    return {};
}

RestRequest restRequest(const QHttpServerRequest &request)
{
    RestRequest r;
    r.method = methodName(request.method());
    r.path = request.url().path();
    r.query = QUrlQuery(request.url());
    const auto headers = request.headers();
    r.headers.reserve(headers.size());
    for (const auto &[name, value] : headers)
        r.headers.append({name.toLower(), value});
    // With a header sent twice, value() is the one the handlers read before they took a RestRequest: it goes
    // first, so header() still answers with it.
    for (const QByteArray &name :
         {QByteArray("origin"), QByteArray("authorization"), QByteArray("x-client-id")}) {
        const QByteArray value = request.value(name);
        if (!value.isNull())
            r.headers.prepend({name, value});
    }
    r.body = request.body();
    r.peer = request.remoteAddress();
    return r;
}

QHttpServerResponse toHttpServerResponse(const RestResponse &response)
{
    QHttpServerResponse r(response.contentType, response.body,
                          QHttpServerResponse::StatusCode(response.status));
    for (const auto &[name, value] : response.headers)
        r.addHeader(name, value);
    return r;
}

QByteArrayView reasonPhrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

QByteArray serializeResponse(const RestResponse &response, bool keepAlive, int keepAliveSeconds)
{
    QByteArray out;
    out.reserve(160 + response.body.size());
    out += "HTTP/1.1 " + QByteArray::number(response.status) + ' ' +
           reasonPhrase(response.status).toByteArray() + "\r\nContent-Type: " + response.contentType +
           "\r\nContent-Length: " + QByteArray::number(response.body.size()) + "\r\n";
    for (const auto &[name, value] : response.headers)
        out += name + ": " + value + "\r\n";
    // Spelled out for HTTP/1.0 clients too, which close unless told otherwise.
    if (keepAlive)
        out += "Connection: keep-alive\r\nKeep-Alive: timeout=" + QByteArray::number(keepAliveSeconds) +
               "\r\n\r\n";
    else
        out += "Connection: close\r\n\r\n";
    out += response.body;
    return out;
}

} // namespace Herald
