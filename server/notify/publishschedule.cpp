// Publisher's scheduling step: a publish with "at" or "delay" is kept by the Scheduler and answered with its
// handle; it takes its id when it is delivered (docs/protocol.md, "Scheduled delivery").
#include "publisher.h"
#include "scheduler.h"

using namespace Qt::StringLiterals;

namespace Herald {

std::optional<PublishAnswer> Publisher::schedule(PublishRequest &request)
{
    if (!request.deliverAt)
        return std::nullopt;
    if (!m_scheduler)
        return PublishAnswer::failure(
            {503, ErrorCode::Unavailable, u"scheduled delivery is not available on this server"_s, {}});
    const QDateTime &expires = request.message.notification.expires;
    if (expires.isValid() && expires <= *request.deliverAt)
        return PublishAnswer::failure(
            {422,
             ErrorCode::BadRequest,
             u"field 'expires' must be after the delivery time %1: the message would expire before it is "
             "delivered"_s.arg(formatTimestamp(*request.deliverAt)),
             {}});
    ScheduledEntry entry;
    entry.handle = ScheduledEntry::newHandle();
    entry.at = request.deliverAt->toUTC();
    entry.message = request.message;
    entry.message.id = 0;
    entry.excludeClientId = request.excludeClientId;
    // A keyed publish's answer (the handle) is written with the entry (PublishOptions::keyed).
    const KeyedCommit *keyed =
        request.options && !request.options->keyed.key.isEmpty() ? &request.options->keyed : nullptr;
    if (auto added = m_scheduler->add(entry, keyed); !added)
        return PublishAnswer::failure(PublishFailure::fromStore(added.error()));
    return PublishAnswer(PublishOutcome{0, false, entry.handle, entry.at});
}

} // namespace Herald
