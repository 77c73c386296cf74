#pragma once

#include "modelspec.h"

#include <QHostAddress>
#include <QString>
#include <QStringList>

#include <chrono>

namespace Herald {

// How long a channel's stored history is kept (SPEC section 2): the newest maxCount messages, none older than
// maxAge. The first rule whose pattern matches a channel wins; '*' matches any run of characters.
struct RetentionRule
{
    QString pattern;
    int maxCount = 1000;
    std::chrono::seconds maxAge{7 * 24 * 3600};
};

// Everything herald-server can be told on the command line or in --config; read-only once the server starts.
struct ServerConfig
{
    QHostAddress bind = QHostAddress::LocalHost;
    QString bindText = QStringLiteral("127.0.0.1");
    quint16 port = 8000;
    QString dataDir = QStringLiteral("./herald-data");
    QString configFile;
    QString logLevel = QStringLiteral("info");
    int demoIntervalSeconds = 0;
    int workerThreads = 0; // 0: one per core
    int listenBacklog = 4096;
    // REST publishes one keep-alive connection may have in flight before its answers wait for their fan-out
    // (0: answer at once, and a burst is delivered coalesced; 1: answer once every subscriber's socket has
    // the message, as nchan does, so one message at a time is queued per publisher).
    int publishWindow = 0;
    // A safety valve for publish floods: while more messages than this wait in the I/O threads' queues
    // (summed over threads), REST publish answers wait for their fan-out as with a window of 1, so publishers
    // slow to the rate of delivery instead of queueing without bound (and cutting every subscriber off as a
    // slow consumer when the queue finally lands in their send buffers). Not an option; tests lower it.
    qint64 maxQueuedMessages = 16384;

    qint64 maxMessageSize = 64 * 1024; // WebSocket message and HTTP body (SPEC section 7)
    // Deadlines on every phase of a connection, so that no client holds one by sending or reading slowly.
    // TLS: the handshake must be done this long after the connection is accepted (--handshake-timeout).
    std::chrono::milliseconds tlsHandshakeTimeout{10000};
    // A complete request head (and a WebSocket's auth frame in token mode), counted from the connection or
    // from the end of the previous answer (--request-timeout; a 408).
    std::chrono::milliseconds handshakeTimeout{10000};
    // A request's whole body, counted from the end of its head (--body-timeout; a 408).
    std::chrono::milliseconds bodyTimeout{10000};
    // An answer the client stops reading: closed once no byte of it could be sent for this long
    // (--write-timeout).
    std::chrono::milliseconds writeTimeout{30000};
    // A keep-alive connection (the hot REST routes) is closed after this long without a request.
    std::chrono::milliseconds keepAliveTimeout{30000};
    std::chrono::milliseconds sseHeartbeat{15000};
    std::chrono::milliseconds sseRetry{3000};
    std::chrono::milliseconds shutdownGrace{3000};
    // After our Close frame (or an SSE stream's last event): how long the peer has to answer, then to close
    // its side after ours, before the connection is cut (GracefulClose). Not an option; tests lower it.
    std::chrono::milliseconds closeTimeout{2000};
    // Seed 004's models: each has REST routes (/users/), a table of records and a channel of change events.
    QList<ModelSpec> models = builtinModels();
    QStringList modelNames() const
    {
        QStringList names;
        for (const ModelSpec &m : models)
            names.append(m.name);
        return names;
    }

    // The store (SPEC sections 2 and 5).
    RetentionRule defaultRetention;      // history-size, history-ttl
    QList<RetentionRule> retentionRules; // [retention] in the config file, most specific first
    // Channels whose messages are delivered live but never stored or replayed. client:<id> is one
    // connection's personal channel: it has nobody to replay to once that connection is gone.
    QStringList ephemeralChannels{QStringLiteral("client:*")};
    int replayLimit = 5000;       // most messages one resume replays; beyond it "recovered":false
    qint64 maxDatabaseSize = 0;   // bytes, 0 = no limit; a full store answers 503, never drops silently
    bool synchronousFull = false; // fsync every commit (power-loss safe) instead of WAL's NORMAL
    std::chrono::milliseconds storeBusyTimeout{2000};
    std::chrono::milliseconds pruneInterval{60000};
    // How long a publish's Idempotency-Key is remembered: a retry within it gets the first answer
    // (--idempotency-window; in SQLite, or in Redis on a cluster).
    std::chrono::seconds idempotencyWindow{600};

    // Security (SPEC section 7).
    enum class AuthMode
    {
        Auto, // open on a loopback bind, token on any other
        Open,
        Token,
    };
    AuthMode authMode = AuthMode::Auto;
    QString jwtSecretFile;
    // Browser origins allowed besides the server's own. Empty: any in token mode, only the server's own in
    // open mode (a page on another site must not drive an open server); anyOrigin: "--allowed-origins *".
    QStringList allowedOrigins;
    bool anyOrigin = false;
    // Host names an open server answers besides localhost and IP literals: a DNS-rebinding page reaches
    // 127.0.0.1 under its own name, which only this check tells apart.
    QStringList allowedHosts;
    int rateLimit = 100;          // messages per second per connection, burst twice that; 0 = off
    int maxConnectionsPerIp = -1; // -1: 0 (no cap) on a loopback bind, 1000 on any other
    std::chrono::seconds idleTimeout{60};
    // Explicit subscriptions one connection may hold (WebSocket subscribe, ?channels= at connect).
    int maxSubscriptions = 1000;
    qint64 maxSendBuffer = 4 * 1024 * 1024;
    // A client owed more than fits its send buffer that has read nothing for this long is cut off (4002).
    std::chrono::milliseconds sendStallTimeout{5000};

    // TLS (SPEC section 7): https:// and wss:// on the same port when both are set (PEM files).
    QString tlsCert;
    QString tlsKey;
    bool tls() const { return !tlsCert.isEmpty(); }

    // Scale-out (SPEC section 8): with a Redis URL this server is one node of a cluster.
    QString redisUrl; // empty: a single server, SQLite only
    QString redisPrefix =
        QStringLiteral("herald:");   // every key and bus channel; clusters can share one Redis
    QString nodeId;                  // empty: <hostname>-<port>-<random>, chosen at start
    std::chrono::seconds nodeTtl{6}; // a silent node's figures leave the totals after this
    bool clustered() const { return !redisUrl.isEmpty(); }

    bool isLoopbackBind() const { return bind.isLoopback(); }
    bool tokenAuth() const
    {
        return authMode == AuthMode::Token || (authMode == AuthMode::Auto && !isLoopbackBind());
    }
    int connectionsPerIpCap() const
    {
        return maxConnectionsPerIp >= 0 ? maxConnectionsPerIp : (isLoopbackBind() ? 0 : 1000);
    }
};

} // namespace Herald
