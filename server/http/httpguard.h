#pragma once

#include "auth.h"
#include "restrequest.h"

#include <optional>

namespace Herald {

class Hub;

// SPEC section 7 for the REST API: who a request is (a token from Authorization: Bearer or ?token=), and the
// explicit refusals: 401 without a usable token in token mode, 403 when the token does not allow it or the
// page's origin is not allowed. Every refusal is counted in /metrics.
class HttpGuard
{
public:
    explicit HttpGuard(Hub *hub);

    // On success fills `who` and returns nothing; else the 401/403 to send.
    std::optional<RestResponse> identify(const RestRequest &request, Identity &who) const;
    // 403 {"error":"forbidden","detail":reason} unless `allowed`.
    std::optional<RestResponse> check(bool allowed, const QString &reason) const;

private:
    Hub *m_hub;
};

} // namespace Herald
