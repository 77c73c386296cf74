#pragma once

#include <QObject>
#include <QTimer>

#include <chrono>

class QTcpSocket;

namespace Herald {

// Ends a connection whose last bytes (a Close frame, the last event) are written or queued, without a TCP
// reset. A socket closed with unread input makes the kernel reset the connection, and a reset discards what
// the peer has not read yet: its last frames and the Close frame with them. So: nothing more is written; the
// owner reads and discards whatever arrives; once everything is sent and the peer is done (a WebSocket: its
// Close frame), our side is half-closed (FIN after the last byte), and the socket closes when the peer
// closes its side. Every wait is bounded by `timeout`: a peer that never answers is half-closed anyway; one
// that stops reading what is still queued, or never closes, is cut.
class GracefulClose : public QObject
{
public:
    // Owned by the socket. peerDone: nothing to wait for from the peer (SSE, or a WebSocket whose input can
    // no longer be parsed).
    static GracefulClose *begin(QTcpSocket *socket, std::chrono::milliseconds timeout, bool peerDone);
    // The peer's Close arrived: half-close as soon as everything is sent.
    void peerDone();
    bool halfClosed() const { return m_halfClosed; }

private:
    GracefulClose(QTcpSocket *socket, std::chrono::milliseconds timeout);
    void halfCloseWhenSent();
    void expire();

    QTcpSocket *m_socket;
    QTimer m_timer;
    bool m_peerDone = false;
    bool m_halfClosed = false;
};

} // namespace Herald
