#pragma once

#include <QIcon>
#include <QObject>
#include <QPointer>

class QAction;
class QMenu;
class QSystemTrayIcon;

namespace Herald {

class DesktopNotifier;
class HistoryWindow;
class NotificationCenter;
class NotifierSettings;

// herald-notifier's tray: the icon with the unread count, its menu (history, mute, settings, quit), the
// history window, and the notification center behind them. The connection is plugged in from outside: it
// feeds center() and reports its state through setConnectionState.
class TrayApp : public QObject
{
    Q_OBJECT

public:
    enum class ConnectionState
    {
        Offline,
        Connecting,
        Online,
        Retrying
    };

    TrayApp(NotifierSettings *settings, DesktopNotifier *notifier, QObject *parent = nullptr);
    ~TrayApp() override;

    NotificationCenter *center() const { return m_center; }
    HistoryWindow *historyWindow();
    QMenu *menu() const { return m_menu; }
    QSystemTrayIcon *tray() const { return m_tray; }
    QAction *muteAction() const { return m_mute; }
    QString toolTip() const { return m_toolTip; }

    void setConnectionState(ConnectionState state, const QString &detail = {});
    // The history window and the tray menu side by side, as a PNG (README pictures).
    bool saveScreenshot(const QString &file);
    void showHistory();

    // The bell with the unread count on it (none at 0, "99+" past 99); dimmed while offline.
    static QIcon badgedIcon(const QIcon &base, int unread, bool offline);

Q_SIGNALS:
    void settingsRequested();
    void quitRequested();

private:
    void updateIcon();

    NotifierSettings *m_settings;
    NotificationCenter *m_center;
    QSystemTrayIcon *m_tray = nullptr;
    QMenu *m_menu;
    QAction *m_mute;
    QPointer<HistoryWindow> m_history;
    QIcon m_baseIcon;
    ConnectionState m_state = ConnectionState::Offline;
    QString m_stateDetail;
    QString m_toolTip;
};

} // namespace Herald
