#pragma once

#include <QIcon>
#include <QObject>

class QSystemTrayIcon;
class QMenu;

namespace Herald {

// Desktop notifications through the system tray. Without a tray (offscreen, bare X servers) notify() still
// counts and signals, so the decision to notify stays testable, but nothing is shown.
class TrayNotifier : public QObject
{
    Q_OBJECT

public:
    explicit TrayNotifier(const QIcon &icon, QObject *parent = nullptr);
    ~TrayNotifier() override;

    bool isAvailable() const { return m_tray != nullptr; }
    void setToolTip(const QString &text);
    void setContextMenu(QMenu *menu);
    void notify(const QString &title, const QString &text);

    int count() const { return m_count; }
    QString lastTitle() const { return m_lastTitle; }
    QString lastText() const { return m_lastText; }

Q_SIGNALS:
    void notified(const QString &title, const QString &text);
    // The tray icon was clicked, or a notification balloon was.
    void activated();

private:
    QSystemTrayIcon *m_tray = nullptr;
    int m_count = 0;
    QString m_lastTitle;
    QString m_lastText;
};

} // namespace Herald
