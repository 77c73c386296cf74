#pragma once

#include "envelope.h"
#include "serverconfig.h"

#include <QHash>
#include <QHostAddress>
#include <QList>
#include <QMutex>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QSslConfiguration>
#include <QTimer>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

class QSocketNotifier;
class QTcpSocket;
class QThread;

namespace Herald {

class Hub;
class PlainConnection;
class RequestHandler;
class Subscriber;
struct HttpRequestHead;

// Owns a share of the connections, on its own thread. Connections arrive as descriptors; the worker reads
// every request head and hands the request to its RequestHandler: WebSocket and SSE connections become
// sessions (Subscriber), the hot REST routes (publish, /healthz) are answered on keep-alive connections
// (PlainConnection), and the rest of plain HTTP is served one request per connection (the REST API and the
// pages), so no socket ever changes thread and REST scales with the workers. Published envelopes arrive
// through post() and are written to the local subscribers, corked: every session gets one socket write per
// batch, whatever the number of messages.
class Worker : public QObject
{
    Q_OBJECT

public:
    Worker(Hub *hub, const ServerConfig &config, int index);
    ~Worker() override;

    int index() const { return m_index; }
    // What serves the requests this worker reads: set before the first connection. Not owned.
    void setRequestHandler(RequestHandler *handler) { m_handler = handler; }
    // Connections are TLS from the first byte (--tls-cert): set before the first connection.
    void setTls(const QSslConfiguration &configuration);
    Hub *hub() const { return m_hub; }
    const ServerConfig &config() const { return m_config; }

    // Thread-safe entry points.
    // watch: released once this worker has written the envelope to its subscribers' sockets.
    void post(EnvelopePtr envelope, FanoutWatchPtr watch = {});
    void adoptDescriptor(qintptr descriptor);
    // Always posted, never run in the caller's stack (see Hub::disconnectLocal).
    void closeSession(quint64 sessionId, quint16 closeCode, const QString &reason);
    // Sends close 1001 to every WebSocket and ends every SSE stream, then emits drained().
    void shutdown();

    // Called by this worker's sessions.
    void joinEveryone(Subscriber *session);
    void subscribeLocal(Subscriber *session, const QString &channel);
    void unsubscribeLocal(Subscriber *session, const QString &channel);
    // `page`: the pages' counts frame (with the channel total) instead of seed 003's.
    void addCountsListener(Subscriber *session, bool page = false);
    void addAdmin(Subscriber *session);
    void sessionStarted(Subscriber *session);
    // The session has sent its last bytes and only waits for the connection's end: nothing is delivered to it
    // any more. It still counts until sessionFinished (a shutdown waits for it).
    void sessionClosing(Subscriber *session);
    void sessionFinished(Subscriber *session);
    void markDirty(Subscriber *session);

Q_SIGNALS:
    void drained();

private:
    // The keep-alive engine of each plain connection: reads this worker's configuration, hub and peek buffer,
    // and hands a connection it does not serve itself to watchHead or route.
    friend class PlainConnection;

    void drainInbox();
    void deliver(const Envelope &envelope);
    void flushDirty();
    void adoptPlain(qintptr descriptor);
    void sweepPlain();
    // A socket whose head is read into its own buffer (TLS, or a plain one whose head arrives in pieces
    // after a keep-alive request): sniff() peeks there until the head is complete, within the time limit.
    void watchHead(QTcpSocket *socket);
    void sniff(QTcpSocket *socket);
    // inKernel: the head was peeked in the kernel and, for a session, already consumed.
    void route(QTcpSocket *socket, const HttpRequestHead &head, bool inKernel);
    void rejectHttp(QTcpSocket *socket, int status, QByteArrayView reason, const QString &detail);
    void heartbeat();
    void checkIdle();
    // --write-timeout for WebSocket and SSE streams: a session whose output the client has acknowledged
    // nothing of for that long, with some waiting, is dropped.
    void sweepStalls();
    void checkDrained();
    void abortAll();

    Hub *m_hub;
    const ServerConfig m_config;
    RequestHandler *m_handler = nullptr;
    int m_index;

    struct Posted
    {
        EnvelopePtr envelope;
        FanoutWatchPtr watch;
    };
    QMutex m_inboxMutex;
    std::vector<Posted> m_inbox;
    // How other threads reach this worker from a FanoutWatch: the worker may be gone by the time the last
    // worker writes the message, so they go through this, which the destructor empties under its lock.
    struct Doorbell
    {
        QMutex mutex;
        Worker *worker = nullptr;
    };
    std::shared_ptr<Doorbell> m_doorbell;

    QHash<quint64, Subscriber *> m_sessions;
    QHash<QString, QList<Subscriber *>> m_channelIndex;
    QList<Subscriber *> m_everyone; // non-admin sessions, for the "broadcast" channel
    QList<Subscriber *> m_admins;
    QList<Subscriber *> m_countsListeners;
    QList<Subscriber *> m_pageCountsListeners;
    std::vector<Subscriber *> m_dirty;
    QSet<QTcpSocket *> m_pending; // TLS connections whose first request head is not read yet
    QSet<PlainConnection *> m_plainPending;
    QTimer m_plainSweep;     // head, body and keep-alive deadlines of m_plainPending
    QByteArray m_peekBuffer; // for every head peeked on this thread
    std::optional<QSslConfiguration> m_tls;
    QTimer m_heartbeat;
    QTimer m_idleCheck;
    QTimer m_stallSweep;
    // Only sessions with output waiting: (bytes the client had acknowledged, since when, steady ms).
    QHash<Subscriber *, std::pair<quint64, qint64>> m_stalls;
    qint64 m_deliveredUnreported = 0;
    bool m_flushScheduled = false;
    bool m_shuttingDown = false;
    bool m_drainedEmitted = false;
};

} // namespace Herald
