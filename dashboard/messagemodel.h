#pragma once

#include "message.h"

#include <QAbstractTableModel>
#include <QDateTime>
#include <QFlags>
#include <QSortFilterProxyModel>
#include <QTimer>

#include <deque>

namespace Herald {

// What became of a message since it arrived (docs/protocol.md, "Notifications").
enum class MessageState
{
    Updated = 0x1,   // a later message replaced it in place (its `replaces` named this row)
    Withdrawn = 0x2, // a `withdrawn` event named it
    Expired = 0x4,   // its `expires` has passed
    Quiet = 0x8,     // delivered in the recipient's quiet hours: no sound, no pop-up
};
Q_DECLARE_FLAGS(MessageStates, MessageState)

} // namespace Herald

// At global scope, as Qt asks: inside the namespace its operator| would hide Qt's (Qt::CTRL | Qt::Key_M).
Q_DECLARE_OPERATORS_FOR_FLAGS(Herald::MessageStates)

namespace Herald {

// One line of the live message table.
struct MessageRow
{
    qint64 id = 0;
    qint64 chain = 0; // the first id of its update chain: its `chain`, or its id
    QDateTime time;
    QString channel;
    QString sender;
    QString type;
    QString text;
    QString json; // the whole message, for the tooltip
    int priority = NotificationFields::DefaultPriority;
    QDateTime expires; // invalid: never
    MessageStates states;
    int updates = 0; // how many times it was replaced

    // `now` decides whether it arrived already expired.
    static MessageRow fromMessage(const Message &message,
                                  const QDateTime &now = QDateTime::currentDateTimeUtc());
    // "updated", "withdrawn, expired", …; empty for a message as it was sent.
    QString stateText() const;
};

// The live message table: newest first, at most capacity() rows (the oldest fall off), so a busy hub cannot
// grow the dashboard without bound. A message whose `replaces` names a row takes that row's place; a
// `withdrawn` event marks the row it names; either, naming an id the table never had (the dashboard was away
// while the chain moved on), finds the row by the chain's first id (`chain`) instead; a row whose `expires`
// passes is marked expired. Marked rows stay, greyed, so the operator sees what happened.
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
        Priority,
        State,
        Text,
        ColumnCount
    };
    enum Role
    {
        IdRole = Qt::UserRole + 1,
        PriorityRole, // int 1..5
        StateRole,    // MessageStates as int
    };

    static constexpr qsizetype DefaultCapacity = 5000;

    explicit MessageModel(QObject *parent = nullptr);

    qsizetype capacity() const { return m_capacity; }
    void setCapacity(qsizetype capacity);

    // Adds messages in arrival order (the last one ends up on top) with one insertion, so a burst costs one
    // view update rather than one per message. Updates and withdrawals of rows held change those rows
    // instead; ones of rows not held are added as rows of their own.
    void addMessages(const QList<Message> &messages);
    void addMessage(const Message &message) { addMessages({message}); }
    void clear();
    // Every message ever added, including those that fell off.
    qint64 totalAdded() const { return m_totalAdded; }
    const MessageRow &rowAt(int row) const { return m_rows.at(std::size_t(row)); }
    // The row holding message `id` (the latest of its update chain), or -1.
    int rowOfId(qint64 id) const;

    // Marks the rows whose expiry is at or before `now`; the model's timer calls it when the next one is due.
    void expireDue(const QDateTime &now);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    static QString priorityName(int priority);

private:
    void trimTo(qsizetype size);
    void rowChanged(int row);
    // Replaces or marks the row a message updates or withdraws, among `fresh` (not yet inserted, newest
    // last) or the rows held. False if it names no such row.
    bool applyToRow(const Message &message, std::vector<MessageRow> &fresh, const QDateTime &now);
    void armExpiry(const QDateTime &expires);

    std::deque<MessageRow> m_rows; // front = newest
    qsizetype m_capacity = DefaultCapacity;
    qint64 m_totalAdded = 0;
    QTimer m_expiryTimer;
    QDateTime m_nextExpiry; // what m_expiryTimer waits for; invalid when idle
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
