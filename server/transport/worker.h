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

class QHttpServer;
class QSocketNotifier;
class QTcpSocket;
class QThread;

namespace Herald {

class Hub;
class HttpApi;
class HttpIntake;
class PlainConnection;
class Session;
struct HttpRequestHead;

// Owns a share of the connections, on its own thread. Connections arrive as descriptors; the worker reads
// every request head and keeps WebSocket and SSE connections as sessions. It serves the hot REST routes
// (publish, /healthz) itself on keep-alive connections, and hands the rest of plain HTTP to its own
// QHttpServer (the REST API and the pages, one request per connection), so no socket ever changes thread and
// REST scales with the workers. Published envelopes arrive through post() and are written to the local
// subscribers, corked: every session gets one socket write per batch, whatever the number of messages.
class Worker : public QObject
{
    Q_OBJECT

public:
    // modelMutex serialises model changes across workers (a unique check and the write that follows it).
    Worker(Hub *hub, const ServerConfig &config, QMutex *modelMutex, int index);
    ~Worker() override;

    int index() const { return m_index; }
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
    void joinEveryone(Session *session);
    void subscribeLocal(Session *session, const QString &channel);
    void unsubscribeLocal(Session *session, const QString &channel);
    // `page`: the pages' counts frame (with the channel total) instead of seed 003's.
    void addCountsListener(Session *session, bool page = false);
    void addAdmin(Session *session);
    void sessionStarted(Session *session);
    // The session has sent its last bytes and only waits for the connection's end: nothing is delivered to it
    // any more. It still counts until sessionFinished (a shutdown waits for it).
    void sessionClosing(Session *session);
    void sessionFinished(Session *session);
    void markDirty(Session *session);

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
    static bool isSessionRequest(const HttpRequestHead &head);
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
    QHttpServer *m_http = nullptr;      // this thread's REST API and pages
    HttpApi *m_api = nullptr;           // its handlers, for the hot routes served on keep-alive connections
    HttpIntake *m_httpIntake = nullptr; // never listens: plain HTTP connections are added to it
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

    QHash<quint64, Session *> m_sessions;
    QHash<QString, QList<Session *>> m_channelIndex;
    QList<Session *> m_everyone; // non-admin sessions, for the "broadcast" channel
    QList<Session *> m_admins;
    QList<Session *> m_countsListeners;
    QList<Session *> m_pageCountsListeners;
    std::vector<Session *> m_dirty;
    QSet<QTcpSocket *> m_pending; // TLS connections whose first request head is not read yet
    QSet<PlainConnection *> m_plainPending;
    QTimer m_plainSweep;     // head, body and keep-alive deadlines of m_plainPending
    QByteArray m_peekBuffer; // for every head peeked on this thread
    std::optional<QSslConfiguration> m_tls;
    QTimer m_heartbeat;
    QTimer m_idleCheck;
    QTimer m_stallSweep;
    // Only sessions with output waiting: (bytes the client had acknowledged, since when, steady ms).
    QHash<Session *, std::pair<quint64, qint64>> m_stalls;
    qint64 m_deliveredUnreported = 0;
    bool m_flushScheduled = false;
    bool m_shuttingDown = false;
    bool m_drainedEmitted = false;
};

} // namespace Herald
