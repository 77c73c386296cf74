#include "traynotifier.h"

#include "dashboardlogging.h"

#include <QSystemTrayIcon>

namespace Herald {

TrayNotifier::TrayNotifier(const QIcon &icon, QObject *parent)
    : QObject(parent)
{
    if (!QSystemTrayIcon::isSystemTrayAvailable()) {
        qCInfo(lcDashboard) << "no system tray: desktop notifications are off";
        return;
    }
    m_tray = new QSystemTrayIcon(icon, this);
    connect(m_tray, &QSystemTrayIcon::activated, this, [this](QSystemTrayIcon::ActivationReason reason) {
        if (reason == QSystemTrayIcon::Trigger || reason == QSystemTrayIcon::DoubleClick)
            Q_EMIT activated();
    });
    connect(m_tray, &QSystemTrayIcon::messageClicked, this, &TrayNotifier::activated);
    m_tray->show();
}

TrayNotifier::~TrayNotifier() = default;

void TrayNotifier::setToolTip(const QString &text)
{
    if (m_tray)
        m_tray->setToolTip(text);
}

void TrayNotifier::setContextMenu(QMenu *menu)
{
    if (m_tray)
        m_tray->setContextMenu(menu);
}

void TrayNotifier::notify(const QString &title, const QString &text)
{
    ++m_count;
    m_lastTitle = title;
    m_lastText = text;
    if (m_tray)
        m_tray->showMessage(title, text, QSystemTrayIcon::Information, 5000);
    Q_EMIT notified(title, text);
}

} // namespace Herald
