#pragma once

#include "session.h"

namespace Herald {

struct HttpRequestHead;

// A Server-Sent Events stream (SPEC section 4): GET /events?user_id=&channels= or /events/{user_id}.
class SseSession final : public Session
{
    Q_OBJECT

public:
    // Writes the response head and returns a started session, or writes an HTTP error and returns nullptr.
    static SseSession *create(Worker *worker, QTcpSocket *socket, const HttpRequestHead &head);

    void close(quint16 code, const QString &reason) override;
    void heartbeat() override;

private:
    SseSession(Worker *worker, QTcpSocket *socket, ClientInfo info, bool namedEvents);
    const QByteArray &encoded(const Envelope &envelope) const override;
    QByteArray encodedStored(const StoredFrame &frame) const override;
    void cutOffSlowConsumer() override;
    void sendReplayNotice(const QJsonObject &notice) override;
    // Replays what was stored after `since` (of `epoch`, if known), announced by an "event: replay" (named
    // streams) or, on unnamed streams, only when there is a gap.
    void resume(const QStringList &channels, qint64 since, const QString &epoch);

    bool m_namedEvents;
};

} // namespace Herald
