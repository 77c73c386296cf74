#pragma once

#include <QString>

#include <chrono>

class QTcpSocket;

namespace Herald {

struct ClientInfo;
struct Envelope;

// A connection the worker keeps open and writes published messages to: what the worker needs of a session
// (sessions/ implements it), so the transport depends on no session type. Owned by its worker once started.
class Subscriber
{
public:
    virtual ~Subscriber() = default;

    virtual const ClientInfo &info() const = 0;
    // Queues an envelope unless the client already has it or is excluded; written on flush(). Whether it was
    // queued.
    virtual bool deliver(const Envelope &envelope) = 0;
    virtual void flush() = 0;
    // Ends the connection: a close frame for WebSocket, end of stream for SSE.
    virtual void close(quint16 code, const QString &reason) = 0;
    virtual void heartbeat() = 0;
    // Pings or closes a connection silent for long.
    virtual void checkIdle(qint64 nowMs, std::chrono::seconds timeout) = 0;
    // The worker is being destroyed: no more callbacks into it or the hub.
    virtual void abandon() = 0;
    // Its connection, for the write deadline; null once gone.
    virtual QTcpSocket *socket() const = 0;

    bool queuedForFlush = false; // owned by Worker
};

} // namespace Herald
