#pragma once

#include <QByteArray>

#include <atomic>

namespace Herald {

// Process-wide counters for /metrics. Relaxed atomics: they are statistics, not synchronisation.
struct Metrics
{
    std::atomic<qint64> framesIn{0}; // client frames received (WebSocket)
    std::atomic<qint64> messagesPublished{0};
    std::atomic<qint64> messagesDelivered{0}; // frames/events written to clients
    std::atomic<qint64> wsConnectionsTotal{0};
    std::atomic<qint64> sseConnectionsTotal{0};
    std::atomic<qint64> wsConnections{0};
    std::atomic<qint64> sseConnections{0};
    std::atomic<qint64> protocolErrors{0};
    std::atomic<qint64> httpRequests{0};
    std::atomic<qint64> storeErrors{0};         // publishes refused because the store could not commit
    std::atomic<qint64> messagesReplayed{0};    // stored messages sent to resuming clients
    std::atomic<qint64> refusedUnauthorized{0}; // no or bad token (HTTP 401, close 1008)
    std::atomic<qint64> refusedForbidden{0};  // a valid token that does not allow it (403, 1008, error frame)
    std::atomic<qint64> refusedOrigin{0};     // an Origin outside --allowed-origins
    std::atomic<qint64> rateLimited{0};       // frames dropped by the per-connection rate limit
    std::atomic<qint64> connectionsCapped{0}; // connections refused by --max-connections-per-ip
    std::atomic<qint64> slowConsumers{0};     // clients cut off because their send buffer was full
    std::atomic<qint64> idleTimeouts{0};      // WebSockets closed after --idle-timeout of silence
    // Connections closed (or answered 408) at a deadline, by the phase they were in.
    std::atomic<qint64> handshakeTimeouts{0};   // TLS handshake (--handshake-timeout)
    std::atomic<qint64> headTimeouts{0};        // request head (--request-timeout)
    std::atomic<qint64> bodyTimeouts{0};        // request body (--body-timeout)
    std::atomic<qint64> writeTimeouts{0};       // an answer the client did not read (--write-timeout)
    std::atomic<qint64> subscriptionsCapped{0}; // subscriptions refused by --max-subscriptions
    std::atomic<qint64> groupCommits{0};        // transactions of the group commit (Hub::flushPipeline)
    std::atomic<qint64> groupCommitted{0};      // messages they stored
    std::atomic<qint64> sendQueuePeak{0};       // the most bytes one client's send queue has held (Session)

    static void add(std::atomic<qint64> &c, qint64 n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
    static qint64 get(const std::atomic<qint64> &c) { return c.load(std::memory_order_relaxed); }
    static void raise(std::atomic<qint64> &c, qint64 v)
    {
        qint64 seen = c.load(std::memory_order_relaxed);
        while (seen < v && !c.compare_exchange_weak(seen, v, std::memory_order_relaxed)) {
        }
    }
};

} // namespace Herald
