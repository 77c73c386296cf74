#include "history.h"

#include "channelname.h"

namespace Herald {

QString replayGapName(ReplayGap gap)
{
    switch (gap) {
    case ReplayGap::None:
        break;
    case ReplayGap::Reset:
        return QStringLiteral("reset");
    case ReplayGap::Expired:
        return QStringLiteral("expired");
    case ReplayGap::Limit:
        return QStringLiteral("limit");
    case ReplayGap::Unavailable:
        return QStringLiteral("unavailable");
    }
    return {};
}

bool isPersistentChannel(const ServerConfig &config, const QString &channel)
{
    for (const QString &pattern : config.ephemeralChannels) {
        if (channelMatches(pattern, channel))
            return false;
    }
    return true;
}

RetentionRule retentionRuleFor(const ServerConfig &config, const QString &channel)
{
    for (const RetentionRule &rule : config.retentionRules) {
        if (channelMatches(rule.pattern, channel))
            return rule;
    }
    return config.defaultRetention;
}

Result<bool, StoreError> History::markRead(qint64 id, QString *channel)
{
    using R = Result<bool, StoreError>;
    auto owner = channelOf(id);
    if (!owner)
        return R::failure(owner.error());
    if (!owner->has_value() || !isUserChannel(**owner))
        return false; // read state belongs to user queues only
    if (channel)
        *channel = **owner;
    return markStoredRead(id, **owner);
}

} // namespace Herald
