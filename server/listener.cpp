#include "listener.h"

#include "worker.h"

#include <QTcpSocket>

#include <unistd.h>

namespace Herald {

Listener::Listener(QObject *parent)
    : QTcpServer(parent)
{}

void Listener::incomingConnection(qintptr descriptor)
{
    if (m_workers.isEmpty()) {
        ::close(int(descriptor));
        return;
    }
    m_workers.at(m_next)->adoptDescriptor(descriptor);
    m_next = (m_next + 1) % m_workers.size();
}

void Listener::handOff(QTcpSocket *socket)
{
    if (!isListening()) {
        socket->abort();
        socket->deleteLater();
        return;
    }
    // QHttpServer (6.4) deletes a socket only once it disconnects; owned here, one still open when the server
    // is destroyed goes with it instead of leaking.
    socket->setParent(this);
    // QHttpServer picks sockets up on pendingConnectionAvailable, which addPendingConnection emits, and then
    // waits for readyRead; the request is already buffered, so announce it once more.
    addPendingConnection(socket);
    Q_EMIT socket->readyRead();
}

} // namespace Herald
