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
    std::atomic<qint64> storeErrors{0};      // publishes refused because the store could not commit
    std::atomic<qint64> messagesReplayed{0}; // stored messages sent to resuming clients

    static void add(std::atomic<qint64> &c, qint64 n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
    static qint64 get(const std::atomic<qint64> &c) { return c.load(std::memory_order_relaxed); }
};

} // namespace Herald
