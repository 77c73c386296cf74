#pragma once

#include "serverconfig.h"

#include <QList>
#include <QMutex>
#include <QObject>
#include <QSslConfiguration>
#include <QString>

#include <optional>

class QThread;
class QTimer;

namespace Herald {

class Cluster;
class Hub;
class Listener;
class RedisHistory;
class Scheduler;
class Store;
class Worker;

// One herald-server: the hub, the worker threads, the listener and the HTTP API. The headless main() and the
// dashboard's embedded mode both run exactly this.
class Server : public QObject
{
    Q_OBJECT

public:
    explicit Server(const ServerConfig &config, QObject *parent = nullptr);
    ~Server() override;

    // Listens and starts the workers. On failure returns false with a one-line errorString().
    bool start();
    QString errorString() const { return m_error; }
    quint16 port() const;
    Hub *hub() const { return m_hub; }
    Store *store() const { return m_store; }
    Cluster *cluster() const { return m_cluster; }
    const ServerConfig &config() const { return m_config; }

    // Graceful stop (SPEC section 1): stop accepting, close 1001 to every WebSocket, end SSE streams; emits
    // stopped() once every worker has drained or the grace period is over.
    void stop();

Q_SIGNALS:
    void stopped();

private:
    // --redis: opens the cluster's history in Redis (refusing to start without it) and joins the cluster.
    bool openRedis();   // reaches Redis and reads the cluster's sequence: the start-up check
    void joinCluster(); // after the store: the cluster node on that Redis
    void startDemo();
    // The highest demo number stored in users 1 and 2's queues (0 if none).
    int lastDemoNumber() const;
    void stopThreads();
    void closeStore();
    std::optional<QSslConfiguration> loadTls();

    ServerConfig m_config;
    QString m_error;
    Hub *m_hub = nullptr;
    Store *m_store = nullptr;
    RedisHistory *m_redis = nullptr;
    Cluster *m_cluster = nullptr;
    // Scheduled publishes (docs/protocol.md, "Scheduled delivery").
    Scheduler *m_scheduler = nullptr;
    QString m_redisAddress; // for messages: the URL without its password
    qint64 m_redisLastId = 0;
    Listener *m_listener = nullptr;
    QMutex m_modelChanges; // shared by the workers' ModelApi
    QTimer *m_demo = nullptr;
    QList<QThread *> m_threads;
    QList<Worker *> m_workers;
    int m_drained = 0;
    bool m_stopping = false;
};

} // namespace Herald
