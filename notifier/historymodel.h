#pragma once

#include "message.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QList>
#include <QSortFilterProxyModel>

namespace Herald {

// The person's notifications as the notifier knows them, with their read state. Fed by a plain interface
// (addMessage, setRead, markAllRead, removeMessages) so whatever receives them (the connection library)
// only calls these; the history window shows it through HistoryFilter.
class HistoryModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column
    {
        TimeColumn,
        ChannelColumn,
        PriorityColumn,
        TextColumn,
        ColumnCount
    };
    enum Role
    {
        IdRole = Qt::UserRole + 1,
        ReadRole,
        ChannelRole,
        PriorityRole, // effective priority, 1..5
        SearchTextRole,
    };

    explicit HistoryModel(QObject *parent = nullptr);

    // A message arrives. A "withdrawn" event removes what it withdraws; a message that replaces one in the
    // list takes its row (unread again); a known id is ignored. False if nothing was added.
    bool addMessage(const Message &message);
    // The listed message an update or "withdrawn" event supersedes: the one it names (replaces, withdraws),
    // else the one of its chain (`chain`, the chain's first id) on its channel, which is what a notifier that
    // was away while the chain moved on still lists; 0 for none.
    qint64 supersededId(const Message &message) const;
    void setRead(const QList<qint64> &ids, bool read = true);
    // Everything up to `upTo` (all when 0) is read: the read-all event names the last id it covered.
    void markAllRead(qint64 upTo = 0);
    void removeMessages(const QList<qint64> &ids);
    // Everything goes (another user or server: nothing of the old one's queue belongs here).
    void clear();
    // Drops what expired (the server sends nothing when a message's time is up); returns their ids.
    QList<qint64> removeExpired(const QDateTime &now);

    int unreadCount() const { return m_unread; }
    QList<qint64> unreadIds() const;
    QStringList channels() const;
    const Message *message(qint64 id) const;
    bool isRead(qint64 id) const;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    void unreadCountChanged(int unread);
    void channelsChanged();

private:
    struct Entry
    {
        Message message;
        bool read = false;
    };
    int rowOf(qint64 id) const;
    bool removeRow(int row); // true if it was unread
    void setUnread(int unread);
    void rebuildIndex();

    QList<Entry> m_entries;
    QHash<qint64, int> m_rowById;
    int m_unread = 0;
};

// What the history window shows: unread first, then newest first; optionally one channel, a minimum
// priority and a search text (title, text, channel and tags, case-insensitive).
class HistoryFilter : public QSortFilterProxyModel
{
    Q_OBJECT

public:
    explicit HistoryFilter(QObject *parent = nullptr);

    void setChannel(const QString &channel); // empty: all
    void setMinPriority(int priority);       // 0 or 1: all
    void setSearchText(const QString &text);
    QString channel() const { return m_channel; }
    int minPriority() const { return m_minPriority; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;
    bool lessThan(const QModelIndex &left, const QModelIndex &right) const override;

private:
    QString m_channel;
    int m_minPriority = 0;
    QString m_search;
};

} // namespace Herald
