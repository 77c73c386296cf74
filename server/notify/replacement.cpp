// Updates and withdrawals (docs/protocol.md, "Updates and withdrawals"): `replaces` resolved to its chain's
// latest message, which the publish then supersedes in the same commit (Store::insert, RedisHistory::append).
#include "publisher.h"

#include "hub.h"

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// A chain overtaken this often in a row is a storm of updates: the publisher is told to try again.
constexpr int MaxResolveAttempts = 16;

PublishFailure notFound(qint64 id)
{
    return {404, ErrorCode::NotFound, u"no message %1: unknown, expired or withdrawn"_s.arg(id),
            std::nullopt};
}

PublishFailure overtaken()
{
    return {503, ErrorCode::Unavailable, u"the update chain kept changing: try again"_s, std::nullopt};
}
} // namespace

std::optional<PublishFailure> Publisher::resolveReplaces(Message &message)
{
    // A withdrawn event is the server's (Publisher::withdraw): one published as such would hide nothing
    // and yet disappear from history.
    if (message.type == History::WithdrawnType)
        return PublishFailure{422, ErrorCode::BadRequest,
                              u"field 'type' must not be 'withdrawn' (DELETE /api/messages/{id} withdraws)"_s,
                              std::nullopt};
    const qint64 named = message.notification.replaces;
    History *history = m_hub->history();
    // Without a history nothing is kept to resolve: live clients still replace by the id given.
    if (!named || !history)
        return std::nullopt;
    auto head = history->chainHead(named);
    if (!head)
        return PublishFailure::fromStore(head.error());
    if (!*head)
        return notFound(named);
    if ((*head)->channel != message.channel)
        return PublishFailure{
            422, ErrorCode::BadRequest,
            u"field 'replaces' must name a message on channel %1 (%2 is on another)"_s.arg(message.channel)
                .arg(named),
            std::nullopt};
    message.notification.replaces = (*head)->id;
    // Named by its first id, so that a client that missed the middle of the chain still finds its entry.
    message.notification.chain = (*head)->chain;
    return std::nullopt;
}

PublishAnswer Publisher::publishResolved(Message message, const QString &excludeClientId,
                                         const PublishOptions *options)
{
    const auto answer = [](const PublishResult &id) {
        return id ? PublishAnswer(PublishOutcome{*id, false, {}, {}})
                  : PublishAnswer::failure(PublishFailure::fromStore(id.error()));
    };
    if (!message.notification.replaces || !m_hub->history()) // the usual publish: no copy kept
        return answer(m_hub->publish(std::move(message), excludeClientId, nullptr, options));
    // One update at a time here, so that this node's updates of a chain do not overtake each other again and
    // again. One committed since `message` was resolved (by this node before the lock, by another node, or a
    // withdrawal) makes the commit Stale: the chain is then resolved again and followed.
    QMutexLocker serialized(&m_updateMutex);
    for (int attempt = 1;; ++attempt) {
        const PublishResult id = m_hub->publish(message, excludeClientId, nullptr, options);
        if (id || id.error().kind != StoreError::Kind::Stale)
            return answer(id);
        // Another update of the chain committed between the resolution and this commit: follow it.
        if (attempt == MaxResolveAttempts)
            return PublishAnswer::failure(overtaken());
        if (auto refused = resolveReplaces(message))
            return PublishAnswer::failure(std::move(*refused));
    }
}

Result<Withdrawal, PublishFailure> Publisher::withdraw(qint64 id, const ChannelCheck &check,
                                                       const QString &excludeClientId)
{
    using R = Result<Withdrawal, PublishFailure>;
    History *history = m_hub->history();
    if (!history)
        return R::failure(notFound(id));
    for (int attempt = 1; attempt <= MaxResolveAttempts; ++attempt) {
        auto head = history->chainHead(id);
        if (!head)
            return R::failure(PublishFailure::fromStore(head.error()));
        if (!*head)
            return R::failure(notFound(id));
        const ChainHead found = **head;
        if (auto refused = check(found.channel))
            return R::failure(std::move(*refused));
        Message event;
        event.channel = found.channel;
        event.type = History::WithdrawnType.toString();
        event.notification.withdraws = found.id;
        event.notification.chain = found.chain;
        const PublishResult published = m_hub->publish(std::move(event), excludeClientId);
        if (published)
            return Withdrawal{*published, found.id, found.channel};
        if (published.error().kind != StoreError::Kind::Stale)
            return R::failure(PublishFailure::fromStore(published.error()));
        id = found.id; // updated meanwhile: withdraw its new latest
    }
    return R::failure(overtaken());
}

} // namespace Herald
