#pragma once

#include <QList>
#include <QTcpServer>

namespace Herald {

class Worker;

// The one listening socket. Accepted descriptors go round-robin to the workers, which read the request head;
// plain HTTP connections come back through handOff() and are taken by the QHttpServer bound to this server.
// Our own QTcpServer, rather than QHttpServer::listen(), for its listen backlog: Qt's default of 50 makes a
// burst of thousands of connects take tens of seconds.
class Listener : public QTcpServer
{
    Q_OBJECT

public:
    explicit Listener(QObject *parent = nullptr);
    void setWorkers(const QList<Worker *> &workers) { m_workers = workers; }
    // Main thread: a connection whose first request is plain HTTP, its bytes still unread in the socket.
    void handOff(QTcpSocket *socket);

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    QList<Worker *> m_workers;
    qsizetype m_next = 0;
};

} // namespace Herald
