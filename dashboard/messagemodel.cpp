#include "messagemodel.h"

#include <QColor>
#include <QFont>
#include <QGuiApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPalette>

#include <algorithm>
#include <chrono>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
const QString WithdrawnType = u"withdrawn"_s;
// QTimer takes int milliseconds: an expiry further off is waited for in steps.
constexpr qint64 MaxTimerWaitMs = 24LL * 3600 * 1000;

QColor urgentBackground()
{
    return QColor(0xff, 0xeb, 0xe9);
}
QColor urgentText()
{
    return QColor(0xcf, 0x22, 0x2e);
}
} // namespace

MessageRow MessageRow::fromMessage(const Message &message, const QDateTime &now)
{
    MessageRow r;
    r.id = message.id;
    r.chain = message.chainId();
    r.time = message.timestamp.isValid() ? message.timestamp : QDateTime::currentDateTimeUtc();
    r.channel = message.channel;
    r.sender = message.sender;
    r.type = message.type;
    // The most telling text the message has: its body, else its title, else its data.
    if (!message.message.isEmpty())
        r.text = message.message;
    else if (!message.title.isEmpty())
        r.text = message.title;
    else if (message.data.isObject())
        r.text = QString::fromUtf8(QJsonDocument(message.data.toObject()).toJson(QJsonDocument::Compact));
    else if (message.data.isArray())
        r.text = QString::fromUtf8(QJsonDocument(message.data.toArray()).toJson(QJsonDocument::Compact));
    else if (!message.data.isUndefined())
        r.text = message.data.toVariant().toString();
    if (!message.title.isEmpty() && !message.message.isEmpty())
        r.text = message.title % u": "_s % message.message;
    const NotificationFields &n = message.notification;
    if (r.text.isEmpty() && message.type == WithdrawnType && n.withdraws > 0)
        r.text = MessageModel::tr("withdraws #%1").arg(n.withdraws);
    r.json = QString::fromUtf8(message.toJsonBytes());
    r.priority = n.effectivePriority();
    r.expires = n.expires;
    if (n.quiet)
        r.states |= MessageState::Quiet;
    if (n.isExpired(now))
        r.states |= MessageState::Expired;
    return r;
}

QString MessageRow::stateText() const
{
    QStringList parts;
    if (states.testFlag(MessageState::Updated))
        parts.append(updates > 1 ? MessageModel::tr("updated ×%1").arg(updates)
                                 : MessageModel::tr("updated"));
    if (states.testFlag(MessageState::Withdrawn))
        parts.append(MessageModel::tr("withdrawn"));
    if (states.testFlag(MessageState::Expired))
        parts.append(MessageModel::tr("expired"));
    if (states.testFlag(MessageState::Quiet))
        parts.append(MessageModel::tr("quiet"));
    return parts.join(u", "_s);
}

MessageModel::MessageModel(QObject *parent)
    : QAbstractTableModel(parent)
{
    m_expiryTimer.setSingleShot(true);
    connect(&m_expiryTimer, &QTimer::timeout, this, [this] { expireDue(QDateTime::currentDateTimeUtc()); });
}

QString MessageModel::priorityName(int priority)
{
    switch (priority) {
    case 1:
        return tr("1 min");
    case 2:
        return tr("2 low");
    case 4:
        return tr("4 high");
    case 5:
        return tr("5 urgent");
    default:
        return tr("3 default");
    }
}

void MessageModel::setCapacity(qsizetype capacity)
{
    m_capacity = qMax<qsizetype>(1, capacity);
    trimTo(m_capacity);
}

void MessageModel::trimTo(qsizetype size)
{
    const auto have = qsizetype(m_rows.size());
    if (have <= size)
        return;
    beginRemoveRows({}, int(size), int(have - 1));
    m_rows.resize(std::size_t(size));
    endRemoveRows();
}

int MessageModel::rowOfId(qint64 id) const
{
    if (id <= 0)
        return -1;
    const auto it =
        std::find_if(m_rows.cbegin(), m_rows.cend(), [id](const MessageRow &r) { return r.id == id; });
    return it == m_rows.cend() ? -1 : int(it - m_rows.cbegin());
}

void MessageModel::rowChanged(int row)
{
    Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
}

bool MessageModel::applyToRow(const Message &message, std::vector<MessageRow> &fresh, const QDateTime &now)
{
    const NotificationFields &n = message.notification;
    const bool withdraw = message.type == WithdrawnType && n.withdraws > 0;
    const qint64 target = withdraw ? n.withdraws : n.replaces;
    if (target <= 0)
        return false;
    // Only on the same channel: an id is hub-wide, and a row of another channel is another message. The id
    // named first; else the row of the same chain (a withdrawn event's own row belongs to no chain).
    const auto byId = [&](const MessageRow &r) {
        return r.id == target && r.channel == message.channel;
    };
    const auto byChain = [&](const MessageRow &r) {
        return n.chain > 0 && r.chain == n.chain && r.type != WithdrawnType && r.channel == message.channel;
    };
    const auto apply = [&](MessageRow &row) {
        if (withdraw) {
            row.states |= MessageState::Withdrawn;
            return;
        }
        // The update takes the row's place: its content and id, so a further update finds it.
        MessageRow next = MessageRow::fromMessage(message, now);
        next.states |= MessageState::Updated;
        next.updates = row.updates + 1;
        row = std::move(next);
        if (row.expires.isValid() && !row.states.testFlag(MessageState::Expired))
            armExpiry(row.expires);
    };
    const auto applyFirst = [&](const auto &matches) {
        const auto pending = std::find_if(fresh.rbegin(), fresh.rend(), matches);
        if (pending != fresh.rend()) {
            apply(*pending);
            return true;
        }
        const auto held = std::find_if(m_rows.begin(), m_rows.end(), matches);
        if (held == m_rows.end())
            return false;
        apply(*held);
        rowChanged(int(held - m_rows.begin()));
        return true;
    };
    return applyFirst(byId) || applyFirst(byChain);
}

