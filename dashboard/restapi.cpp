#include "restapi.h"

#include "adminclient.h"
#include "dashboardlogging.h"
#include "message.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// A REST call that hangs must not leave the compose panel "Sending…" for ever.
constexpr int TransferTimeoutMs = 15000;
} // namespace

QString RestReply::errorText() const
{
    if (code.isEmpty())
        return error;
    return error.isEmpty() ? code : u"%1: %2"_s.arg(code, error);
}

RestApi::RestApi(EndpointSource endpoint, QObject *parent)
    : QObject(parent)
    , m_endpoint(std::move(endpoint))
    , m_http(new QNetworkAccessManager(this))
{}

QUrl RestApi::url(const QString &path, const QString &query) const
{
    QUrl url = AdminClient::httpUrl(m_endpoint().feedUrl, path);
    if (!query.isEmpty())
        url.setQuery(query, QUrl::StrictMode);
    return url;
}

void RestApi::send(const QByteArray &method, const QString &path, const std::optional<QJsonObject> &body,
                   QObject *context, Callback done, const QString &query)
{
    const RestEndpoint where = m_endpoint();
    if (where.feedUrl.isEmpty()) {
        // Answered from the event loop, as a real answer would be, so callers see one order of events.
        QTimer::singleShot(0, context, [done] { done({0, {}, {}, tr("No server is watched.")}); });
        return;
    }
    QNetworkRequest request(url(path, query));
    request.setTransferTimeout(TransferTimeoutMs);
    // The token's subject is then the sender; without one an open server takes the body's "sender".
    if (!where.token.isEmpty())
        request.setRawHeader("Authorization", "Bearer " + where.token.toUtf8());
    QByteArray bytes;
    if (body) {
        request.setHeader(QNetworkRequest::ContentTypeHeader, u"application/json"_s);
        bytes = compactJson(*body);
    }
    QNetworkReply *reply = m_http->sendCustomRequest(request, method, bytes);
    connect(reply, &QNetworkReply::finished, reply, &QObject::deleteLater);
    connect(reply, &QNetworkReply::finished, context, [reply, done] {
        RestReply r;
        r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QByteArray data = reply->readAll();
        QJsonParseError parseError;
        r.document = QJsonDocument::fromJson(data, &parseError);
        if (r.status == 0) {
            r.error = reply->errorString();
        } else if (!r.ok()) {
            // Herald's errors are {"error":code,"detail":…}; anything else (a proxy's page) by its status.
            const QJsonObject o = r.document.object();
            r.code = o.value("error"_L1).toString();
            r.error = o.value("detail"_L1).toString();
            if (r.code.isEmpty() && r.error.isEmpty())
                r.error = tr("HTTP %1 %2")
                              .arg(r.status)
                              .arg(reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString());
        }
        qCDebug(lcDashboard).noquote() << "REST" << reply->url().path() << r.status << r.error;
        done(r);
    });
    // Nobody listens once the context is gone: stop the transfer rather than let it run to its timeout.
    connect(context, &QObject::destroyed, reply, &QNetworkReply::abort);
}

} // namespace Herald
