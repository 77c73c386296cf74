#include "history.h"

#include "channelname.h"

#include <algorithm>

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

Result<QList<StoredChannel>, StoreError> History::channels(const QString &after, int limit)
{
    auto all = channels();
    if (!all)
        return all;
    QList<StoredChannel> list = std::move(*all);
    std::sort(list.begin(), list.end(),
              [](const StoredChannel &a, const StoredChannel &b) { return a.name < b.name; });
    const auto from =
        std::upper_bound(list.cbegin(), list.cend(), after,
                         [](const QString &name, const StoredChannel &c) { return name < c.name; });
    const qsizetype start = from - list.cbegin();
    return list.mid(start, limit);
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
