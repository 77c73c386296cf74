#include "messagemodel.h"

#include <QJsonArray>
#include <QJsonDocument>

using namespace Qt::StringLiterals;

namespace Herald {

MessageRow MessageRow::fromMessage(const Message &message)
{
    MessageRow r;
    r.id = message.id;
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
    r.json = QString::fromUtf8(message.toJsonBytes());
    return r;
}

MessageModel::MessageModel(QObject *parent)
    : QAbstractTableModel(parent)
{}

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

void MessageModel::addMessages(const QList<Message> &messages)
{
    if (messages.isEmpty())
        return;
    m_totalAdded += messages.size();
    // Only the newest `capacity` of a burst can survive; skip the rest outright.
    const qsizetype keep = qMin(messages.size(), m_capacity);
    trimTo(m_capacity - keep);
    beginInsertRows({}, 0, int(keep - 1));
    for (qsizetype i = messages.size() - keep; i < messages.size(); ++i)
        m_rows.push_front(MessageRow::fromMessage(messages.at(i)));
    endInsertRows();
}

void MessageModel::clear()
{
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
        case Text:
            return r.text;
        default:
            return {};
        }
    case Qt::ToolTipRole:
        return r.json;
    case IdRole:
        return r.id;
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
