#pragma once

#include <QString>

#include <optional>

namespace Herald {

// Where a cluster's Redis is (--redis): redis://[[user]:password@]host[:port][/db]. The user is an ACL user
// (Redis 6+); without one, the password is for the default user. No TLS (rediss://), no Unix sockets.
struct RedisAddress
{
    QString host;
    quint16 port = 6379;
    int db = 0;
    QString user;
    QString password;

    // nullopt for anything else: another scheme, no host, a port outside 1..65535, a db that is not a
    // non-negative integer, a user without a password, a query or a fragment.
    static std::optional<RedisAddress> parse(const QString &url);
    // For logs and error messages: the URL without the password.
    QString toString() const;
};

} // namespace Herald
