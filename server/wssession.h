#pragma once

#include "request.h"
#include "session.h"
#include "wsframe.h"

namespace Herald {

struct HttpRequestHead;

// A WebSocket client on one of the routes of SPEC section 3. Framing is our own (wsframe.h) so that a
// published message is one pre-encoded frame shared by every recipient.
class WsSession final : public Session
{
    Q_OBJECT

public:
    // Checks the upgrade request and the route. On success writes "101 Switching Protocols" and returns a
    // started session; otherwise writes an HTTP error response and returns nullptr.
    static WsSession *create(Worker *worker, QTcpSocket *socket, const HttpRequestHead &head);

    void close(quint16 code, const QString &reason) override;

private:
    WsSession(Worker *worker, QTcpSocket *socket, ClientInfo info, qint64 maxMessageSize);

    const QByteArray &encoded(const Envelope &envelope) const override;
    void onReadyRead();
    void handleText(const QByteArray &payload);
    void handleRequest(const Request &request);
    void sendJson(const QJsonObject &object, const Request *replyTo = nullptr);
    void sendError(ErrorCode code, const QString &message, const Request *replyTo = nullptr);
    void sendRaw(const QByteArray &frame);
    bool subscribeChecked(const QString &channel, const Request *replyTo);
    void welcome(const QStringList &channels, const QString &userId);
    // Replays what was missed on these channels since `since`, announced by a "replay" frame.
    void resume(const QStringList &channels, qint64 since, const Request *replyTo);
    void sendPublishError(const StoreError &error, const Request *replyTo);

    void doSubscribe(const Request &r, bool subscribe);
    void doPublish(const Request &r);
    void doSeedMessage(const Request &r);
    void doBroadcast(const Request &r);
    void doDisconnect(const Request &r);

    Ws::FrameParser m_parser;
    bool m_closing = false;
};

} // namespace Herald
