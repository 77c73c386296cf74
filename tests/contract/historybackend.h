#pragma once

// What the History contract (historycontract.h) needs of one backend beyond the History interface: a fresh,
// empty history per test, and the calls only the concrete class has (storing a message, closing, thread
// connections). One implementation a backend: historycontract_sqlite.cpp (Store), historycontract_redis.cpp
// (RedisHistory). Failures inside these calls are reported with QTest's macros, so the caller checks
// QTest::currentTestFailed() after the void ones.

#include "backendfixture.h"
#include "history.h"
#include "serverconfig.h"

#include <QString>

#include <memory>

namespace HeraldTest {

// The fixture hooks (initTestCase … cleanup) are BackendFixture's: init() makes a new, empty history.
class HistoryBackend : public BackendFixture
{
public:
    // Opens the test's history with `config` (its data dir or Redis address is the backend's); every call
    // within one test reaches the same data, as a restart would. Null, with a warning, if it does not open.
    // The object is a QObject too, with the signal pruned(qint64).
    virtual std::unique_ptr<Herald::History> open(const Herald::ServerConfig &config) = 0;
    // Stores a message as the hub would (its id is the next of the history's one sequence: 1, 2, …, whatever
    // message.id says) and returns the id. Thread-safe.
    virtual Herald::Result<qint64, Herald::StoreError> store(Herald::History &history,
                                                             const Herald::Message &message) = 0;
    virtual void close(Herald::History &history) = 0;
    // For a thread that is done with the history.
    virtual void releaseThreadConnection(Herald::History &history) = 0;
    // The connections the history holds open, one a thread that used it and has not released it.
    virtual int connectionCount(Herald::History &history) = 0;

    // Where the two backends differ on purpose. Redis applies a channel's count retention in the script that
    // stores each message (memory stays bounded between prunes, and a cluster has no one node to run it);
    // SQLite applies it with the age rule when prune() runs (on its timer), in one DELETE for the whole
    // table. What remains is the same; what prune() deletes, and so what pruned() reports, is not.
    virtual bool countRetentionOnStore() const = 0;

    // Where the two backends differ on purpose, too: what bounds the ids a client may resume from. A cluster
    // judges them by its shared sequence in Redis (a node may lag behind the others, or a client may come
    // from a node that has seen more, so the node's own last id proves nothing); one Store judges them by the
    // hub's last id, which is the one sequence there is (the database reserves ids ahead, so its own is no
    // bound).
    virtual bool sharedSequence() const = 0;

    // What a history hands on as it stores, for the backend to check. Redis publishes each message on its bus
    // for the other nodes, as "<id> <payload>" (store() gives the message's text as the payload).
    // watchDeliveries() before a test stores anything; checkDeliveries() after, with every message stored,
    // oldest first: each was delivered once, in id order, with its payload. Store delivers nothing itself
    // (its hub hands messages to the subscribers in the process), so there is nothing to check.
    virtual void watchDeliveries(Herald::History &history) { Q_UNUSED(history); }
    virtual void checkDeliveries(const QList<Herald::Message> &stored) { Q_UNUSED(stored); }

    // Backend-specific proof that retention left nothing behind of the deleted messages: `onChannel` of the
    // channel's messages are stored, `inAll` on all channels. Redis counts its index keys; SQLite's rows go
    // whole, so there is nothing more to check.
    virtual void checkEntries(const QString &channel, qint64 onChannel, qint64 inAll)
    {
        Q_UNUSED(channel);
        Q_UNUSED(onChannel);
        Q_UNUSED(inAll);
    }
};

} // namespace HeraldTest
