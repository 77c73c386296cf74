#pragma once

#include "history.h"
#include "result.h"

#include <QByteArray>
#include <QByteArrayList>
#include <QList>
#include <QString>

#include <chrono>
#include <utility>

namespace Herald {

class RedisConnection;
class RedisScript;

// Client ids claimed across a cluster (SPEC section 7: an id belongs to the identity that first used it, on
// every node). A node's own registry (Hub) only sees its own connections, so Bob's id held on node A would be
// free for Alice on node B, and with it Bob's client:<id> messages, which the bus brings to every node. Key,
// for a prefix P and a client id C:
//   P claim:C    string  the user id (the token's subject) holding C, with a TTL
// A node sets it when one of its connections claims C (claim(): refused while another user holds it),
// renews it while connections hold it, and restarts its TTL at the claim linger when the last of them
// closes, so an id outlives its last connection on every node as long as it does on one; a node that dies
// leaves its ids to expire within the TTL. Part of RedisHistory: the same connections and key prefix.
class RedisClaims
{
public:
    RedisClaims(RedisConnection &redis, QByteArray prefix);

    // The scripts, for RedisHistory::open() to load up front.
    static QList<const RedisScript *> scripts();

    // Blocking, thread-safe. Claims clientId for userId for `ttl`: true if it was free, lingering for the
    // same user, or held for `replacing` (a connection that changes hands: its old identity gives the id up).
    Result<bool, StoreError> claim(const QString &clientId, const QString &userId, const QString &replacing,
                                   std::chrono::milliseconds ttl);

    // The script and arguments that renew claims (a node's held ids, every few heartbeats) or release one
    // (the last local connection closed: the TTL becomes the linger; a linger of 0 deletes it): each key is
    // set to its user for `ttl` unless another user holds it; with a ttl of 0, deleted if it is its user's.
    // For Cluster's asynchronous connection, as EVAL arguments.
    QByteArrayList renewCommand(const QList<std::pair<QString, QString>> &claims,
                                std::chrono::milliseconds ttl) const;
    QByteArray key(const QString &clientId) const;

private:
    RedisConnection &m_redis;
    const QByteArray m_prefix;
};

} // namespace Herald
