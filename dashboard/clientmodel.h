#pragma once

#include "adminclient.h"

#include <QAbstractTableModel>

namespace Herald {

// The connected clients, one row per connection, kept in step with the admin feed's events.
class ClientModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column
    {
        Id,
        User,
        Transport,
        Address,
        Since,
        Subscriptions,
        ColumnCount
    };
    enum Role
    {
        ClientIdRole = Qt::UserRole + 1,
    };

    explicit ClientModel(QObject *parent = nullptr);

    void reset(const QList<ClientEntry> &clients);
    void addClient(const ClientEntry &client);
    // Events name a client id, not a connection: a disconnect removes the oldest connection with that id;
    // a subscription change applies to every connection with it.
    void removeClient(const QString &clientId);
    void addSubscription(const QString &clientId, const QString &channel);
    void removeSubscription(const QString &clientId, const QString &channel);

    // While the feed is down the rows are what was true at `since`: shown greyed, with that time in their
    // tooltip. An invalid time makes them live again.
    void setStaleSince(const QDateTime &since);
    QDateTime staleSince() const { return m_staleSince; }
    bool isStale() const { return m_staleSince.isValid(); }

    // Channels with at least one subscriber, as the hub counts them.
    int channelCount() const;
    int rowOf(const QString &clientId) const;
    const ClientEntry &clientAt(int row) const { return m_rows.at(row); }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    void channelCountChanged(int channels);

private:
    void updateChannelCount();

    QList<ClientEntry> m_rows;
    int m_channelCount = 0;
    QDateTime m_staleSince;
};

} // namespace Herald
