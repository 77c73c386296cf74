#pragma once

#include "idempotencykeys.h"

#include <QByteArray>
#include <QList>

#include <chrono>

namespace Herald {

class RedisConnection;
class RedisScript;

// Idempotency keys in Redis (--redis), shared by every node of a cluster: a retry sent to another node is
// known there. Part of RedisHistory: the same connections and key prefix. Key, for a prefix P, a scope S
// (percent-encoded, so that its colons cannot run into the key's) and a key K:
//   P idem:S:K   string  "pending <token>" while a node publishes (for at most InFlightTtl, so a node that
//                        dies mid-publish frees it), then the outcome's JSON for the window (PX)
// One script claims (SET unless present, else what is there), so two nodes never both publish.
class RedisIdempotency : public IdempotencyKeys
{
public:
    RedisIdempotency(RedisConnection &redis, QByteArray prefix, std::chrono::seconds window);

    // Long enough for a publish that waits out Redis's command timeout twice.
    static constexpr std::chrono::milliseconds InFlightTtl{30000};

    // The scripts, for RedisHistory::open() to load up front.
    static QList<const RedisScript *> scripts();

    Result<Claim, StoreError> claim(const QString &scope, const QString &key) override;
    Result<bool, StoreError> remember(const QString &scope, const QString &key,
                                      const KeyedOutcome &outcome) override;
    void release(const QString &scope, const QString &key) override;

    QByteArray key(const QString &scope, const QString &key) const;

private:
    // This node's mark on a key it claimed: another node's pending claim is not this one's to free.
    QByteArray pendingValue() const;

    RedisConnection &m_redis;
    const QByteArray m_prefix;
    const qint64 m_windowMs;
    const QByteArray m_token; // random per object: one node
};

} // namespace Herald
