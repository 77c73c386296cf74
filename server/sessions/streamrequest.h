#pragma once

#include "rawhttp.h"
#include "result.h"

#include <QString>
#include <QStringList>

#include <optional>

namespace Herald {

struct HttpRequestHead;

// What a stream (a WebSocket or an SSE connection) asks for in its request head (SPEC sections 2-4): its
// client id, user id, channels and resume point. Checked before the handshake is answered, so a refusal is
// the HTTP answer to give instead. The two transports read the same parameters with the same error texts;
// where they differ (SSE checks channels at once and is lenient with Last-Event-ID, a WebSocket reports bad
// channels in frames) the factory says so.
class StreamRequest
{
public:
    StreamRequest() = default;

    // 405 (method_not_allowed) unless the method is GET; `detail` says how the stream is opened.
    static std::optional<HeadRefusal> refuseMethod(const HttpRequestHead &head, const QString &detail);
    // GET /events?user_id=&channels=&client_id=&since=&epoch=&counts=&named=, or /events/{user_id}; the
    // method is checked first. A WebSocket checks its method before its upgrade headers, so it calls
    // refuseMethod() itself.
    static Result<StreamRequest, HeadRefusal> forEvents(const HttpRequestHead &head,
                                                        qsizetype maxSubscriptions);
    // /ws and its routes. `pathClientId`: the route's path names the client (/ws/{client_id}), ?client_id= is
    // ignored. `native` (/ws itself): also user_id, channels and counts, whose values are checked later, one
    // error frame each, except the number of channels.
    static Result<StreamRequest, HeadRefusal> forWebSocket(const HttpRequestHead &head,
                                                           const QString &pathClientId, bool native,
                                                           qsizetype maxSubscriptions);

    const QString &clientId() const { return m_clientId; }
    const QString &userId() const { return m_userId; }
    const QStringList &channels() const { return m_channels; }
    std::optional<qint64> since() const { return m_since; }
    // The epoch `since` comes from (History::epoch); empty: unknown.
    const QString &epoch() const { return m_epoch; }
    bool counts() const { return m_counts; }
    // SSE: events named after the message type (SPEC section 4); seed 002's /events/{user_id} has none.
    bool namedEvents() const { return m_namedEvents; }

private:
    std::optional<HeadRefusal> readClientId(const HttpRequestHead &head);
    std::optional<HeadRefusal> readSince(const HttpRequestHead &head);
    void readCounts(const HttpRequestHead &head);

    QString m_clientId;
    QString m_userId;
    QStringList m_channels;
    std::optional<qint64> m_since;
    QString m_epoch;
    bool m_counts = false;
    bool m_namedEvents = true;
};

} // namespace Herald
