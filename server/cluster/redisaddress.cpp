#include "redisaddress.h"

#include <QUrl>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Herald {

std::optional<RedisAddress> RedisAddress::parse(const QString &url)
{
    const QUrl u(url.trimmed(), QUrl::StrictMode);
    if (!u.isValid() || u.scheme() != u"redis"_s || u.host().isEmpty() || u.hasQuery() || u.hasFragment())
        return std::nullopt;
    RedisAddress a;
    a.host = u.host(QUrl::FullyDecoded);
    const int port = u.port(-1);
    if (port == 0 || port > 65535)
        return std::nullopt;
    if (port > 0)
        a.port = quint16(port);
    // "" and "/" mean database 0; otherwise exactly one path segment of digits.
    const QString path = u.path(QUrl::FullyDecoded);
    if (path.size() > 1) {
        const QString digits = path.mid(1);
        const bool allDigits =
            std::all_of(digits.cbegin(), digits.cend(), [](QChar c) { return c >= u'0' && c <= u'9'; });
        bool ok = false;
        a.db = digits.toInt(&ok);
        if (!allDigits || !ok)
            return std::nullopt;
    }
    a.user = u.userName(QUrl::FullyDecoded);
    a.password = u.password(QUrl::FullyDecoded);
    // AUTH needs a password; a lone "user@" is more likely a mistake than a password-less ACL user.
    if (!a.user.isEmpty() && a.password.isEmpty())
        return std::nullopt;
    return a;
}

QString RedisAddress::toString() const
{
    QUrl u;
    u.setScheme(u"redis"_s);
    u.setHost(host);
    u.setPort(port);
    if (!user.isEmpty())
        u.setUserName(user);
    if (db != 0)
        u.setPath(u"/%1"_s.arg(db));
    return u.toString();
}

} // namespace Herald
