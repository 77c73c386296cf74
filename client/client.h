#pragma once

#include "backoff.h"
#include "connection.h"
#include "message.h"

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QTimer>
#include <QUrl>

class QNetworkAccessManager;

namespace Herald {

// A change of a user's read state, as published on `reads:<user_id>`.
struct ReadEvent
{
    enum class Kind
    {
        Read,
        Unread,
        Deleted,
    };
    Kind kind = Kind::Read;
    QString userId;
    QList<qint64> ids; // the notifications that changed (empty for mark-all)
    bool all = false;  // mark-all: every notification up to upTo is read
    qint64 upTo = 0;
    int unread = -1; // the queue's unread count after the change; -1 when the event does not say
    qint64 id = 0;   // the event's own id
};

// What a replay notice said (docs/protocol.md, Resume).
struct ReplayInfo
{
    qint64 since = 0;
    int count = 0;
    bool recovered = true;
    QString reason; // reset, expired, limit (empty when recovered)
    qint64 lastId = 0;
    QString epoch;
};

// A client of Herald's native WebSocket route (/ws): subscribes to channels, resumes after any outage from
// the last id it saw (kept in a file the caller names, epoch included), reconnects with backoff and jitter,
// and turns frames into typed signals. Qt Core, Network and WebSockets only.
//
//   Herald::Client client;
//   client.setServerUrl(QUrl(u"ws://127.0.0.1:8000"_s));
//   client.setUserId(u"1"_s);                 // user:1 and reads:1
//   client.setResumeFile(dir + "/resume.json");
//   connect(&client, &Herald::Client::messageReceived, …);
//   client.open();
class Client : public QObject
{
    Q_OBJECT

public:
    using State = Connection::State;
    enum class Delivery
    {
        Live,     // published while connected
        Replayed, // missed while away, sent by the resume (see replayStarted)
    };
    Q_ENUM(Delivery)
    enum class Error
    {
        TokenRefused,  // HTTP 401 or close 1008: the token is bad or expired; no more retries
        Forbidden,     // HTTP 403: the token does not allow this route or a channel asked for at connect
        ServerError,   // an error frame (e.g. `forbidden` for a subscribe); the connection stays
        RequestFailed, // a REST helper call failed (also in requestFinished)
    };
    Q_ENUM(Error)

    explicit Client(QObject *parent = nullptr);
    ~Client() override;

    // ws://host:port (the /ws route is added), wss://…, http(s):// or a bare host:port; a path ending in /ws
    // is kept as given (a reverse proxy's /herald/ws). Returns false if the text is not usable.
    bool setServerUrl(const QUrl &url);
    QUrl serverUrl() const { return m_url; }
    static QUrl wsUrl(const QString &text);
    void setToken(const QString &token);
    QString token() const { return m_connection->token(); }
    // The user whose queue this client follows: subscribes `user:<id>` and `reads:<id>`, and names the
    // user in the REST helpers. With a token the server takes the user from it and this must match.
    void setUserId(const QString &userId);
    QString userId() const { return m_userId; }
    // ?client_id=: a stable id keeps the client's personal channel across reconnects.
    void setClientId(const QString &clientId) { m_clientId = clientId; }

    // Channels besides the user's. While connected a change is sent at once (a new channel resumes from the
    // client's position, so a reconnect later has nothing of it to replay that was not delivered).
    void setChannels(const QStringList &channels);
    void subscribe(const QString &channel);
    void unsubscribe(const QString &channel);
    QStringList channels() const { return m_channels; }

    // The resume position: the last id seen and the epoch of the history it belongs to. A file keeps it
    // across restarts of the program (written atomically, shortly after it moves, and on close()); without
    // one, positionChanged lets the caller keep it elsewhere and setResumePosition hands it back.
    void setResumeFile(const QString &path);
    void setResumePosition(qint64 lastId, const QString &epoch);
    qint64 lastId() const { return m_lastId; }
    QString epoch() const { return m_epoch; }
    // Writes the position to the resume file now (if it changed).
    void saveResumePosition();

    Backoff &backoff() { return m_connection->backoff(); }
    Connection *connection() const { return m_connection; }

    void open();
    void close();
    // Offline: when the next attempt is due (valid from the stateChanged that says Offline on); open()
    // retries at once.
    // Connected once the server has accepted the client (its `connected` frame), not at the upgrade: in
    // token mode a connection without a token is upgraded and then closed.
    State state() const { return m_state; }
    QString statusText() const { return m_statusText; }
    QDateTime nextRetryAt() const { return m_connection->nextRetryAt(); }
    bool isReplaying() const { return m_replayRemaining > 0; }

