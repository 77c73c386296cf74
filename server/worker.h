#pragma once

#include "envelope.h"
#include "serverconfig.h"

#include <QHash>
#include <QList>
#include <QMutex>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QTimer>

#include <functional>
#include <vector>

class QTcpSocket;
class QThread;

namespace Herald {

class Hub;
class Session;
struct HttpRequestHead;

// Owns a share of the connections, on its own thread. Connections arrive as descriptors; the worker reads the
// first request head and keeps WebSocket and SSE connections as sessions, handing plain HTTP requests to
// QHttpServer on the main thread. Published envelopes arrive through post() and are written to the local
// subscribers, corked: every session gets one socket write per batch, whatever the number of messages.
class Worker : public QObject
{
    Q_OBJECT

public:
    using HttpHandoff = std::function<void(QTcpSocket *)>;

    Worker(Hub *hub, const ServerConfig &config, HttpHandoff handoff, int index);
    ~Worker() override;

    int index() const { return m_index; }
    Hub *hub() const { return m_hub; }
    const ServerConfig &config() const { return m_config; }

    // Thread-safe entry points.
    void post(EnvelopePtr envelope);
    void adoptDescriptor(qintptr descriptor);
    void closeSession(quint64 sessionId, quint16 closeCode, const QString &reason);
    // Sends close 1001 to every WebSocket and ends every SSE stream, then emits drained().
    void shutdown();

    // Called by this worker's sessions.
    void subscribeLocal(Session *session, const QString &channel);
    void unsubscribeLocal(Session *session, const QString &channel);
    void addCountsListener(Session *session);
    void addAdmin(Session *session);
    void sessionStarted(Session *session);
    void sessionFinished(Session *session);
    void markDirty(Session *session);

Q_SIGNALS:
    void drained();

private:
    void drainInbox();
    void deliver(const Envelope &envelope);
    void flushDirty();
    void sniff(QTcpSocket *socket);
    void route(QTcpSocket *socket, const HttpRequestHead &head);
    void rejectHttp(QTcpSocket *socket, int status, QByteArrayView reason, const QString &detail);
    void heartbeat();
    void checkDrained();
    void abortAll();

    Hub *m_hub;
    const ServerConfig m_config;
    HttpHandoff m_handoff;
    int m_index;

    QMutex m_inboxMutex;
    std::vector<EnvelopePtr> m_inbox;

    QHash<quint64, Session *> m_sessions;
    QHash<QString, QList<Session *>> m_channelIndex;
    QList<Session *> m_everyone; // non-admin sessions, for the "broadcast" channel
    QList<Session *> m_admins;
    QList<Session *> m_countsListeners;
    std::vector<Session *> m_dirty;
    QSet<QTcpSocket *> m_pending; // connections whose first request head is not read yet
    QTimer m_heartbeat;
    qint64 m_deliveredUnreported = 0;
    bool m_flushScheduled = false;
    bool m_shuttingDown = false;
    bool m_drainedEmitted = false;
};

} // namespace Herald
