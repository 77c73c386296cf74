#include "history.h"

#include "channelname.h"

namespace Herald {

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

} // namespace Herald
