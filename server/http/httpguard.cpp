#include "httpguard.h"

#include "httpjson.h"
#include "hub.h"

#include <QUrlQuery>

using namespace Qt::StringLiterals;

namespace Herald {

HttpGuard::HttpGuard(Hub *hub)
    : m_hub(hub)
{}

std::optional<RestResponse> HttpGuard::identify(const RestRequest &request, Identity &who) const
{
    const AuthPolicy &auth = m_hub->auth();
    if (!auth.originAllowed(request.header("origin"), request.header("host"))) {
        Metrics::add(m_hub->metrics().refusedOrigin);
        return restError(403, ErrorCode::Forbidden, u"origin not allowed"_s);
    }
    QByteArray token = bearerToken(request.header("authorization"));
    if (token.isEmpty())
        token = request.query.queryItemValue(u"token"_s, QUrl::FullyDecoded).toUtf8();
    auto identity = auth.identify(token);
    if (identity && !identity->open && !identity->authenticated)
        identity = Result<Identity, AuthError>::failure({u"authentication required: send a token"_s});
    if (!identity) {
        Metrics::add(m_hub->metrics().refusedUnauthorized);
        RestResponse r = restError(401, ErrorCode::Unauthorized, identity.error().message);
        r.setHeader("WWW-Authenticate", "Bearer");
        return r;
    }
    who = *identity;
    return std::nullopt;
}

std::optional<RestResponse> HttpGuard::check(bool allowed, const QString &reason) const
{
    if (allowed)
        return std::nullopt;
    Metrics::add(m_hub->metrics().refusedForbidden);
    return restError(403, ErrorCode::Forbidden, reason);
}

} // namespace Herald
