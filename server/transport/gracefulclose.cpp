#include "gracefulclose.h"

#include <QSslSocket>
#include <QTcpSocket>

#include <sys/socket.h>

namespace Herald {

GracefulClose *GracefulClose::begin(QTcpSocket *socket, std::chrono::milliseconds timeout, bool peerDone)
{
    auto *closing = new GracefulClose(socket, timeout);
    if (peerDone)
        closing->peerDone();
    return closing;
}

GracefulClose::GracefulClose(QTcpSocket *socket, std::chrono::milliseconds timeout)
    : QObject(socket)
    , m_socket(socket)
{
    m_timer.setSingleShot(true);
    m_timer.setInterval(timeout);
    connect(&m_timer, &QTimer::timeout, this, &GracefulClose::expire);
    connect(socket, &QTcpSocket::bytesWritten, this, [this] {
        // A slow reader still catching up with what was queued before the close is not stalled.
        if (!m_halfClosed)
            m_timer.start();
        halfCloseWhenSent();
    });
    m_timer.start();
}

void GracefulClose::peerDone()
{
    m_peerDone = true;
    halfCloseWhenSent();
}

void GracefulClose::halfCloseWhenSent()
{
    if (!m_peerDone || m_halfClosed || m_socket->state() != QAbstractSocket::ConnectedState)
        return;
    if (qobject_cast<QSslSocket *>(m_socket)) {
        // TLS ends with its own close_notify, which Qt sends after what is queued.
        m_halfClosed = true;
        m_socket->disconnectFromHost();
    } else {
        if (m_socket->bytesToWrite() > 0)
            return;
        m_halfClosed = true;
        ::shutdown(int(m_socket->socketDescriptor()), SHUT_WR);
    }
    // Now the peer closes its side, which the socket reads as the end (disconnected).
    m_timer.start();
}

void GracefulClose::expire()
{
    if (m_socket->state() != QAbstractSocket::ConnectedState) {
        m_socket->abort();
        return;
    }
    if (!m_halfClosed && m_socket->bytesToWrite() == 0) {
        // Everything, our Close included, is with the kernel; the peer never answered: end our side anyway
        // and give it as long again to close its own.
        m_peerDone = true;
        halfCloseWhenSent();
        return;
    }
    // The peer stopped reading what is queued, or never closes its side: cut. Whatever arrived is discarded
    // first, so a peer that is merely slow to close still gets an orderly end.
    m_socket->skip(m_socket->bytesAvailable());
    m_socket->abort();
}

} // namespace Herald
