#pragma once

#include "message.h"

#include <QByteArray>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>

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

// A publisher waiting until every worker has written its message to the local subscribers' sockets: the REST
// publish route answers then, as nchan does, so a publisher cannot run ahead of the fan-out and queue
// messages (and latency) without bound. See Hub::WatchScope.
struct FanoutWatch
{
    // Workers that have yet to write it, plus one the waiter holds until it is ready to be told.
    std::atomic<int> pending{1};
    bool used = false; // something was dispatched under it (set on the publishing thread only)
    // Called once, on the thread that brings `pending` to 0. Set before the waiter's release().
    std::function<void()> written;

    void release()
    {
        if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1 && written)
            written();
    }
};
using FanoutWatchPtr = std::shared_ptr<FanoutWatch>;

// Encodes a message for every transport. Control frames (no id) get no SSE id line.
EnvelopePtr makeEnvelope(Message message, Envelope::Target target, const QString &excludeClientId = {},
                         bool stored = false);
// An envelope for a frame that is not a stored message (counts, admin events).
EnvelopePtr makeControlEnvelope(const QByteArray &json, Envelope::Target target);

} // namespace Herald
