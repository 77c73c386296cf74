// The idempotency step of a publish (docs/protocol.md, "Idempotent publish"): a retry with the key of a
// publish answered within --idempotency-window gets that answer again, marked duplicate, and publishes
// nothing.
#include "publisher.h"

#include "hub.h"
#include "logging.h"
#include "redishistory.h"

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// Where keys are kept: Redis on a cluster node (a retry may reach another node), else the store.
IdempotencyKeys *keysOf(Hub *hub)
{
    if (auto *redis = dynamic_cast<RedisHistory *>(hub->history()))
        return redis->idempotency();
    return hub->store() ? hub->store()->idempotency() : nullptr;
}
} // namespace

std::optional<PublishAnswer> Publisher::checkIdempotency(PublishRequest &request)
{
    if (request.idempotencyKey.isEmpty())
        return std::nullopt;
    IdempotencyKeys *keys = keysOf(m_hub);
    if (!keys) {
        request.idempotencyKey.clear(); // a hub without a store (tests): nowhere to keep it
        return std::nullopt;
    }
    // The key is claimed before the publish, so that of two publishes with one key only one delivers.
    auto claim = keys->claim(request.idempotencyScope, request.idempotencyKey);
    if (!claim) {
        request.idempotencyKey.clear(); // not claimed: nothing to remember or release
        return PublishAnswer::failure(PublishFailure::fromStore(claim.error()));
    }
    switch (claim->state) {
    case IdempotencyKeys::State::Done: {
        const KeyedOutcome &first = claim->outcome;
        return PublishAnswer(PublishOutcome{first.id, true, first.scheduled, first.deliverAt});
    }
    case IdempotencyKeys::State::InFlight:
        // Answered at once rather than waited for: the first may take the store's whole busy timeout, and
        // waiting would hold an I/O thread and all its connections (on a cluster, poll Redis). The IETF draft
        // on Idempotency-Key asks for this 409; the client's next retry gets the first one's answer.
        return PublishAnswer::failure(
            PublishFailure{409, ErrorCode::Conflict,
                           u"a publish with idempotency key '%1' is in progress: retry for its answer"_s.arg(
                               request.idempotencyKey),
                           std::nullopt});
    case IdempotencyKeys::State::Claimed:
        break;
    }
    if (request.options && request.options->flushOn) {
        // A group commit reports its failure after Hub::publish has returned the id, too late to free the
        // key (a retry would be told of a message never stored): a keyed publish commits at once. Its answer
        // may still wait for the fan-out (--publish-window).
        request.keyedOptions = *request.options;
        request.keyedOptions.flushOn = nullptr;
        request.options = &request.keyedOptions;
    }
    return std::nullopt;
}

void Publisher::rememberIdempotency(const PublishRequest &request, const PublishAnswer &answer)
{
    if (request.idempotencyKey.isEmpty())
        return;
    IdempotencyKeys *keys = keysOf(m_hub);
    if (!keys)
        return;
    if (!answer) {
        // Nothing was published (the store refused, or the request was wrong): a retry may publish.
        keys->release(request.idempotencyScope, request.idempotencyKey);
        return;
    }
    const KeyedOutcome outcome{answer->id, answer->scheduled, answer->deliverAt};
    if (auto kept = keys->remember(request.idempotencyScope, request.idempotencyKey, outcome); !kept)
        qCWarning(lcStore).noquote() << "idempotency key of message" << answer->id
                                     << "not kept (a retry would publish again):" << kept.error().message;
}

} // namespace Herald
