#pragma once

#include "hub.h"
#include "store.h"
#include "subscriber.h"

#include <QByteArray>
#include <QObject>

#include <optional>

class QTcpSocket;
class QTimer;

namespace Herald {

class ExpiryTimer;
class Worker;
struct Envelope;
struct HeadRefusal;
struct HttpRequestHead;

// One live client connection on a worker thread: the transport-independent half (identity, subscriptions,
// de-duplication by id, corked output). WsSession and SseSession add the wire format.
class Session : public QObject, public Subscriber
{
    Q_OBJECT

public:
    Session(Worker *worker, QTcpSocket *socket, ClientInfo info);
    ~Session() override;

    quint64 sessionId() const { return m_info.sessionId; }
    const QString &clientId() const { return m_info.clientId; }
    const ClientInfo &info() const override { return m_info; }
    bool isAdmin() const { return m_info.isAdmin(); }

    // Queues an envelope for this client unless it already has it (id at or below the last one sent) or it
    // is excluded. Written on the next flush().
    // Returns whether it was queued.
    bool deliver(const Envelope &envelope) override;
    void flush() override;
    // Ends the connection: a close frame for WebSocket, end of stream for SSE.
    void close(quint16 code, const QString &reason) override = 0;
    void heartbeat() override {}
    // Pings or closes a connection silent for long (WebSocket; SSE clients send nothing by design).
    void checkIdle(qint64 nowMs, std::chrono::seconds timeout) override
    {
        Q_UNUSED(nowMs);
        Q_UNUSED(timeout);
    }

    bool subscribe(const QString &channel);
    bool unsubscribe(const QString &channel);

    // Resume (SPEC section 2): how many stored messages after `since` on these channels (only the persistent
    // ones count) there are, and from where, without reading them (History::planReplay). Call after
    // subscribing to them, on this session's thread; then sendReplayed().
    // `epoch`, if the client sent one, is the epoch its ids come from: another than the history's is a Reset,
    // as is a since beyond the history's last id. After a Reset nothing is replayed and every later message
    // is delivered, whatever the stale since.
    Result<Replay, StoreError> fetchReplay(const QStringList &channels, qint64 since,
                                           const QString &epoch = {});
    // Starts sending what fetchReplay() planned, in pages as the client reads (catchUp()).
    void sendReplayed(const Replay &replay);

    // The worker is being destroyed: no more callbacks into it or the hub.
    void abandon() override { m_finished = true; }
    // A closing session hands its socket on (GracefulClose): then it has none.
    QTcpSocket *socket() const override;

    // SPEC section 7 before a WebSocket upgrade or an SSE stream: the origin and the token (?token= or
    // Authorization: Bearer). Writes the 403/401 itself and returns nothing on refusal. Without a token in
    // token mode: an anonymous identity if `anonymousOk` (a WebSocket may authenticate with its first frame),
    // else 401.
    static std::optional<Identity> identifyHandshake(Hub *hub, QTcpSocket *socket,
                                                     const HttpRequestHead &head, bool anonymousOk);
    // Registers the connection with the hub before its handshake is answered, claiming its client id for
    // `who` (Hub::registerSession), and sets info.sessionId. While another identity holds the id, writes the
    // 403 itself, the same on every transport, and returns false.
    static bool registerHandshake(Hub *hub, QTcpSocket *socket, ClientInfo &info, const Identity &who);
    // Answers a handshake refused before it is identified (StreamRequest); one over --max-subscriptions is
    // counted (subscriptionsCapped).
    static void refuseHandshake(Worker *worker, QTcpSocket *socket, const HeadRefusal &refusal);

protected:
    // Starts with the worker, registered with the hub already (registerHandshake); call once the handshake is
    // written. joinNow false: the connection receives nothing (no broadcasts, no personal messages) until
    // join(), i.e. until it has authenticated.
    void start(bool joinNow = true);
    void join();
    // Unregisters and schedules deletion; safe to call more than once.
    void finish();
    void enqueue(QByteArrayView bytes);
    virtual const QByteArray &encoded(const Envelope &envelope) const = 0;
    // A stored message as this transport frames it, from the JSON the store kept (a catch-up).
    virtual QByteArray encodedStored(const StoredFrame &frame) const = 0;
    // The client reads slower than it is sent to: its queue is dropped and the connection ended, to be
    // resumed by id (SPEC section 7). Transports say goodbye their own way.
    virtual void cutOffSlowConsumer() = 0;
    // The replay notice (docs/protocol.md, "Resume"), the same object on every transport. Append only.
    QJsonObject replayNotice(qint64 since, const Replay &replay) const;
    // Sends a notice of a gap found while catching up: retention deleted stored messages the client had not
    // read yet. Transports send it as they send the resume's notice.
    virtual void sendReplayNotice(const QJsonObject &notice) = 0;
    // Sends the stored messages on these channels after `after` from the store, a page at a time as the
    // socket drains, then goes live again. Meanwhile live messages on them are not queued (they are read in
    // their turn) and live messages on other channels wait until the end: ids stay in order.
    void catchUp(const QStringList &channels, qint64 after);
    // A client that gave no position on these channels starts after `lastId`, which its `connected` or
    // `subscribed` frame names: a stored message up to it that is still on its way here is history to that
    // client, not live (it is in every listing). Sent live, it came after the frame with an id at or below
    // last_id, and a client that keeps its position by id (HeraldClient, the page) dropped it as a repeat.
    void startAfter(const QStringList &channels, qint64 lastId);
    // A token's life ends the connection's (a subscription must not outlive the right to it): closes it,
    // 1008 "token expired", at `deadline`. Replaces an earlier one; an invalid one (no expiry) stops it.
    void expireWith(const QDateTime &deadline);

