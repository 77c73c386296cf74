#pragma once

#include <QList>
#include <QPointer>
#include <QTcpServer>

class QHttpServer;

namespace Herald {

class Worker;

// The one listening socket. Accepted descriptors go round-robin to the workers, which serve them entirely.
// Our own QTcpServer, rather than QHttpServer::listen(), for its listen backlog: Qt's default of 50 makes a
// burst of thousands of connects take tens of seconds.
class Listener : public QTcpServer
{
    Q_OBJECT

public:
    explicit Listener(QObject *parent = nullptr);
    void setWorkers(const QList<Worker *> &workers) { m_workers = workers; }

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    QList<Worker *> m_workers;
    qsizetype m_next = 0;
};

// A worker's door into its QHttpServer (6.4 takes connections only from a QTcpServer). It never listens: the
// worker adds the plain HTTP connections whose head it has read. Its own queue, because QTcpServer's warns
// on every connection taken from a server that is not listening.
class HttpIntake : public QTcpServer
{
public:
    using QTcpServer::QTcpServer;
    void take(QTcpSocket *socket);
    bool hasPendingConnections() const override;
    QTcpSocket *nextPendingConnection() override;
    // QHttpServer::bind(), without its warning that this server does not listen (it is not meant to).
    void bindTo(QHttpServer *server);

private:
    QList<QPointer<QTcpSocket>> m_queue;
};

} // namespace Herald
