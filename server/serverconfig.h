#pragma once

#include <QHostAddress>
#include <QString>
#include <QStringList>

#include <chrono>

namespace Herald {

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

    qint64 maxMessageSize = 64 * 1024; // WebSocket message and HTTP body (SPEC section 7)
    std::chrono::milliseconds handshakeTimeout{10000};
    std::chrono::milliseconds sseHeartbeat{15000};
    std::chrono::milliseconds sseRetry{3000};
    std::chrono::milliseconds shutdownGrace{3000};
    QStringList modelChannels{QStringLiteral("users"), QStringLiteral("posts")};
};

} // namespace Herald
