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
//                        dies mid-publish frees it), then the outcome's JSON for the window (PX), written by
//                        the append script that commits the message (a scheduled publish's: remember())
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
    // Nothing to do: the append script replaced the pending mark by the answer, or the commit never ran and
    // the mark expires after InFlightTtl (a retry meanwhile is told 409, then publishes).
    void committed(const QString &, const QString &) override {}
    // The pending mark this node sets on a key it claims (RedisHistory::append checks it).
    QByteArray pendingValue() const;
    qint64 windowMs() const { return m_windowMs; }

    QByteArray key(const QString &scope, const QString &key) const;

private:
    RedisConnection &m_redis;
    const QByteArray m_prefix;
    const qint64 m_windowMs;
    const QByteArray m_token; // random per object: one node
};

} // namespace Herald
