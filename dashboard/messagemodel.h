#pragma once

#include "message.h"

#include <QAbstractTableModel>
#include <QDateTime>
#include <QSortFilterProxyModel>

#include <deque>

namespace Herald {

// One line of the live message table.
struct MessageRow
{
    qint64 id = 0;
    QDateTime time;
    QString channel;
    QString sender;
    QString type;
    QString text;
    QString json; // the whole message, for the tooltip

    static MessageRow fromMessage(const Message &message);
};

// The live message table: newest first, at most capacity() rows (the oldest fall off), so a busy hub cannot
// grow the dashboard without bound.
class MessageModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column
    {
        Time,
        Channel,
        Sender,
        Type,
        Text,
        ColumnCount
    };
    enum Role
    {
        IdRole = Qt::UserRole + 1,
    };

    static constexpr qsizetype DefaultCapacity = 5000;

    explicit MessageModel(QObject *parent = nullptr);

    qsizetype capacity() const { return m_capacity; }
    void setCapacity(qsizetype capacity);

    // Adds messages in arrival order (the last one ends up on top) with one insertion, so a burst costs one
    // view update rather than one per message.
    void addMessages(const QList<Message> &messages);
    void addMessage(const Message &message) { addMessages({message}); }
    void clear();
    // Every message ever added, including those that fell off.
    qint64 totalAdded() const { return m_totalAdded; }
    const MessageRow &rowAt(int row) const { return m_rows.at(std::size_t(row)); }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    void trimTo(qsizetype size);

    std::deque<MessageRow> m_rows; // front = newest
    qsizetype m_capacity = DefaultCapacity;
    qint64 m_totalAdded = 0;
};

// The filter box: a case-insensitive substring over every column.
class MessageFilterModel : public QSortFilterProxyModel
{
    Q_OBJECT

public:
    explicit MessageFilterModel(QObject *parent = nullptr);
    void setFilterText(const QString &text);
};

} // namespace Herald
