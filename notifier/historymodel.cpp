#include "historymodel.h"

#include <QFont>

using namespace Qt::StringLiterals;

namespace Herald {

HistoryModel::HistoryModel(QObject *parent)
    : QAbstractTableModel(parent)
{}

int HistoryModel::rowOf(qint64 id) const
{
    return m_rowById.value(id, -1);
}

void HistoryModel::rebuildIndex()
{
    m_rowById.clear();
    for (int row = 0; row < m_entries.size(); ++row)
        m_rowById.insert(m_entries.at(row).message.id, row);
}

void HistoryModel::clear()
{
    if (m_entries.isEmpty())
        return;
    beginResetModel();
    m_entries.clear();
    m_rowById.clear();
    endResetModel();
    setUnread(0);
    Q_EMIT channelsChanged();
}

void HistoryModel::setUnread(int unread)
{
    if (unread == m_unread)
        return;
    m_unread = unread;
    Q_EMIT unreadCountChanged(m_unread);
}

qint64 HistoryModel::supersededId(const Message &message) const
{
    const NotificationFields &n = message.notification;
    const qint64 named = message.type == "withdrawn"_L1 ? n.withdraws : n.replaces;
    if (named <= 0)
        return 0;
    if (rowOf(named) >= 0)
        return named;
    if (n.chain <= 0)
        return 0;
    for (const Entry &e : m_entries) {
        if (e.message.chainId() == n.chain && e.message.channel == message.channel &&
            e.message.id != message.id)
            return e.message.id;
    }
    return 0;
}

bool HistoryModel::addMessage(const Message &message)
{
    if (message.type == "withdrawn"_L1) {
        if (const qint64 gone = supersededId(message); gone > 0)
            removeMessages({gone});
        return false;
    }
    if (message.id <= 0 || rowOf(message.id) >= 0)
        return false;
    if (message.title.isEmpty() && message.message.isEmpty())
        return false; // an event without text (read state, settings): nothing to list
    const QStringList channelsBefore = channels();
    const qint64 superseded = supersededId(message);
    const int replaced = superseded > 0 ? rowOf(superseded) : -1;
    if (replaced >= 0) {
        // The update takes the old one's place and is news again.
        Entry &entry = m_entries[replaced];
        const bool wasRead = entry.read;
        entry = Entry{message, false};
        rebuildIndex();
        Q_EMIT dataChanged(index(replaced, 0), index(replaced, ColumnCount - 1));
        if (wasRead)
            setUnread(m_unread + 1);
    } else {
        const auto row = static_cast<int>(m_entries.size());
        beginInsertRows({}, row, row);
        m_entries.append(Entry{message, false});
        m_rowById.insert(message.id, row);
        endInsertRows();
        setUnread(m_unread + 1);
    }
    if (channels() != channelsBefore)
        Q_EMIT channelsChanged();
    return true;
}

void HistoryModel::setRead(const QList<qint64> &ids, bool read)
{
    int unread = m_unread;
    for (qint64 id : ids) {
        const int row = rowOf(id);
        if (row < 0 || m_entries.at(row).read == read)
            continue;
        m_entries[row].read = read;
        unread += read ? -1 : 1;
        Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
    }
    setUnread(unread);
}

void HistoryModel::markAllRead(qint64 upTo)
{
    QList<qint64> ids;
    for (const Entry &entry : std::as_const(m_entries)) {
        if (!entry.read && (upTo <= 0 || entry.message.id <= upTo))
            ids.append(entry.message.id);
    }
    setRead(ids, true);
}

bool HistoryModel::removeRow(int row)
{
    const bool wasUnread = !m_entries.at(row).read;
    beginRemoveRows({}, row, row);
    m_entries.removeAt(row);
    endRemoveRows();
    rebuildIndex();
    return wasUnread;
}

void HistoryModel::removeMessages(const QList<qint64> &ids)
{
    const QStringList channelsBefore = channels();
    int unread = m_unread;
    for (qint64 id : ids) {
        const int row = rowOf(id);
        if (row >= 0 && removeRow(row))
            --unread;
    }
    // One change signalled, however many went.
    setUnread(unread);
    if (channels() != channelsBefore)
        Q_EMIT channelsChanged();
}

QList<qint64> HistoryModel::removeExpired(const QDateTime &now)
{
    QList<qint64> expired;
    for (const Entry &entry : std::as_const(m_entries)) {
        if (entry.message.notification.isExpired(now))
            expired.append(entry.message.id);
    }
    removeMessages(expired);
    return expired;
}

QList<qint64> HistoryModel::unreadIds() const
{
    QList<qint64> ids;
    for (const Entry &entry : m_entries) {
        if (!entry.read)
            ids.append(entry.message.id);
    }
    return ids;
}

QStringList HistoryModel::channels() const
{
    QStringList list;
    for (const Entry &entry : m_entries) {
        if (!list.contains(entry.message.channel))
            list.append(entry.message.channel);
    }
    list.sort();
    return list;
}

const Message *HistoryModel::message(qint64 id) const
{
    const int row = rowOf(id);
    return row < 0 ? nullptr : &m_entries.at(row).message;
}

bool HistoryModel::isRead(qint64 id) const
{
    const int row = rowOf(id);
    return row >= 0 && m_entries.at(row).read;
}

int HistoryModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_entries.size());
}

int HistoryModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant HistoryModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_entries.size())
        return {};
    const Entry &entry = m_entries.at(index.row());
    const Message &m = entry.message;
    switch (role) {
    case IdRole:
        return m.id;
    case ReadRole:
        return entry.read;
    case ChannelRole:
        return m.channel;
    case PriorityRole:
        return m.notification.effectivePriority();
    case SearchTextRole:
        return QStringList{m.title, m.message, m.channel, m.notification.tags.join(u' ')}.join(u'\n');
    case Qt::FontRole: {
        QFont font;
        font.setBold(!entry.read);
        return font;
    }
    case Qt::ToolTipRole:
        return m.message;
    case Qt::DisplayRole:
        switch (index.column()) {
        case TimeColumn:
            return m.timestamp.toLocalTime().toString(u"yyyy-MM-dd HH:mm"_s);
        case ChannelColumn:
            return m.channel;
        case PriorityColumn:
            return m.notification.effectivePriority();
        case TextColumn:
            if (m.title.isEmpty())
                return m.message;
            return m.message.isEmpty() ? m.title : m.title + u" — "_s + m.message.section(u'\n', 0, 0);
        default:
            return {};
        }
    default:
        return {};
    }
}

QVariant HistoryModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case TimeColumn:
        return tr("Time");
    case ChannelColumn:
        return tr("Channel");
    case PriorityColumn:
        return tr("Priority");
    case TextColumn:
        return tr("Notification");
    default:
        return {};
    }
}

HistoryFilter::HistoryFilter(QObject *parent)
    : QSortFilterProxyModel(parent)
{
    setDynamicSortFilter(true);
    sort(0, Qt::AscendingOrder);
}

void HistoryFilter::setChannel(const QString &channel)
{
    m_channel = channel;
    invalidateFilter();
}

void HistoryFilter::setMinPriority(int priority)
{
    m_minPriority = priority;
    invalidateFilter();
}

void HistoryFilter::setSearchText(const QString &text)
{
    m_search = text.trimmed();
    invalidateFilter();
}

bool HistoryFilter::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    const QModelIndex index = sourceModel()->index(sourceRow, 0, sourceParent);
    if (!m_channel.isEmpty() && index.data(HistoryModel::ChannelRole).toString() != m_channel)
        return false;
    if (index.data(HistoryModel::PriorityRole).toInt() < m_minPriority)
        return false;
    return m_search.isEmpty() ||
           index.data(HistoryModel::SearchTextRole).toString().contains(m_search, Qt::CaseInsensitive);
}

bool HistoryFilter::lessThan(const QModelIndex &left, const QModelIndex &right) const
{
    // Unread before read, then the newest first (ids grow with time).
    const bool leftRead = left.data(HistoryModel::ReadRole).toBool();
    const bool rightRead = right.data(HistoryModel::ReadRole).toBool();
    if (leftRead != rightRead)
        return !leftRead;
    return left.data(HistoryModel::IdRole).toLongLong() > right.data(HistoryModel::IdRole).toLongLong();
}

} // namespace Herald
