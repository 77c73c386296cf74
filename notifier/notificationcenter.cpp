#include "notificationcenter.h"

#include "desktopnotifier.h"
#include "historymodel.h"
#include "notifierlogging.h"

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
constexpr int ExpiryCheckMs = 15'000;
} // namespace

NotificationCenter::NotificationCenter(DesktopNotifier *notifier, QObject *parent)
    : QObject(parent)
    , m_notifier(notifier)
    , m_history(new HistoryModel(this))
{
    m_gather.setSingleShot(true);
    m_gather.setInterval(DefaultGatherMs);
    connect(&m_gather, &QTimer::timeout, this, &NotificationCenter::flush);
    // The server sends nothing when a message expires: live clients drop it themselves.
    m_expiry.setInterval(ExpiryCheckMs);
    connect(&m_expiry, &QTimer::timeout, this, [this] { removeExpired(QDateTime::currentDateTimeUtc()); });
    m_expiry.start();
    connect(m_history, &HistoryModel::unreadCountChanged, this, &NotificationCenter::unreadCountChanged);
    connect(m_notifier, &DesktopNotifier::clicked, this, &NotificationCenter::onClicked);
    connect(m_notifier, &DesktopNotifier::actionInvoked, this, &NotificationCenter::onActionInvoked);
}

NotificationCenter::~NotificationCenter() = default;

void NotificationCenter::addMessage(const Message &message)
{
    if (message.type == "withdrawn"_L1 && message.notification.withdraws > 0) {
        m_notifier->close(message.notification.withdraws);
        // After a resume what is shown may be an older id of the chain.
        if (const qint64 held = m_history->supersededId(message);
            held > 0 && held != message.notification.withdraws)
            m_notifier->close(held);
    }
    // The pop-up an update replaces is the one of the listed message it supersedes: after a resume an older
    // id of the chain than the one it names.
    Message popup = message;
    if (const qint64 held = message.notification.replaces > 0 ? m_history->supersededId(message) : 0;
        held > 0)
        popup.notification.replaces = held;
    m_history->addMessage(message);
    if (!BurstPolicy::isNotification(message, QDateTime::currentDateTimeUtc()))
        return;
    m_pending.append(popup);
    // Not restarted by each arrival: a steady stream still gets decided on every interval.
    if (!m_gather.isActive())
        m_gather.start();
}

void NotificationCenter::flush()
{
    m_gather.stop();
    const QList<Message> batch = std::exchange(m_pending, {});
    const BurstPolicy::Decision decision = m_policy.decide(batch, m_muted, QDateTime::currentDateTimeUtc());
    for (const Message &message : decision.singles)
        m_notifier->show(DesktopNotification::fromMessage(message));
    if (decision.summary) {
        qCInfo(lcNotifier) << decision.summary->count << "notifications at once: one summary";
        DesktopNotification summary;
        summary.messageId = 0;
        summary.summary = decision.summary->summary;
        summary.body = decision.summary->body;
        summary.priority = decision.summary->priority;
        m_notifier->show(summary);
    }
}

void NotificationCenter::setRead(const QList<qint64> &ids, bool read)
{
    m_history->setRead(ids, read);
    if (read) {
        // Read elsewhere: its pop-up has nothing left to say.
        for (qint64 id : ids)
            m_notifier->close(id);
    }
}

void NotificationCenter::markAllRead(qint64 upTo)
{
    const QList<qint64> unread = m_history->unreadIds();
    m_history->markAllRead(upTo);
    for (qint64 id : unread) {
        if (upTo <= 0 || id <= upTo)
            m_notifier->close(id);
    }
}

void NotificationCenter::removeMessages(const QList<qint64> &ids)
{
    m_history->removeMessages(ids);
    for (qint64 id : ids)
        m_notifier->close(id);
}

void NotificationCenter::removeExpired(const QDateTime &now)
{
    for (qint64 id : m_history->removeExpired(now))
        m_notifier->close(id);
}

void NotificationCenter::markReadByUser(const QList<qint64> &ids)
{
    QList<qint64> changed;
    for (qint64 id : ids) {
        if (m_history->message(id) && !m_history->isRead(id))
            changed.append(id);
    }
    if (changed.isEmpty())
        return;
    setRead(changed, true);
    Q_EMIT readRequested(changed);
}

void NotificationCenter::clear()
{
    m_pending.clear();
    m_gather.stop();
    m_history->clear();
}

void NotificationCenter::markAllReadByUser()
{
    const QList<qint64> unread = m_history->unreadIds();
    if (unread.isEmpty())
        return;
    const qint64 upTo = *std::max_element(unread.cbegin(), unread.cend());
    markAllRead(upTo);
    Q_EMIT allReadRequested(upTo);
}

void NotificationCenter::setMuted(bool muted)
{
    if (m_muted == muted)
        return;
    m_muted = muted;
    Q_EMIT mutedChanged(m_muted);
}

void NotificationCenter::onClicked(qint64 messageId)
{
    const Message *message = m_history->message(messageId);
    if (!message) {
        Q_EMIT historyRequested(); // the summary, or a message gone meanwhile
        return;
    }
    const QString click = message->notification.click;
    markReadByUser({messageId});
    if (isSafeLink(click))
        Q_EMIT openUrlRequested(QUrl(click));
    else
        Q_EMIT historyRequested();
}

void NotificationCenter::onActionInvoked(qint64 messageId, const QString &action)
{
    const Message *message = m_history->message(messageId);
    if (!message || !action.startsWith("action-"_L1))
        return;
    bool ok = false;
    const int index = action.mid(7).toInt(&ok);
    if (!ok || index < 0 || index >= message->notification.actions.size())
        return;
    const NotificationAction chosen = message->notification.actions.at(index);
    markReadByUser({messageId});
    if (chosen.kind == NotificationAction::Kind::View) {
        if (isSafeLink(chosen.url))
            Q_EMIT openUrlRequested(QUrl(chosen.url));
    } else {
        Q_EMIT replyRequested(messageId, chosen);
    }
}

} // namespace Herald
