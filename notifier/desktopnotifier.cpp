#include "desktopnotifier.h"

#include "notifierlogging.h"

#include <QDBusConnectionInterface>
#include <QDBusMessage>
#include <QDBusPendingCallWatcher>
#include <QDBusPendingReply>
#include <QSystemTrayIcon>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
QString service()
{
    return QString::fromLatin1(DesktopNotifier::Service);
}
QString path()
{
    return QString::fromLatin1(DesktopNotifier::Path);
}
QString interface()
{
    return QString::fromLatin1(DesktopNotifier::Interface);
}
// How long a call to the daemon may take before the notifier stops waiting for its answer.
constexpr int CallTimeoutMs = 5000;
} // namespace

DesktopNotification DesktopNotification::fromMessage(const Message &message)
{
    DesktopNotification n;
    n.messageId = message.id;
    n.summary = message.title.isEmpty() ? message.channel : message.title;
    n.body = message.message;
    n.priority = message.notification.effectivePriority();
    n.replacesMessageId = message.notification.replaces;
    for (qsizetype i = 0; i < message.notification.actions.size(); ++i)
        n.actions.append({u"action-%1"_s.arg(i), message.notification.actions.at(i).label});
    return n;
}

DesktopNotifier::DesktopNotifier(QDBusConnection bus, QObject *parent)
    : QObject(parent)
    , m_bus(std::move(bus))
    , m_appName(u"Herald"_s)
{
    if (!m_bus.isConnected()) {
        qCInfo(lcDesktopNotify) << "no session bus: notifications go to the tray icon";
        return;
    }
    // With the service named, QtDBus only passes on signals sent by whoever owns it: no other program on
    // the bus can fake a click.
    m_bus.connect(service(), path(), interface(), u"ActionInvoked"_s, this,
                  SLOT(onActionInvoked(uint, QString)));
    m_bus.connect(service(), path(), interface(), u"NotificationClosed"_s, this,
                  SLOT(onNotificationClosed(uint, uint)));
}

DesktopNotifier::~DesktopNotifier() = default;

void DesktopNotifier::setFallbackTray(QSystemTrayIcon *tray)
{
    if (m_tray)
        disconnect(m_tray, nullptr, this, nullptr);
    m_tray = tray;
    if (m_tray) {
        connect(m_tray, &QSystemTrayIcon::messageClicked, this, [this] {
            if (m_lastFallbackMessage >= 0)
                Q_EMIT clicked(m_lastFallbackMessage);
        });
    }
}

bool DesktopNotifier::hasService() const
{
    if (!m_bus.isConnected())
        return false;
    QDBusConnectionInterface *bus = m_bus.interface();
    if (!bus)
        return false;
    if (bus->isServiceRegistered(service()).value())
        return true;
    return bus->activatableServiceNames().value().contains(service());
}

DesktopNotifier::Urgency DesktopNotifier::urgencyFor(int priority)
{
    if (priority <= 0)
        return Normal;
    if (priority <= 2)
        return Low;
    if (priority <= 4)
        return Normal;
    return Critical;
}

bool DesktopNotifier::bodyMarkup()
{
    if (!m_bodyMarkup) {
        const QDBusMessage call =
            QDBusMessage::createMethodCall(service(), path(), interface(), u"GetCapabilities"_s);
        const QDBusMessage reply = m_bus.call(call, QDBus::Block, CallTimeoutMs);
        const bool markup = reply.type() == QDBusMessage::ReplyMessage && !reply.arguments().isEmpty() &&
                            reply.arguments().constFirst().toStringList().contains(u"body-markup"_s);
        // Asked again next time if the daemon did not answer.
        if (reply.type() == QDBusMessage::ReplyMessage)
            m_bodyMarkup = markup;
        return markup;
    }
    return *m_bodyMarkup;
}

void DesktopNotifier::show(const DesktopNotification &notification)
{
    if (!hasService()) {
        showInTray(notification);
        return;
    }
    QStringList actions;
    if (notification.clickable)
        actions << u"default"_s << tr("Open");
    for (const auto &[key, label] : notification.actions)
        actions << key << label;
    QVariantMap hints;
    hints.insert(u"urgency"_s, QVariant::fromValue(static_cast<uchar>(urgencyFor(notification.priority))));
    hints.insert(u"desktop-entry"_s, u"herald-notifier"_s);
    // A server that renders markup would read "<b>" in a message as bold, or worse: the text is plain.
    const QString body = bodyMarkup() ? notification.body.toHtmlEscaped() : notification.body;

    QDBusMessage call = QDBusMessage::createMethodCall(service(), path(), interface(), u"Notify"_s);
    uint replaces = m_byMessage.value(notification.messageId);
    if (replaces == 0 && notification.replacesMessageId > 0)
        replaces = m_byMessage.take(notification.replacesMessageId);
    call << m_appName << replaces << (notification.icon.isEmpty() ? u"herald-notifier"_s : notification.icon)
         << notification.summary << body << actions << hints << -1;
    auto *watcher = new QDBusPendingCallWatcher(m_bus.asyncCall(call, CallTimeoutMs), this);
    const qint64 messageId = notification.messageId;
    connect(watcher, &QDBusPendingCallWatcher::finished, this, [this, watcher, messageId, replaces] {
        watcher->deleteLater();
        const QDBusPendingReply<uint> reply = *watcher;
        if (reply.isError()) {
            qCWarning(lcDesktopNotify) << "Notify failed:" << reply.error().message();
            Q_EMIT failed(messageId, reply.error().message());
            return;
        }
        const uint id = reply.value();
        if (replaces != 0 && replaces != id)
            m_byId.remove(replaces);
        m_byId.insert(id, messageId);
        m_byMessage.insert(messageId, id);
        Q_EMIT shown(messageId, false);
    });
}

void DesktopNotifier::showInTray(const DesktopNotification &notification)
{
    ++m_fallbackCount;
    m_lastFallbackMessage = notification.messageId;
    if (m_tray) {
        const auto icon = urgencyFor(notification.priority) == Critical ? QSystemTrayIcon::Warning
                                                                        : QSystemTrayIcon::Information;
        m_tray->showMessage(notification.summary, notification.body, icon, 10'000);
    }
    Q_EMIT shown(notification.messageId, true);
}

void DesktopNotifier::close(qint64 messageId)
{
    const uint id = m_byMessage.take(messageId);
    if (id == 0)
        return;
    m_byId.remove(id);
    QDBusMessage call =
        QDBusMessage::createMethodCall(service(), path(), interface(), u"CloseNotification"_s);
    call << id;
    m_bus.asyncCall(call, CallTimeoutMs);
}

void DesktopNotifier::onActionInvoked(uint id, const QString &action)
{
    const auto it = m_byId.constFind(id);
    if (it == m_byId.cend())
        return; // another application's notification: the signal is broadcast by some daemons
    if (action == "default"_L1)
        Q_EMIT clicked(it.value());
    else
        Q_EMIT actionInvoked(it.value(), action);
}

void DesktopNotifier::onNotificationClosed(uint id, uint reason)
{
    Q_UNUSED(reason)
    const auto it = m_byId.constFind(id);
    if (it == m_byId.cend())
        return;
    const qint64 messageId = it.value();
    m_byId.erase(it);
    if (m_byMessage.value(messageId) == id)
        m_byMessage.remove(messageId);
    Q_EMIT closed(messageId);
}

} // namespace Herald