    // REST helpers for the user's queue (setUserId). Each returns a request id that requestFinished names.
    int markRead(const QList<qint64> &ids);
    int markUnread(const QList<qint64> &ids);
    // Up to `upTo`, the newest id shown (0: everything the server has handed on, unseen ones included).
    int markAllRead(qint64 upTo = 0);
    int deleteNotification(qint64 id);
    // Withdraws a message this client may publish on (any id of an update chain withdraws the chain).
    int withdraw(qint64 id);
    // Publishes `fields` (title, message, type, data, priority, …) to `channel` as this client (an action's
    // reply, say); the reply names the new id: {"id":…,"channel":…}.
    int publish(const QString &channel, const QJsonObject &fields);
    // Any other REST call on the same server, with the same token: `path` like "/api/notifications".
    int request(const QByteArray &method, const QString &path, const QJsonObject &body = {});

Q_SIGNALS:
    // A new message (not an update of an earlier one: see replaced).
    void messageReceived(const Herald::Message &message, Herald::Client::Delivery delivery);
    // `message` is the new state of the message with id `replacedId` (docs: Updates and withdrawals). After a
    // resume `replacedId` may be an id this client never saw (the chain moved on twice while it was away):
    // `message.notification.chain` names the chain's first message, so replace whatever is held of that
    // chain (0 from a server that does not send it).
    void replaced(qint64 replacedId, const Herald::Message &message, Herald::Client::Delivery delivery);
    // The message `id` on `channel` was withdrawn by its publisher. `chain` is the first id of its update
    // chain (`id` itself when it was never updated, or the server does not say): remove whatever is held of
    // that chain, which after a resume may be an older id than `id`.
    void withdrawn(qint64 id, const QString &channel, qint64 chain);
    // A message this client delivered reached its `expires` time: stop showing it. (The server sends nothing
    // then; an expired message is never delivered.)
    void expired(qint64 id, const QString &channel);
    void readStateChanged(const Herald::ReadEvent &event);
    // The user's notification settings (quiet hours, min_priority) changed.
    void settingsChanged(const QString &userId, const QJsonObject &settings);
    void stateChanged(Herald::Client::State state, const QString &text);
    // Offline: the next attempt, the `attempt`-th since the last success, is due `at` (UTC).
    void retryScheduled(const QDateTime &at, int attempt);
    void errorOccurred(Herald::Client::Error error, const QString &text);
    // A resume began: `info.count` messages follow as Delivery::Replayed. recovered false means missed
    // messages are gone (expired, limit): reload from REST if that matters.
    void replayStarted(const Herald::ReplayInfo &info);
    void replayFinished();
    // The ids the client held belong to another history (a new data dir): nothing was replayed; the client
    // now counts from `lastId`. Reload what is shown from REST.
    void historyReset(qint64 lastId, const QString &epoch);
    void positionChanged(qint64 lastId, const QString &epoch);
    void requestFinished(int requestId, bool ok, int httpStatus, const QJsonObject &reply);

private:
    void prepareUrl(QUrl &url) const;
    void setState(State state, const QString &text);
    void handleOpened();
    void handleFrame(const QJsonObject &frame);
    void handleReplayNotice(const QJsonObject &frame);
    void handleMessage(const QJsonObject &frame);
    void handleReadsEvent(const QJsonObject &frame, qint64 id);
    void advance(qint64 id);
    void setPosition(qint64 lastId, const QString &epoch);
    void finishReplay();
    QStringList allChannels() const;
    void loadResumeFile();
    void watchExpiry(const Message &message);
    // Stops watching `id`, and any message of update chain `chain` (> 0).
    void forgetExpiry(qint64 id, qint64 chain = 0);
    void scheduleExpiry();
    void expireDue();
    int postIds(const QString &path, const QList<qint64> &ids);

    Connection *m_connection;
    QNetworkAccessManager *m_http = nullptr;
    State m_state = State::Idle;
    QString m_statusText;
    QUrl m_url;
    QString m_userId;
    QString m_clientId;
    QStringList m_channels;
    bool m_hasPosition = false; // a position, possibly 0 (a fresh server), to resume from
    qint64 m_lastId = 0;
    QString m_epoch;
    // Whether the connection being opened resumes: the position it sent (a full resume moves the position
    // to the notice's last_id once the replay is through).
    bool m_resuming = false;
    bool m_fullReplay = false;
    int m_replayRemaining = 0;
    qint64 m_replayTarget = 0;
    struct Expiry
    {
        QDateTime at;
        qint64 id = 0;
        QString channel;
        qint64 chain = 0; // the message's `chain`, or its id
    };
    QList<Expiry> m_expiries; // sorted by time
    QTimer m_expiryTimer;
    QString m_resumeFile;
    QTimer m_saveTimer;
    bool m_dirty = false;
    int m_nextRequest = 1;
};

} // namespace Herald

Q_DECLARE_METATYPE(Herald::ReadEvent)
Q_DECLARE_METATYPE(Herald::ReplayInfo)
