#include "logging.h"

using namespace Qt::StringLiterals;

Q_LOGGING_CATEGORY(lcServer, "herald.server", QtInfoMsg)
Q_LOGGING_CATEGORY(lcWs, "herald.ws", QtInfoMsg)
Q_LOGGING_CATEGORY(lcStore, "herald.store", QtInfoMsg)
Q_LOGGING_CATEGORY(lcCluster, "herald.cluster", QtInfoMsg)
Q_LOGGING_CATEGORY(lcRedis, "herald.redis", QtInfoMsg)

namespace Herald {

bool applyLogLevel(const QString &level)
{
    const QStringList levels = {u"debug"_s, u"info"_s, u"warning"_s, u"error"_s};
    const qsizetype index = levels.indexOf(level.toLower());
    if (index < 0)
        return false;
    QString rules;
    for (qsizetype i = 0; i < levels.size() - 1; ++i) {
        const QString name = levels.at(i) == u"error"_s ? u"critical"_s : levels.at(i);
        rules += u"herald.*.%1=%2\n"_s.arg(name, i >= index ? u"true"_s : u"false"_s);
    }
    // Qt's own categories stay at warnings, whatever Herald's level.
    QLoggingCategory::setFilterRules(rules);
    return true;
}

} // namespace Herald
