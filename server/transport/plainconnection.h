#pragma once

#include "envelope.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QHostAddress>
#include <QObject>

#include <memory>
#include <optional>

class QSocketNotifier;
class QTcpSocket;

namespace Herald {

class Worker;
struct HeadParseResult;

// The steady clock in ms: the clock of every connection deadline.
qint64 steadyMs();

// A plain TCP connection on the worker's keep-alive HTTP/1.1 engine: before its first request head, and
// between the keep-alive requests it serves itself. While idle only a descriptor and a read notifier, no
// QTcpSocket; heads are peeked in the kernel (MSG_PEEK), so a request that goes elsewhere keeps its bytes.
// It owns the descriptor, its notifiers, its deadline, its unsent and held answers, a head that arrives in
// pieces on a reused connection and a hot request whose body is still arriving, until it is closed or handed
// to a QTcpSocket (takeSocket). The worker keeps the set of them and sweeps their deadlines with one timer.
class PlainConnection : public QObject
{
public:
    PlainConnection(Worker *worker, int fd);
    ~PlainConnection() override;

    // Starts reading; false if the connection was refused (--max-connections-per-ip) and handed over.
    bool start();
    // Serves what waits, up to a bounded number of requests in a row.
    void sniff();
    qint64 deadline() const { return m_deadline; }
    // The deadline has passed: the connection closes, or answers 408, or (an answer held for a fan-out)
    // waits on.
    void expire(qint64 now);
    // Closes the descriptor and forgets the connection.
    void drop();
    // What a publish made on this connection waited for is done: its group commit (failure: it failed) and,
    // with --publish-window, every worker's write.
    void fannedOut(const std::optional<StoreError> &failure);

private:
    struct HotRequest;

    // One request head or body read; true if a request was answered and the next may already be waiting.
    bool step();
    // Reads (discards) that many bytes already peeked; false if the connection failed and was dropped.
    bool consume(qsizetype bytes);
    // A complete head the connection serves itself (a keep-alive route).
    bool isKeepAliveRequest(const HeadParseResult &parsed) const;
    // A head begun in m_head that the connection does not serve: a socket takes it over, m_head put back
    // in front of what it reads, and the request goes the way of every head a socket reads (Worker::sniff).
    void handOverHead();
    bool readHotBody();
    bool serveHot(HotRequest &request);
    int keepAliveSeconds() const;
    // Sends now what the kernel takes and waits for writability with the rest; false if not all was sent
    // (or the connection failed and was dropped).
    bool send(QByteArrayView bytes);
    void flush();
    // Wraps the descriptor in a QTcpSocket (unbuffered for sessions) and forgets the connection.
    QTcpSocket *takeSocket(bool unbuffered);

    Worker *m_worker;
    int m_fd = -1;
    QHostAddress m_peer;
    bool m_counted = false; // holds a --max-connections-per-ip slot
    int m_served = 0;       // requests answered on this connection
    qint64 m_deadline = 0;  // steady ms: 408 before a complete request, a quiet close when idle after one
    QSocketNotifier *m_notifier = nullptr;      // readable
    QSocketNotifier *m_writeNotifier = nullptr; // only while an answer waits for room in the kernel
    QByteArray m_unsent;                        // that answer's rest; no request is read until it is sent
    QByteArray m_held;    // a publish answer waiting for the fan-out of earlier publishes (serveHot)
    int m_fanningOut = 0; // this connection's publishes not yet written by every worker
    std::unique_ptr<HotRequest> m_partial; // a hot request whose body is still arriving
    QByteArray m_head; // on a reused connection, the start of a head that arrives in pieces, read already
};

} // namespace Herald
