#include "errorcode.h"

using namespace Qt::StringLiterals;

namespace Herald {

QString errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::InvalidJson:
        return u"invalid_json"_s;
    case ErrorCode::UnknownAction:
        return u"unknown_action"_s;
    case ErrorCode::Forbidden:
        return u"forbidden"_s;
    case ErrorCode::BadChannel:
        return u"bad_channel"_s;
    case ErrorCode::RateLimited:
        return u"rate_limited"_s;
    case ErrorCode::TooLarge:
        return u"too_large"_s;
    case ErrorCode::BadRequest:
        return u"bad_request"_s;
    case ErrorCode::NotFound:
        return u"not_found"_s;
    case ErrorCode::Unauthorized:
        return u"unauthorized"_s;
    case ErrorCode::Unavailable:
        return u"unavailable"_s;
    case ErrorCode::Internal:
        return u"internal"_s;
    case ErrorCode::Conflict:
        return u"conflict"_s;
    case ErrorCode::TooManySubscriptions:
        return u"too_many_subscriptions"_s;
    case ErrorCode::MethodNotAllowed:
        return u"method_not_allowed"_s;
    case ErrorCode::OutcomeUnknown:
        return u"outcome_unknown"_s;
    case ErrorCode::Timeout:
        return u"timeout"_s;
    }
    return u"internal"_s;
}

} // namespace Herald
