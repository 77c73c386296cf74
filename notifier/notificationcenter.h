#pragma once

#include "burstpolicy.h"
#include "message.h"

#include <QList>
#include <QObject>
#include <QTimer>
#include <QUrl>

namespace Herald {

class DesktopNotifier;
class HistoryModel;

// The notifier's core, between whatever receives messages (the connection library) and what the person
// sees: every message goes into the history; what is worth a pop-up is gathered for a moment and passed
// through the burst policy to the desktop notifier. The connection feeds it through addMessage, setRead,
// markAllRead and removeMessages, and hears back what the person did through the *Requested signals.
class NotificationCenter : public QObject
{
    Q_OBJECT

public:
    // How long arriving messages are gathered before deciding: a resume's replay arrives within it.
    static constexpr int DefaultGatherMs = 400;

    explicit NotificationCenter(DesktopNotifier *notifier, QObject *parent = nullptr);
    ~NotificationCenter() override;

    HistoryModel *history() const { return m_history; }
    DesktopNotifier *notifier() const { return m_notifier; }
    BurstPolicy &policy() { return m_policy; }

    // From the connection.
    void addMessage(const Message &message);
    void setRead(const QList<qint64> &ids, bool read = true);
    void markAllRead(qint64 upTo = 0);
    void removeMessages(const QList<qint64> &ids);
    // Forgets the history and what waits to pop up: the link now follows another user or server.
    void clear();

    // From the person (history window, pop-ups): changes the model and asks the connection to tell the
    // server, so the page and the dashboard see it too.
    void markReadByUser(const QList<qint64> &ids);
    void markAllReadByUser();

    bool isMuted() const { return m_muted; }
    void setMuted(bool muted);
    void setGatherInterval(int ms) { m_gather.setInterval(ms); }
    // Drops expired messages from the history and closes their pop-ups (a timer does it every 15 s).
    void removeExpired(const QDateTime &now);
    // Decide on what is gathered now (the timer does it otherwise).
    void flush();

Q_SIGNALS:
    void mutedChanged(bool muted);
    void unreadCountChanged(int unread);
    void readRequested(const QList<qint64> &ids);
    void allReadRequested(qint64 upTo);
    // A "reply" button was pressed: publish action.message to action.channel as this user.
    void replyRequested(qint64 messageId, const Herald::NotificationAction &action);
    // A click with a link, or a "view" button.
    void openUrlRequested(const QUrl &url);
    // A click on a pop-up without a link, or on a summary: show the history window.
    void historyRequested();

private:
    void onClicked(qint64 messageId);
    void onActionInvoked(qint64 messageId, const QString &action);

    DesktopNotifier *m_notifier;
    HistoryModel *m_history;
    BurstPolicy m_policy;
    QTimer m_gather;
    QTimer m_expiry;
    QList<Message> m_pending;
    bool m_muted = false;
};

} // namespace Herald
