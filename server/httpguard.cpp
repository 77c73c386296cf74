#include "httpguard.h"

#include "httpjson.h"
#include "hub.h"

#include <QHttpServerRequest>
#include <QUrlQuery>

using namespace Qt::StringLiterals;

namespace Herald {

HttpGuard::HttpGuard(Hub *hub)
    : m_hub(hub)
{}

std::optional<QHttpServerResponse> HttpGuard::identify(const QHttpServerRequest &request, Identity &who) const
{
    const AuthPolicy &auth = m_hub->auth();
    if (!auth.originAllowed(request.value("Origin"))) {
        Metrics::add(m_hub->metrics().refusedOrigin);
        return errorResponse(403, u"forbidden"_s, u"origin not allowed"_s);
    }
    QByteArray token = bearerToken(request.value("Authorization"));
    if (token.isEmpty())
        token = QUrlQuery(request.url()).queryItemValue(u"token"_s, QUrl::FullyDecoded).toUtf8();
    auto identity = auth.identify(token);
    if (identity && !identity->open && !identity->authenticated)
        identity = Result<Identity, AuthError>::failure({u"authentication required: send a token"_s});
    if (!identity) {
        Metrics::add(m_hub->metrics().refusedUnauthorized);
        QHttpServerResponse r = errorResponse(401, u"unauthorized"_s, identity.error().message);
        r.setHeader("WWW-Authenticate", "Bearer");
        return r;
    }
    who = *identity;
    return std::nullopt;
}

std::optional<QHttpServerResponse> HttpGuard::require(bool allowed, const QString &reason) const
{
    if (allowed)
        return std::nullopt;
    Metrics::add(m_hub->metrics().refusedForbidden);
    return errorResponse(403, u"forbidden"_s, reason);
}

} // namespace Herald