    Worker *m_worker;
    QTcpSocket *m_socket;
    ClientInfo m_info;
    qint64 m_lastId = 0;               // the last id delivered live
    qint64 m_replayMax = 0;            // the highest id ever replayed, a fast path for deliver()
    QHash<QString, qint64> m_replayed; // per channel, the highest id replayed
    // startAfter(): per channel joined without a position, the last_id the client was told; an explicit
    // resume on the channel (fetchReplay) replaces it. The max is deliver()'s fast path.
    qint64 m_startedMax = 0;
    QHash<QString, qint64> m_startedAfter;
    QByteArray m_out;
    bool m_finished = false;
    // The goodbye is on its way (a WebSocket Close, or the end of an SSE stream); the connection waits for
    // its end (GracefulClose). Nothing more is queued: no delivery, no catch-up page, no reply.
    bool m_closing = false;
    bool m_joined = false;

private:
    // Queues stored messages (a page of a catch-up), skipping those already sent. Returns how many.
    int queueStored(const QList<StoredFrame> &frames);
    // Reads pages while the socket's queue is below the low-water mark; ends the catch-up at the newest.
    void pump();
    void onBytesWritten();
    // Cuts off a client that is owed data and has read nothing for --send-stall-timeout.
    void checkStall();
    void watchStall();
    void cutOff();
    // Whether retention deleted stored messages after m_catchUpAfter on one of these channels.
    bool retentionCut(History *store, const QStringList &channels) const;
    qint64 lowWater() const;
    // What a burst beyond the send buffer can be caught up on: the stored channels this session receives.
    QStringList resumableChannels() const;

    QStringList m_planned;     // the stored channels fetchReplay() planned a replay of
    qint64 m_plannedUpTo = 0;  // the bound of the last plan: a notice's last_id when no plan came of it
    qint64 m_socketQueued = 0; // the socket's unsent bytes at the last flush (a cheap check for deliver())
    bool m_catchingUp = false;
    bool m_pumpScheduled = false;
    QStringList m_catchUpChannels;
    qint64 m_catchUpAfter = 0;   // the last id read for the catch-up
    QList<QByteArray> m_held;    // live messages on other channels, sent once caught up
    bool m_inExpiredGap = false; // told of a gap retention made in the catch-up; not again until past it
    qint64 m_heldBytes = 0;
    QTimer *m_stallTimer = nullptr; // runs only while the client is behind
    qint64 m_progress = 0;          // bytesWritten notifications: the kernel took data
    qint64 m_progressAtTick = 0;
    int m_stalledTicks = 0;
    ExpiryTimer *m_expiry = nullptr; // made by the first expireWith() with a deadline
};

} // namespace Herald