void MessageModel::addMessages(const QList<Message> &messages)
{
    if (messages.isEmpty())
        return;
    m_totalAdded += messages.size();
    const QDateTime now = QDateTime::currentDateTimeUtc();
    std::vector<MessageRow> fresh; // arrival order
    fresh.reserve(std::size_t(messages.size()));
    for (const Message &message : messages) {
        if (applyToRow(message, fresh, now))
            continue;
        fresh.push_back(MessageRow::fromMessage(message, now));
        const MessageRow &row = fresh.back();
        if (row.expires.isValid() && !row.states.testFlag(MessageState::Expired))
            armExpiry(row.expires);
    }
    if (fresh.empty())
        return;
    // Only the newest `capacity` of a burst can survive; skip the rest outright.
    const auto count = qsizetype(fresh.size());
    const qsizetype keep = qMin(count, m_capacity);
    trimTo(m_capacity - keep);
    beginInsertRows({}, 0, int(keep - 1));
    for (qsizetype i = count - keep; i < count; ++i)
        m_rows.push_front(std::move(fresh[std::size_t(i)]));
    endInsertRows();
}

void MessageModel::armExpiry(const QDateTime &expires)
{
    if (m_nextExpiry.isValid() && m_nextExpiry <= expires)
        return;
    m_nextExpiry = expires;
    const qint64 wait =
        std::clamp<qint64>(QDateTime::currentDateTimeUtc().msecsTo(expires), 0, MaxTimerWaitMs);
    m_expiryTimer.start(std::chrono::milliseconds(wait));
}

void MessageModel::expireDue(const QDateTime &now)
{
    m_expiryTimer.stop();
    m_nextExpiry = QDateTime();
    QDateTime next;
    for (std::size_t i = 0; i < m_rows.size(); ++i) {
        MessageRow &r = m_rows[i];
        if (!r.expires.isValid() || r.states.testFlag(MessageState::Expired))
            continue;
        if (r.expires <= now) {
            r.states |= MessageState::Expired;
            rowChanged(int(i));
        } else if (!next.isValid() || r.expires < next) {
            next = r.expires;
        }
    }
    // A timer that fired early (coarse timers may) finds the row not yet due and waits again.
    if (next.isValid())
        armExpiry(next);
}

void MessageModel::clear()
{
    m_expiryTimer.stop();
    m_nextExpiry = QDateTime();
    if (m_rows.empty())
        return;
    beginResetModel();
    m_rows.clear();
    endResetModel();
}

int MessageModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int MessageModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant MessageModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() < 0 || std::size_t(index.row()) >= m_rows.size())
        return {};
    const MessageRow &r = m_rows.at(std::size_t(index.row()));
    const bool urgent = r.priority >= NotificationFields::UrgentPriority;
    const bool gone = r.states.testAnyFlags(MessageState::Withdrawn | MessageState::Expired);
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case Time:
            return r.time.toLocalTime().toString(u"HH:mm:ss.zzz"_s);
        case Channel:
            return r.channel;
        case Sender:
            return r.sender;
        case Type:
            return r.type;
        case Priority:
            return priorityName(r.priority);
        case State:
            return r.stateText();
        case Text:
            return r.text;
        default:
            return {};
        }
    case Qt::ToolTipRole:
        return r.json;
    case Qt::FontRole: {
        // Urgent rows are bold, withdrawn ones struck through, quiet ones in italics; nothing else changes.
        if (!urgent && !r.states.testAnyFlags(MessageState::Withdrawn | MessageState::Quiet) &&
            !(index.column() == Priority && r.priority == 4))
            return {};
        QFont f;
        f.setBold(urgent || (index.column() == Priority && r.priority == 4));
        f.setStrikeOut(r.states.testFlag(MessageState::Withdrawn));
        f.setItalic(r.states.testFlag(MessageState::Quiet));
        return f;
    }
    case Qt::ForegroundRole:
        // What no longer matters is greyed, whatever its priority.
        if (gone)
            return QGuiApplication::palette().color(QPalette::Disabled, QPalette::Text);
        if (urgent)
            return urgentText();
        return {};
    case Qt::BackgroundRole:
        if (urgent && !gone)
            return urgentBackground();
        return {};
    case IdRole:
        return r.id;
    case PriorityRole:
        return r.priority;
    case StateRole:
        return int(r.states.toInt());
    default:
        return {};
    }
}

QVariant MessageModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case Time:
        return tr("Time");
    case Channel:
        return tr("Channel");
    case Sender:
        return tr("Sender");
    case Type:
        return tr("Type");
    case Priority:
        return tr("Priority");
    case State:
        return tr("State");
    case Text:
        return tr("Text");
    default:
        return {};
    }
}

MessageFilterModel::MessageFilterModel(QObject *parent)
    : QSortFilterProxyModel(parent)
{
    setFilterKeyColumn(-1);
    setFilterCaseSensitivity(Qt::CaseInsensitive);
}

void MessageFilterModel::setFilterText(const QString &text)
{
    setFilterFixedString(text.trimmed());
}

} // namespace Herald
