#pragma once

#include "request.h"
#include "session.h"
#include "streamrequest.h"
#include "wsframe.h"

#include <optional>

namespace Herald {

class GracefulClose;
struct HttpRequestHead;

// A WebSocket client on one of the routes of SPEC section 3. Framing is our own (wsframe.h) so that a
// published message is one pre-encoded frame shared by every recipient. Defined in three files by job:
// wshandshake.cpp (the upgrade and the route), wssession.cpp (the transport: frames, ping, idle, the token
// bucket, close), wscommands.cpp (the client's requests).
class WsSession final : public Session
{
    Q_OBJECT

public:
    // Checks the upgrade request and the route. On success writes "101 Switching Protocols" and returns a
    // started session; otherwise writes an HTTP error response and returns nullptr.
    static WsSession *create(Worker *worker, QTcpSocket *socket, const HttpRequestHead &head);

    void close(quint16 code, const QString &reason) override;

private:
    // Herald's own close codes (4000-4999 is the application range of RFC 6455):
    // an admin closing a client, distinguishable from a server shutdown (1001) or a policy refusal (1008);
    static constexpr quint16 CloseKicked = 4001;
    // a client that read too slowly and should reconnect with ?since= (SPEC section 7);
    static constexpr quint16 CloseSlowConsumer = 4002;
    // no frame, not even a pong, for --idle-timeout.
    static constexpr quint16 CloseIdle = 4003;

    // What the route does once the connection may proceed (at once, or after first-frame authentication).
    struct RouteSetup
    {
        QString segment; // /ws/{segment}
        StreamRequest stream;
    };

    WsSession(Worker *worker, QTcpSocket *socket, ClientInfo info, qint64 maxMessageSize);
    // Why this identity may not use this route (empty: it may).
    static QString routeRefusal(const Identity &who, Route route, const RouteSetup &setup);
    void setUpRoute();
    void doAuth(const Request &r);
    // Sends a forbidden error frame (and counts it) unless allowed.
    bool allowed(bool allowed, const QString &reason, const Request *replyTo);

    const QByteArray &encoded(const Envelope &envelope) const override;
    QByteArray encodedStored(const StoredFrame &frame) const override;
    void cutOffSlowConsumer() override;
    void sendReplayNotice(const QJsonObject &notice) override;
    void checkIdle(qint64 nowMs, std::chrono::seconds timeout) override;
    // The per-connection token bucket (--rate-limit); false when this frame is over the limit.
    bool takeToken();
    void onReadyRead();
    void handleText(const QByteArray &payload);
    void handleRequest(const Request &request);
    void sendJson(const QJsonObject &object, const Request *replyTo = nullptr);
    void sendError(ErrorCode code, const QString &message, const Request *replyTo = nullptr);
    void sendRaw(const QByteArray &frame);
    bool subscribeChecked(const QString &channel, const Request *replyTo);
    void welcome(const QStringList &channels, const QString &userId);
    // The channels the URL's position applies to (its `since`, or else the connected frame's last_id): the
    // subscriptions and the broadcasts every client gets. None on routes that never resume (the admin feed,
    // seed 003's client).
    QStringList positionedChannels() const;
    // Replays what was missed on these channels since `since`, announced by a "replay" frame.
    void resume(const QStringList &channels, qint64 since, const QString &epoch, const Request *replyTo);
    void sendPublishError(const StoreError &error, const Request *replyTo);

    void doSubscribe(const Request &r, bool subscribe);
    // The message a publish or broadcast request carries, from this client; nothing (an error frame sent)
    // if it is not one.
    std::optional<Message> messageFrom(const Request &r, const QString &defaultKind);
    void doPublish(const Request &r);
    void doWithdraw(const Request &r);
    void doSeedMessage(const Request &r);
    void doBroadcast(const Request &r);
    void doDisconnect(const Request &r);

    Ws::FrameParser m_parser;
    bool m_peerClosed = false;         // the peer's Close has arrived
    GracefulClose *m_ending = nullptr; // the socket's, from our Close on
    Identity m_identity;
    RouteSetup m_setup;
    bool m_awaitingAuth = false;
    // While welcome() subscribes to the query's channels, its error frames wait here: `connected` goes first.
    std::optional<QList<QJsonObject>> m_heldErrors;
    qint64 m_lastReceivedMs = 0;
    bool m_pingSent = false;
    double m_tokens = 0;
    qint64 m_tokensAtMs = 0;
    int m_strikes = 0;         // frames dropped in the current window
    qint64 m_dropWindowMs = 0; // start of that one-second window
};

} // namespace Herald
