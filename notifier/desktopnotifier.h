#pragma once

#include "message.h"

#include <QDBusConnection>
#include <QHash>
#include <QList>
#include <QObject>
#include <QPair>
#include <QPointer>
#include <QString>

#include <optional>

class QSystemTrayIcon;

namespace Herald {

// One pop-up as the desktop shows it.
struct DesktopNotification
{
    qint64 messageId = 0; // 0: the summary slot (a new summary replaces the last one)
    QString summary;
    QString body;
    QString icon;                           // an icon name or a local file; empty: the application's
    int priority = 0;                       // 1..5, 0 = default
    QList<QPair<QString, QString>> actions; // key, label ("default" is the click)
    bool clickable = true;                  // adds the "default" action (a click on the pop-up)
    qint64 replacesMessageId = 0;           // an update: takes that message's pop-up if still open

    // A message as a pop-up: title (or channel) as summary, text as body, its buttons as "action-<index>".
    static DesktopNotification fromMessage(const Message &message);
};

// Native desktop notifications through the freedesktop Notifications D-Bus interface (Notify,
// CloseNotification; the ActionInvoked and NotificationClosed signals). Without a notification service on
// the bus it falls back to the tray icon's balloon (QSystemTrayIcon::showMessage).
class DesktopNotifier : public QObject
{
    Q_OBJECT

public:
    static constexpr auto Service = "org.freedesktop.Notifications";
    static constexpr auto Path = "/org/freedesktop/Notifications";
    static constexpr auto Interface = "org.freedesktop.Notifications";
    enum Urgency : uchar
    {
        Low = 0,
        Normal = 1,
        Critical = 2
    };

    explicit DesktopNotifier(QDBusConnection bus = QDBusConnection::sessionBus(), QObject *parent = nullptr);
    ~DesktopNotifier() override;

    // Where to fall back to; may be null (then a notification without a service is only counted).
    void setFallbackTray(QSystemTrayIcon *tray);
    void setAppName(const QString &name) { m_appName = name; }

    // Whether a notification service is on the bus (running or activatable); asked on each show, since
    // one may start or stop while the notifier runs.
    bool hasService() const;
    void show(const DesktopNotification &notification);
    void close(qint64 messageId);

    static Urgency urgencyFor(int priority);
    // The D-Bus id of a message's pop-up, 0 if none is open.
    uint notificationId(qint64 messageId) const { return m_byMessage.value(messageId); }
    int fallbackCount() const { return m_fallbackCount; }

Q_SIGNALS:
    // The daemon accepted the pop-up (D-Bus) or the balloon was shown (fallback=true).
    void shown(qint64 messageId, bool fallback);
    void actionInvoked(qint64 messageId, const QString &action);
    void clicked(qint64 messageId);
    void closed(qint64 messageId);
    void failed(qint64 messageId, const QString &error);

private Q_SLOTS:
    // QtDBus delivers signals only to slots named by signature, hence the old-style slots.
    void onActionInvoked(uint id, const QString &action);
    void onNotificationClosed(uint id, uint reason);

private:
    void showInTray(const DesktopNotification &notification);
    bool bodyMarkup();

    QDBusConnection m_bus;
    QPointer<QSystemTrayIcon> m_tray;
    QString m_appName;
    QHash<uint, qint64> m_byId;
    QHash<qint64, uint> m_byMessage;
    qint64 m_lastFallbackMessage = -1;
    int m_fallbackCount = 0;
    std::optional<bool> m_bodyMarkup;
};

} // namespace Herald
