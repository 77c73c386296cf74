#pragma once

#include "history.h"
#include "idempotencykeys.h"
#include "message.h"

#include <QByteArray>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>

class QObject;

namespace Herald {

// A published message encoded once, shared read-only by every worker and every recipient.
// The WebSocket frame is server-to-client (unmasked), so the same bytes go to every socket.
struct Envelope
{
    enum class Target
    {
        Channel,  // subscribers of message.channel, and the admin feed
        Everyone, // every client on any channel (the "broadcast" channel), and the admin feed
        Admin,    // the admin feed only (client connected, subscribed, …)
        Counts,   // /ws/client and /ws/server peers: {"type":"counts",…}
        // Pages (/ws?counts=1, /events?counts=1): the counts plus "channels", so a page shows the same
        // channel total as /ws/stats without asking. Seed 003's shape stays exactly as documented.
        PageCounts,
    };

    Target target = Target::Channel;
    Message message;
    QByteArray json;
    QByteArray wsFrame;
    QByteArray sseEvent;        // named: "id: …\nevent: <type>\ndata: …\n\n"
    QByteArray sseEventUnnamed; // for EventSource clients that only listen to onmessage
    QString excludeClientId;    // X-Client-Id: not delivered to this client
    bool stored = false;        // committed to the store, so a resume replays it
};

using EnvelopePtr = std::shared_ptr<const Envelope>;

// A REST publisher waiting for what its answer depends on (PlainConnection::serveHot, PublishOptions): the
// group commit that stores its message, and with --publish-window, every worker having written the message to
// its subscribers' sockets (then, as nchan does, a publisher cannot run ahead of the fan-out).
struct FanoutWatch
{
    // What is still to come (a group commit, each worker's write), plus one the waiter holds until it is
    // ready to be told.
    std::atomic<int> pending{1};
    bool used = false;     // a fan-out is watched (set on the publishing thread only)
    bool deferred = false; // the message waits for a group commit (set on the publishing thread only)
    std::optional<StoreError> failure; // the group commit failed: set before that release
    // Called once, on the thread that brings `pending` to 0. Set before the waiter's release().
    std::function<void(const FanoutWatch &)> written;

    void release()
    {
        if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1 && written)
            written(*this);
    }
};
using FanoutWatchPtr = std::shared_ptr<FanoutWatch>;

// How Hub::publish answers a REST publisher that waits for its answer (PlainConnection::serveHot), passed
// down from there with the request; without one (nullptr) a publish commits at once and nothing waits. Its
// publishes report to `watch`: with `fanout`, every worker releases it once it has written the message to its
// subscribers (messages on a channel nobody subscribes to are not watched). With `flushOn` (an object of the
// publishing thread), a message on a stored channel joins a group commit instead of being committed at once:
// it gets its id now, a Hub::flushPipeline() is posted to `flushOn`, and the watch is released once the batch
// is committed, with `failure` set if that failed.
struct PublishOptions
{
    FanoutWatchPtr watch;
    bool fanout = false;
    QObject *flushOn = nullptr;
    // The handle of the scheduled publish this message delivers (Scheduler): its entry is deleted in the
    // commit that stores the message (Store::insert, RedisHistory::append), and the publish fails with
    // StoreError::Kind::Gone, publishing nothing, if the entry is gone already.
    QString scheduled = {};
    // The Idempotency-Key the publish claimed (Publisher::checkIdempotency; empty key: none): its answer, the
    // message's id, is written in the commit that stores the message (Store::insert, on a cluster
    // RedisHistory::append), so no crash can leave a published message whose key a retry finds free. Such a
    // publish never joins a group commit.
    KeyedCommit keyed = {};
};

// Encodes a message for every transport. Control frames (no id) get no SSE id line.
EnvelopePtr makeEnvelope(Message message, Envelope::Target target, const QString &excludeClientId = {},
                         bool stored = false);
// One SSE event: an id line when id > 0, an event line when type is not empty, the JSON as its data.
QByteArray sseEncode(qint64 id, const QString &type, const QByteArray &json);
// An envelope for a frame that is not a stored message (counts, admin events).
EnvelopePtr makeControlEnvelope(const QByteArray &json, Envelope::Target target);

} // namespace Herald
