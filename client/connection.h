#pragma once

#include "backoff.h"

#include <QAbstractSocket>
#include <QDateTime>
#include <QElapsedTimer>
#include <QJsonObject>
#include <QObject>
#include <QTimer>
#include <QUrl>

#include <chrono>
#include <functional>

class QWebSocket;

namespace Herald {

// One WebSocket to a Herald server that stays up: it reconnects with exponential backoff and jitter,
// notices a silent (dead) connection through a heartbeat, and tells a refused token from a server that is
// gone. Frames come out as JSON objects; what they mean is the user's business (Herald::Client speaks /ws,
// the dashboard's AdminClient /ws/server).
class Connection : public QObject
{
    Q_OBJECT

public:
    enum class State
    {
        Idle,       // not asked to connect, or close() was called
        Connecting, // TCP connect and WebSocket handshake under way
        Connected,  // open
        Offline,    // lost or never reached; a retry is scheduled (nextRetryAt())
        Refused,    // the server refused the token (HTTP 401/403, close 1008); no retries until open()
    };
    Q_ENUM(State)

    explicit Connection(QObject *parent = nullptr);
    ~Connection() override;

    // The WebSocket URL (ws:// or wss://), query included.
    void setUrl(const QUrl &url) { m_url = url; }
    QUrl url() const { return m_url; }
    // Sent as `Authorization: Bearer`, and also as ?token= when tokenInQuery (for proxies that drop the
    // header; the server reads the header first).
    void setToken(const QString &token) { m_token = token; }
    QString token() const { return m_token; }
    void setTokenInQuery(bool inQuery) { m_tokenInQuery = inQuery; }
    // Called before every attempt with the URL about to be opened: a resume adds since and epoch here.
    void setUrlHook(std::function<void(QUrl &)> hook) { m_urlHook = std::move(hook); }

    Backoff &backoff() { return m_backoff; }
    // `frame` is sent every `interval` while connected; nothing received for three intervals counts as a
    // dead connection (a suspended laptop, a dropped NAT entry) even if TCP has not noticed yet.
    void setHeartbeat(std::chrono::milliseconds interval, const QJsonObject &frame);
    void setConnectTimeout(std::chrono::milliseconds timeout) { m_connectTimeout.setInterval(timeout); }

    // Connects and keeps reconnecting until close() (or a refusal).
    void open();
    void close();
    // Sends a frame if connected; false otherwise.
    bool sendJson(const QJsonObject &frame);

    State state() const { return m_state; }
    QString statusText() const { return m_statusText; }
    bool isConnected() const { return m_state == State::Connected; }
    // The handshake's HTTP status when the server refused or answered something else than 101; 0 otherwise.
    int refusalStatus() const { return m_refusalStatus; }
    // Milliseconds until the scheduled retry, or -1; and when it is due (invalid if none).
    int retryDelay() const { return m_retryTimer.isActive() ? m_retryTimer.interval() : -1; }
    QDateTime nextRetryAt() const { return m_retryTimer.isActive() ? m_nextRetryAt : QDateTime(); }
    // When the last frame arrived (or the connection opened). Invalid before the first connect.
    QDateTime lastFrameAt() const
    {
        return m_lastFrameMs > 0 ? QDateTime::fromMSecsSinceEpoch(m_lastFrameMs) : QDateTime();
    }
    // host:port, as status texts name the server.
    QString authority() const;

    static QString stateName(State state);
    // ws://host/prefix/<route> → http://host/prefix<path>: the same server's REST side.
    static QUrl httpUrl(const QUrl &wsUrl, const QString &route, const QString &path);
    // What a person types as a server address, as a WebSocket URL: "host:port", http(s):// or ws(s)://;
    // without a path, `route`. Empty if it is no usable address.
    static QUrl wsUrlFromText(const QString &text, const QString &route);

Q_SIGNALS:
    void stateChanged(Herald::Connection::State state, const QString &text);
    void opened();
    void frameReceived(const QJsonObject &frame);
    void retryScheduled(int attempt, int delayMs);
    // Refused: 401/403 on the handshake or close 1008; `text` says which.
    void refused(int httpStatus, const QString &text);

private:
    void connectNow();
    void scheduleClosed();
    void handleClosed();
    void setState(State state, const QString &text);
    void handleText(const QString &text);

    QWebSocket *m_socket = nullptr;
    QUrl m_url;
    QString m_token;
    bool m_tokenInQuery = false;
    std::function<void(QUrl &)> m_urlHook;
    Backoff m_backoff;
    QTimer m_retryTimer;
    QDateTime m_nextRetryAt;
    QTimer m_connectTimeout;
    QTimer m_heartbeat;
    QJsonObject m_heartbeatFrame;
    QElapsedTimer m_lastFrame;
    qint64 m_lastFrameMs = 0; // a plain number: taken on every frame, so cheap
    State m_state = State::Idle;
    QString m_statusText;
    int m_refusalStatus = 0;
    QAbstractSocket::SocketError m_socketError = QAbstractSocket::UnknownSocketError;
    QString m_socketErrorText;
    bool m_wanted = false;
    bool m_closeScheduled = false;
    bool m_timedOut = false;
    quint64 m_generation = 0;
};

} // namespace Herald
