#pragma once

#include "client.h"
#include "trayapp.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QStringList>
#include <QTime>
#include <QTimeZone>
#include <QTimer>
#include <QUrl>

namespace Herald {

class NotificationCenter;

// The notifier's connection: owns a Herald::Client and wires it to the notification center (messages,
// updates, withdrawals, read state both ways, replies) and to the tray (connection state). main() only
// says where to connect; tests build the same link in-process against a real server.
class NotifierLink : public QObject
{
    Q_OBJECT

public:
    struct Config
    {
        QUrl server;
        QString token;  // token mode (may come later: setToken)
        QString userId; // open mode, or to name the user a token is for; else taken from the token's sub
        QStringList channels;
        // Where the client's resume position (last id and epoch) is kept across restarts: the file used is
        // this one's name with a key of the server and user in it (resumeFileFor).
        QString resumeFile;
    };

    // `tray` may be null (tests): the state then goes only to connectionStateChanged.
    NotifierLink(NotificationCenter *center, TrayApp *tray = nullptr, QObject *parent = nullptr);
    ~NotifierLink() override;

    Client *client() const { return m_client; }
    NotificationCenter *center() const { return m_center; }

    // Connects (and loads the unread list into the history). False, with errorString(), for a bad URL.
    // Without a user (no user id, no token naming one) it waits for setToken.
    bool start(const Config &config);
    // The token arrived (from the keyring): reconnects with it.
    void setToken(const QString &token);
    void stop();
    QString errorString() const { return m_error; }
    QString userId() const { return m_client->userId(); }

    // The user's quiet hours and minimum priority (GET/PUT /api/users/{id}/settings): the server marks its
    // own queue's messages quiet; the notifier applies the same rule to the other channels it follows.
    struct QuietRule
    {
        bool hasWindow = false;
        QTime start;
        QTime end; // before start: over midnight; equal: all day
        QTimeZone zone;
        int minPriority = 4;

        static QuietRule fromJson(const QJsonObject &settings);
        bool isQuiet(int priority, const QDateTime &when) const;
    };
    QuietRule quietRule() const { return m_quiet; }

    // The file a position for `server` and `userId` is kept in: `base` with a key of both in its name.
    static QString resumeFileFor(const QString &base, const QUrl &server, const QString &userId);

    // The `sub` claim of a JWT, unverified: only to know which queue to follow; the server checks the token.
    static QString subjectOfToken(const QString &token);

Q_SIGNALS:
    void connectionStateChanged(Herald::TrayApp::ConnectionState state, const QString &detail);
    // GET /api/notifications answered: `count` notifications are in the history now (no pop-ups for them).
    void historyLoaded(int count);
    // A reply action was published (ok) or refused.
    void replyPublished(qint64 messageId, bool ok);

private:
    // Now following this user's queue on this server: a switch clears the history and takes the position
    // kept for the new pair.
    void follow(const QUrl &server, const QString &userId);
    void onMessage(const Message &received, Client::Delivery delivery);
    void onReplaced(qint64 replacedId, const Message &message, Client::Delivery delivery);
    void onReadState(const ReadEvent &event);
    void onState(Client::State state, const QString &text);
    void onRetry(const QDateTime &at, int attempt);
    void endReplay();
    void loadHistory();
    void loadSettings();
    Message withQuietRule(const Message &message) const;
    void setConnectionState(TrayApp::ConnectionState state, const QString &detail);

    NotificationCenter *m_center;
    QPointer<TrayApp> m_tray;
    Client *m_client;
    QString m_error;
    QString m_resumeBase; // Config::resumeFile
    QString m_followed;   // server and user of the queue followed, once known
    // A resume's replay is held here until it is through, then decided on at once: one summary, however
    // long the replay took to arrive.
    bool m_replaying = false;
    QList<Message> m_replayed;
    int m_historyRequest = 0;
    int m_settingsRequest = 0;
    QuietRule m_quiet;
    QTimer m_countdown;                 // "retrying in N s" counts down while offline
    QHash<int, qint64> m_replyRequests; // request id → the message whose action it answers
};

} // namespace Herald
