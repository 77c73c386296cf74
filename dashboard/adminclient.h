#pragma once

#include "backoff.h"
#include "connection.h"
#include "message.h"

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QStringList>
#include <QUrl>

class QNetworkAccessManager;

namespace Herald {

// One connection as the admin feed describes it (docs/protocol.md, /ws/server).
struct ClientEntry
{
    QString clientId;
    QString userId;
    QString transport;
    QString route;
    QString address;
    QDateTime connectedAt;
    QStringList subscriptions;

    static ClientEntry fromJson(const QJsonObject &object);
};

// The admin feed's first frame.
struct AdminSnapshot
{
    int clients = 0;
    int subscribers = 0;
    int channels = 0;
    qint64 lastId = 0;
    QString epoch; // the epoch of the server's history that lastId belongs to (empty from older servers)
    QList<ClientEntry> connections;
};

// What the compose panel sends; empty fields are left out so the server applies its defaults.
struct MessageDraft
{
    QString type;
    QString title;
    QString message;
};

// A client of a Herald server's admin feed (/ws/server): a Herald::Connection (the client library's, which
// keeps it up with exponential backoff and jitter) whose frames it turns into signals, and admin actions. The
// embedded and the remote mode both go through this class, so the embedded mode exercises exactly what a
// remote server sees.
class AdminClient : public QObject
{
    Q_OBJECT

public:
    enum class State
    {
        Idle,         // not asked to connect, or close() was called
        Connecting,   // TCP connect and WebSocket handshake under way
        Connected,    // the feed is live
        Reconnecting, // lost or never reached; a retry is scheduled
        Refused,      // the server refused the token; no retries until open() is called again
    };
    Q_ENUM(State)

    explicit AdminClient(QObject *parent = nullptr);
    ~AdminClient() override;

    // Accepts ws://, wss://, http:// or https:// with or without a path; a bare host:port gets /ws/server.
    // Returns an empty URL if the text is not usable.
    static QUrl feedUrl(const QString &text);
    // The same server's HTTP side: its page (/) and its health check (/healthz, public, names the version).
    // A feed reached under a path prefix (a reverse proxy's /herald/ws/server) keeps the prefix.
    static QUrl httpUrl(const QUrl &feedUrl, const QString &path);

    // Normalised through feedUrl(): ws://host:port is enough.
    void setServerUrl(const QUrl &url);
    QUrl serverUrl() const { return m_url; }
    void setToken(const QString &token) { m_connection->setToken(token); }
    // Sent as ?client_id= from the next connect on, when there is no token: an open server names it as the
    // sender of what this client publishes (with a token, the token's subject is). Empty: the server's UUID.
    void setClientId(const QString &clientId) { m_clientId = clientId; }
    QString clientId() const { return m_clientId; }
    QString token() const { return m_connection->token(); }
    Backoff &backoff() { return m_connection->backoff(); }
    // How often get_stats is sent while connected; silence for three intervals counts as a dead connection.
    void setStatsInterval(std::chrono::milliseconds interval);

    // Connects and keeps reconnecting until close().
    void open();
    void close();

    // The server's version from its /healthz, asked each time the feed connects; empty until it answers
    // (or if it does not say).
    QString serverVersion() const { return m_serverVersion; }

    State state() const { return m_state; }
    QString statusText() const { return m_statusText; }
    bool isConnected() const { return m_state == State::Connected; }
    // When the last frame arrived (or the feed connected): what the feed said was true then. Invalid before
    // the first connect.
    QDateTime lastFrameAt() const { return m_connection->lastFrameAt(); }
    // Milliseconds until the scheduled retry, or -1.
    int retryDelay() const { return m_connection->retryDelay(); }

    // Admin actions. Each returns the "ref" its reply will echo, or an empty string when not connected.
    QString broadcast(const MessageDraft &draft);
    QString publishToChannel(const QString &channel, const MessageDraft &draft);
    QString publishToUser(const QString &userId, const MessageDraft &draft);
    QString disconnectClient(const QString &clientId);
    QString requestStats();

    static QString stateName(State state);

Q_SIGNALS:
    void stateChanged(Herald::AdminClient::State state, const QString &text);
    void snapshotReceived(const Herald::AdminSnapshot &snapshot);
    void countsChanged(int clients, int subscribers);
    // A cluster's counts frames also say how many nodes are live; a single server's never do.
    void nodeCountReceived(int nodes);
    void statsReceived(int channels, const QJsonObject &stats);
    void messageReceived(const Herald::Message &message);
    void clientConnected(const Herald::ClientEntry &client);
    void clientDisconnected(const QString &clientId);
    void clientSubscribed(const QString &clientId, const QString &channel);
    void clientUnsubscribed(const QString &clientId, const QString &channel);
    void actionSucceeded(const QString &ref, const QJsonObject &reply);
    void actionFailed(const QString &ref, const QString &code, const QString &message);
    void reconnectScheduled(int attempt, int delayMs);
    void tokenRefused(const QString &detail);
    void serverVersionReceived(const QString &version);

private:
    void handleConnectionState(Connection::State state, const QString &text);
    void setState(State state, const QString &text);
    void requestServerVersion();
    void handleFrame(const QJsonObject &object);
    void handleControl(const QString &type, const QJsonObject &object);
    QString send(QJsonObject object);
    static void addDraft(QJsonObject &object, const MessageDraft &draft);

    Connection *m_connection;
    QNetworkAccessManager *m_http = nullptr;
    QString m_serverVersion;
    QUrl m_url;
    QString m_clientId;
    State m_state = State::Idle;
    QString m_statusText;
    quint64 m_nextRef = 1;
};

} // namespace Herald
