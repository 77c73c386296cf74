#pragma once

#include <QLoggingCategory>

// One category per subsystem that logs (herald.<name>, for QT_LOGGING_RULES); add one when a subsystem first
// logs rather than declaring it ahead.
Q_DECLARE_LOGGING_CATEGORY(lcServer)
Q_DECLARE_LOGGING_CATEGORY(lcWs)
Q_DECLARE_LOGGING_CATEGORY(lcStore)
Q_DECLARE_LOGGING_CATEGORY(lcCluster)
Q_DECLARE_LOGGING_CATEGORY(lcRedis)

namespace Herald {
// Applies --log-level (error, warning, info, debug) to the herald.* categories.
bool applyLogLevel(const QString &level);
} // namespace Herald
