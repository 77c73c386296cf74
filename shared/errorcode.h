#pragma once

#include <QString>

namespace Herald {

// Error codes carried in {"type":"error","code":…} frames and HTTP error bodies.
// Wire values: append only, never renumber or rename (clients switch on the strings).
enum class ErrorCode
{
    InvalidJson,   // "invalid_json"
    UnknownAction, // "unknown_action"
    Forbidden,     // "forbidden"
    BadChannel,    // "bad_channel"
    RateLimited,   // "rate_limited"
    TooLarge,      // "too_large"
    BadRequest,    // "bad_request": a field is missing or has the wrong type
    NotFound,      // "not_found"
    Unauthorized,  // "unauthorized"
    Unavailable,   // "unavailable": storage or broker cannot take the request right now
    Internal,      // "internal"
    Conflict,      // "conflict": a unique value is taken, or a record is still referenced
    // "too_many_subscriptions": over --max-subscriptions on one connection
    TooManySubscriptions,
    // "method_not_allowed": HTTP 405, a route asked with a method it does not have (its Allow header lists
    // them)
    MethodNotAllowed,
    // "outcome_unknown": HTTP 504, the store took the write but its answer was lost (Redis timed out twice):
    // the message may have been published; look before publishing it again
    OutcomeUnknown,
    // "timeout": HTTP 408, no complete request head, or a body not all there, within --request-timeout or
    // --body-timeout (sent by server/transport)
    Timeout,
};

QString errorCodeName(ErrorCode code);

struct ProtocolError
{
    ErrorCode code;
    QString message;
};

} // namespace Herald
