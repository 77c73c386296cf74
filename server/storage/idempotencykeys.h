#pragma once

#include "history.h"
#include "result.h"

#include <QDateTime>
#include <QString>

namespace Herald {

// What a keyed publish answered, kept for the idempotency window: its id, or a scheduled publish's handle and
// time (docs/protocol.md, "Idempotent publish").
struct KeyedOutcome
{
    qint64 id = 0;
    QString scheduled;
    QDateTime deliverAt;
};

// The idempotency keys of publishes (--idempotency-window): in SQLite on a single server (SqliteIdempotency),
// in Redis on a cluster (RedisIdempotency), so that a retry after a restart, or to another node, is known.
// A key belongs to a scope (the publisher's identity): equal keys of two publishers are two keys. Blocking
// and thread-safe.
class IdempotencyKeys
{
public:
    virtual ~IdempotencyKeys() = default;

    enum class State
    {
        Claimed,  // free: now this caller's, until remember() or release()
        InFlight, // another publish with this key is in progress (on this node or another)
        Done,     // a publish with this key was answered within the window: `outcome`
    };
    struct Claim
    {
        State state = State::Claimed;
        KeyedOutcome outcome;
    };

    virtual Result<Claim, StoreError> claim(const QString &scope, const QString &key) = 0;
    // The claimed key's publish was answered: its outcome is kept for the window, from now.
    virtual Result<bool, StoreError> remember(const QString &scope, const QString &key,
                                              const KeyedOutcome &outcome) = 0;
    // The claimed key's publish failed: the key is free again, for a retry to publish.
    virtual void release(const QString &scope, const QString &key) = 0;
    // The claimed key's publish reached its commit, which writes the answer with the message (Store::insert,
    // RedisHistory::append), or may have (its outcome is unknown): only this process's hold on the key ends.
    // A claim in Redis is left as the commit left it: the answer, or the pending mark until its TTL.
    virtual void committed(const QString &scope, const QString &key) { release(scope, key); }
};

// A claimed key as a publish carries it to its commit (PublishOptions).
struct KeyedCommit
{
    QString scope;
    QString key;
};

} // namespace Herald
