#include "trayapp.h"

#include "appicon.h"
#include "desktopnotifier.h"
#include "historymodel.h"
#include "historywindow.h"
#include "notificationcenter.h"
#include "notifierlogging.h"
#include "notifiersettings.h"

#include <QAction>
#include <QDesktopServices>
#include <QMenu>
#include <QPainter>
#include <QSystemTrayIcon>

using namespace Qt::StringLiterals;

namespace Herald {

TrayApp::TrayApp(NotifierSettings *settings, DesktopNotifier *notifier, QObject *parent)
    : QObject(parent)
    , m_settings(settings)
    , m_center(new NotificationCenter(notifier, this))
    , m_menu(new QMenu)
    , m_baseIcon(appIcon())
{
    m_menu->addAction(tr("Open history"), this, &TrayApp::showHistory);
    m_mute = m_menu->addAction(tr("Mute"));
    m_mute->setCheckable(true);
    m_menu->addAction(tr("Settings…"), this, &TrayApp::settingsRequested);
    m_menu->addSeparator();
    m_menu->addAction(tr("Quit"), this, &TrayApp::quitRequested);

    m_center->setMuted(m_settings->muted());
    m_mute->setChecked(m_center->isMuted());
    connect(m_mute, &QAction::toggled, m_center, &NotificationCenter::setMuted);
    connect(m_center, &NotificationCenter::mutedChanged, this, [this](bool muted) {
        m_mute->setChecked(muted);
        m_settings->setMuted(muted);
        updateIcon();
    });
    connect(m_center, &NotificationCenter::unreadCountChanged, this, &TrayApp::updateIcon);
    connect(m_center, &NotificationCenter::historyRequested, this, &TrayApp::showHistory);
    connect(m_center, &NotificationCenter::openUrlRequested, this,
            [](const QUrl &url) { QDesktopServices::openUrl(url); });

    if (QSystemTrayIcon::isSystemTrayAvailable()) {
        m_tray = new QSystemTrayIcon(this);
        m_tray->setContextMenu(m_menu);
        connect(m_tray, &QSystemTrayIcon::activated, this, [this](QSystemTrayIcon::ActivationReason reason) {
            if (reason == QSystemTrayIcon::Trigger || reason == QSystemTrayIcon::DoubleClick)
                showHistory();
        });
        notifier->setFallbackTray(m_tray);
    } else {
        qCInfo(lcNotifier) << "no system tray here: the history window stands in for it";
    }
    updateIcon();
    if (m_tray)
        m_tray->show();
}

TrayApp::~TrayApp()
{
    delete m_history;
    delete m_menu;
}

HistoryWindow *TrayApp::historyWindow()
{
    if (!m_history)
        m_history = new HistoryWindow(m_center);
    return m_history;
}

void TrayApp::showHistory()
{
    HistoryWindow *window = historyWindow();
    window->show();
    window->raise();
    window->activateWindow();
}

bool TrayApp::saveScreenshot(const QString &file)
{
    HistoryWindow *window = historyWindow();
    window->show();
    m_menu->adjustSize();
    const QPixmap history = window->grab();
    const QPixmap menu = m_menu->grab();
    // The tray icon as the panel shows it, with its unread count, above its menu.
    constexpr int IconSize = 48;
    const QPixmap icon =
        badgedIcon(m_baseIcon, m_center->history()->unreadCount(), false).pixmap(IconSize, IconSize);
    constexpr int Gap = 16;
    const int right = std::max(menu.width(), IconSize);
    QPixmap picture(history.width() + Gap + right + Gap,
                    std::max(history.height(), Gap + IconSize + Gap / 2 + menu.height()));
    picture.fill(window->palette().color(QPalette::Window).darker(110));
    QPainter p(&picture);
    p.drawPixmap(0, 0, history);
    p.drawPixmap(history.width() + Gap, Gap, icon);
    p.drawPixmap(history.width() + Gap, Gap + IconSize + Gap / 2, menu);
    p.end();
    return picture.save(file, "PNG");
}

void TrayApp::setConnectionState(ConnectionState state, const QString &detail)
{
    m_state = state;
    m_stateDetail = detail;
    updateIcon();
}

QIcon TrayApp::badgedIcon(const QIcon &base, int unread, bool offline)
{
    QIcon icon;
    for (int size : {16, 22, 24, 32, 48, 64}) {
        QPixmap pm = base.pixmap(size, size, offline ? QIcon::Disabled : QIcon::Normal);
        if (pm.isNull())
            continue;
        if (unread > 0) {
            // The pixmap's own size: a small base icon gives the same pixmap for every size asked.
            const int w = pm.width();
            QPainter p(&pm);
            p.setRenderHint(QPainter::Antialiasing);
            const QString text = unread > 99 ? u"99+"_s : QString::number(unread);
            const qreal d = w * (text.size() > 1 ? 0.7 : 0.55);
            const QRectF badge(w - d, 0, d, d * 0.8);
            p.setPen(Qt::NoPen);
            p.setBrush(QColor(0xd0, 0x21, 0x2c));
            p.drawRoundedRect(badge, d * 0.4, d * 0.4);
            QFont font = p.font();
            font.setBold(true);
            font.setPixelSize(std::max(6, static_cast<int>(d * (text.size() > 2 ? 0.4 : 0.6))));
            p.setFont(font);
            p.setPen(Qt::white);
            p.drawText(badge, Qt::AlignCenter, text);
        }
        icon.addPixmap(pm);
    }
    return icon;
}

void TrayApp::updateIcon()
{
    const int unread = m_center->history()->unreadCount();
    const bool offline = m_state != ConnectionState::Online;
    QString state;
    switch (m_state) {
    case ConnectionState::Online:
        state = tr("connected");
        break;
    case ConnectionState::Connecting:
        state = tr("connecting…");
        break;
    case ConnectionState::Retrying:
        state = tr("offline, retrying");
        break;
    case ConnectionState::Offline:
        state = tr("offline");
        break;
    }
    if (!m_stateDetail.isEmpty())
        state += u" ("_s + m_stateDetail + u')';
    QStringList lines{u"Herald: "_s + state};
    lines.append(unread == 1 ? tr("1 unread notification") : tr("%1 unread notifications").arg(unread));
    if (m_center->isMuted())
        lines.append(tr("muted"));
    m_toolTip = lines.join(u'\n');
    if (m_tray) {
        m_tray->setIcon(badgedIcon(m_baseIcon, unread, offline));
        m_tray->setToolTip(m_toolTip);
    }
}

} // namespace Herald
