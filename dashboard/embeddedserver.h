#pragma once

#include <QObject>
#include <QUrl>

#include <chrono>
#include <memory>

namespace Herald {

class Server;

// The dashboard's in-process server: the same herald_core a standalone herald-server runs, on loopback.
// A busy port is not fatal here (someone may already run herald-server on 8000): it falls back to any free
// port and says which.
class EmbeddedServer : public QObject
{
    Q_OBJECT

public:
    explicit EmbeddedServer(QObject *parent = nullptr);
    ~EmbeddedServer() override;

    // The data directory used when none is given: <AppDataLocation>/server.
    static QString defaultDataDir();

    bool start(quint16 port, const QString &dataDir, int demoIntervalSeconds = 0);
    // Graceful: close 1001 to every client, then return once the server stopped or `wait` passed.
    void stop(std::chrono::milliseconds wait = std::chrono::milliseconds(5000));

    bool isRunning() const { return m_server != nullptr; }
    quint16 port() const;
    quint16 requestedPort() const { return m_requestedPort; }
    bool usedFallbackPort() const { return m_fallback; }
    QString dataDir() const { return m_dataDir; }
    QString errorString() const { return m_error; }
    QUrl feedUrl() const;
    Server *server() const { return m_server.get(); }

private:
    std::unique_ptr<Server> m_server;
    quint16 m_requestedPort = 0;
    bool m_fallback = false;
    QString m_dataDir;
    QString m_error;
};

} // namespace Herald
