#pragma once

#include <QByteArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QObject>
#include <QString>
#include <QUrl>

#include <functional>
#include <optional>

class QNetworkAccessManager;

namespace Herald {

// Where REST calls go: the watched feed's server, with its token and the operator's client id.
struct RestEndpoint
{
    QUrl feedUrl;
    QString token;
    QString clientId;
};

// One REST answer, or why none came.
struct RestReply
{
    int status = 0;         // the HTTP status; 0 when no answer came (refused, timed out)
    QJsonDocument document; // the answer's JSON, if it was JSON
    QString code;           // an error answer's "error" ("bad_request"), else empty
    QString error;          // an error answer's "detail", or the network error; empty on success

    bool ok() const { return status >= 200 && status < 300; }
    QJsonObject object() const { return document.object(); }
    // For the operator: "bad_request: field 'priority' must be 1 to 5 …", or the network error.
    QString errorText() const;
};

// The REST side of the watched server, for the compose panel and the scheduled-messages view. It asks
// `endpoint` before every call, so it always follows the feed's server, token and operator name.
class RestApi : public QObject
{
    Q_OBJECT

public:
    using EndpointSource = std::function<RestEndpoint()>;
    using Callback = std::function<void(const RestReply &)>;

    explicit RestApi(EndpointSource endpoint, QObject *parent = nullptr);

    RestEndpoint endpoint() const { return m_endpoint(); }
    bool hasServer() const { return !m_endpoint().feedUrl.isEmpty(); }
    // The URL of `path` on the server (with `query`, already encoded, if given).
    QUrl url(const QString &path, const QString &query = {}) const;

    // Sends `method` to `path` with `body` (JSON) and calls `done` with the answer, unless `context` is gone
    // by then. Always answers: with status 0 and the reason when there is no server or no answer.
    void send(const QByteArray &method, const QString &path, const std::optional<QJsonObject> &body,
              QObject *context, Callback done, const QString &query = {});

private:
    EndpointSource m_endpoint;
    QNetworkAccessManager *m_http;
};

} // namespace Herald
