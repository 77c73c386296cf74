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
    // The key's answer is written in the commit that stores the message (PublishOptions::keyed), so the
    // publish carries the key down to it. A group commit reports its failure after Hub::publish has returned
    // the id, too late to free the key (a retry would be told of a message never stored): a keyed publish
    // commits at once. Its answer may still wait for the fan-out (--publish-window).
    request.keyedOptions = request.options ? *request.options : PublishOptions{};
    request.keyedOptions.flushOn = nullptr;
    request.keyedOptions.keyed = KeyedCommit{request.idempotencyScope, request.idempotencyKey};
    request.options = &request.keyedOptions;
    return std::nullopt;
}

void Publisher::rememberIdempotency(const PublishRequest &request, PublishAnswer &answer)
{
    if (request.idempotencyKey.isEmpty())
        return;
    IdempotencyKeys *keys = keysOf(m_hub);
    if (!keys)
        return;
    if (!answer) {
        const std::optional<StoreError> &store = answer.error().store;
        if (store && store->kind == StoreError::Kind::Claimed) {
            // On a cluster, this node's claim expired before its commit ran and the key is another
            // publish's now (in progress, or answered): nothing was published, and the key is not ours.
            answer = PublishAnswer::failure(
                PublishFailure{409, ErrorCode::Conflict,
                               u"another publish with idempotency key '%1' was made meanwhile: retry for "
                               "its answer"_s.arg(request.idempotencyKey),
                               std::nullopt});
            return;
        }
        if (store && store->kind == StoreError::Kind::Unknown) {
            // The commit may have run, and then it wrote the answer with the message: freeing the key would
            // let a retry publish a second time. Redis keeps the claim until the answer replaces it or its
            // TTL passes (a retry meanwhile is told 409).
            keys->committed(request.idempotencyScope, request.idempotencyKey);
            return;
        }
        // Nothing was published (the store refused, or the request was wrong): a retry may publish.
        keys->release(request.idempotencyScope, request.idempotencyKey);
        return;
    }
    // Published, or scheduled: the commit that stored the message (Store::insert, RedisHistory::append) or
    // the schedule's entry (ScheduleStore::add) wrote the key's answer.
    keys->committed(request.idempotencyScope, request.idempotencyKey);
}

} // namespace Herald
