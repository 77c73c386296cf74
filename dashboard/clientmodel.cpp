#include "clientmodel.h"

#include "channelname.h"

#include <QGuiApplication>
#include <QPalette>
#include <QSet>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// The server names the user in client_connected only when it knew it at registration; a /ws?user_id= client
// subscribes to user:<id> right after. That subscription says who the user is.
void deriveUser(ClientEntry &c)
{
    if (!c.userId.isEmpty())
        return;
    for (const QString &ch : std::as_const(c.subscriptions)) {
        if (ch.startsWith(Channels::UserPrefix)) {
            c.userId = ch.mid(Channels::UserPrefix.size());
            return;
        }
    }
}
} // namespace

ClientModel::ClientModel(QObject *parent)
    : QAbstractTableModel(parent)
{}

void ClientModel::reset(const QList<ClientEntry> &clients)
{
    beginResetModel();
    m_rows = clients;
    for (ClientEntry &c : m_rows) {
        c.subscriptions.sort();
        deriveUser(c);
    }
    endResetModel();
    updateChannelCount();
}

void ClientModel::addClient(const ClientEntry &client)
{
    const int row = int(m_rows.size());
    beginInsertRows({}, row, row);
    m_rows.append(client);
    m_rows.last().subscriptions.sort();
    deriveUser(m_rows.last());
    endInsertRows();
    updateChannelCount();
}

void ClientModel::removeClient(const QString &clientId)
{
    const int row = rowOf(clientId);
    if (row < 0)
        return;
    beginRemoveRows({}, row, row);
    m_rows.removeAt(row);
    endRemoveRows();
    updateChannelCount();
}

void ClientModel::addSubscription(const QString &clientId, const QString &channel)
{
    for (int row = 0; row < m_rows.size(); ++row) {
        ClientEntry &c = m_rows[row];
        if (c.clientId != clientId || c.subscriptions.contains(channel))
            continue;
        c.subscriptions.append(channel);
        c.subscriptions.sort();
        const QString user = c.userId;
        deriveUser(c);
        if (user != c.userId)
            Q_EMIT dataChanged(index(row, User), index(row, User));
        Q_EMIT dataChanged(index(row, Subscriptions), index(row, Subscriptions));
    }
    updateChannelCount();
}

void ClientModel::removeSubscription(const QString &clientId, const QString &channel)
{
    for (int row = 0; row < m_rows.size(); ++row) {
        ClientEntry &c = m_rows[row];
        if (c.clientId == clientId && c.subscriptions.removeAll(channel) > 0)
            Q_EMIT dataChanged(index(row, Subscriptions), index(row, Subscriptions));
    }
    updateChannelCount();
}

void ClientModel::setStaleSince(const QDateTime &since)
{
    if (since == m_staleSince)
        return;
    m_staleSince = since;
    if (!m_rows.isEmpty())
        Q_EMIT dataChanged(index(0, 0), index(int(m_rows.size()) - 1, ColumnCount - 1),
                           {Qt::ForegroundRole, Qt::ToolTipRole});
}

int ClientModel::channelCount() const
{
    return m_channelCount;
}

void ClientModel::updateChannelCount()
{
    QSet<QString> channels;
    for (const ClientEntry &c : std::as_const(m_rows)) {
        for (const QString &ch : c.subscriptions)
            channels.insert(ch);
    }
    const int n = int(channels.size());
    if (n == m_channelCount)
        return;
    m_channelCount = n;
    Q_EMIT channelCountChanged(n);
}

int ClientModel::rowOf(const QString &clientId) const
{
    for (int row = 0; row < m_rows.size(); ++row) {
        if (m_rows.at(row).clientId == clientId)
            return row;
    }
    return -1;
}

int ClientModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int ClientModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ClientModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() < 0 || index.row() >= m_rows.size())
        return {};
    const ClientEntry &c = m_rows.at(index.row());
    if (role == ClientIdRole)
        return c.clientId;
    if (role == Qt::ForegroundRole && isStale())
        return QGuiApplication::palette().color(QPalette::Disabled, QPalette::Text);
    if (role == Qt::ToolTipRole && isStale())
        return tr("As of %1: the server is not reachable, so this list is not live")
            .arg(m_staleSince.toLocalTime().toString(u"HH:mm:ss"_s));
    if (role == Qt::ToolTipRole && index.column() == Subscriptions)
        return c.subscriptions.join(u'\n');
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case Id:
        return c.clientId;
    case User:
        return c.userId;
    case Transport:
        return c.route.isEmpty() ? c.transport : u"%1 (/%2)"_s.arg(c.transport, c.route);
    case Address:
        return c.address;
    case Since:
        return c.connectedAt.isValid() ? c.connectedAt.toLocalTime().toString(u"yyyy-MM-dd HH:mm:ss"_s)
                                       : QString();
    case Subscriptions:
        return c.subscriptions.join(u", "_s);
    default:
        return {};
    }
}

QVariant ClientModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case Id:
        return tr("Client ID");
    case User:
        return tr("User");
    case Transport:
        return tr("Transport");
    case Address:
        return tr("Address");
    case Since:
        return tr("Connected since");
    case Subscriptions:
        return tr("Subscriptions");
    default:
        return {};
    }
}

} // namespace Herald
