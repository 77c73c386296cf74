// DELETE /api/messages/{id}: withdraws a message (docs/protocol.md, "Updates and withdrawals").
#include "httpapi.h"

#include "httpjson.h"
#include "hub.h"
#include "publisher.h"
#include "request.h"

using namespace Qt::StringLiterals;

namespace Herald {

RestResponse HttpApi::withdraw(const QString &idText, const RestRequest &request)
{
    Identity who;
    if (auto refused = m_guard.identify(request, who))
        return std::move(*refused);
    const auto id = parseSequence(idText);
    if (!id)
        return restError(422, ErrorCode::BadRequest, u"the message id must be a non-negative integer"_s);
    std::optional<RestResponse> refusal;
    const ChannelCheck check = [&](const QString &channel) -> std::optional<PublishFailure> {
        if (who.canWrite(channel))
            return std::nullopt;
        // A message the caller may not even read is "not found", as markRead answers: ids are guessable,
        // queues are private.
        if (!who.canRead(channel))
            return PublishFailure{404, ErrorCode::NotFound, u"no message %1"_s.arg(*id), std::nullopt};
        refusal = m_guard.check(false, who.refusal(channel, true));
        return PublishFailure{403, ErrorCode::Forbidden, who.refusal(channel, true), std::nullopt};
    };
    const auto done = m_hub->publisher().withdraw(*id, check);
    if (refusal)
        return std::move(*refusal);
    if (!done) {
        const PublishFailure &f = done.error();
        return f.store ? restStoreError(*f.store) : restError(f.status, f.code, f.message);
    }
    return restJson(
        QJsonObject{{"id"_L1, done->id}, {"channel"_L1, done->channel}, {"withdraws"_L1, done->withdraws}});
}

} // namespace Herald
