#pragma once

#include <QAbstractTableModel>
#include <QDateTime>
#include <QJsonObject>
#include <QList>

#include <optional>

namespace Herald {

// One herald-server node of a cluster, as the stats reply lists it (its "nodes" array).
struct NodeEntry
{
    QString id;
    QString address; // host:port the node announces; the connected node may leave it out
    QDateTime startedAt;
    int clients = 0;
    int subscribers = 0;
    qint64 lastId = 0;
    bool self = false; // the node this dashboard is connected to

    // Empty when the object names no node id.
    static std::optional<NodeEntry> fromJson(const QJsonObject &object);
    friend bool operator==(const NodeEntry &, const NodeEntry &) = default;
};

// The cluster's nodes, one row each in the server's order, refreshed from every stats reply. A single
// server's stats carry none of "node", "nodes" and "cluster": the model is then empty and isCluster() is
// false.
class NodeModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column
    {
        Node,
        Address,
        Clients,
        Subscribers,
        Started,
        ColumnCount
    };
    enum Role
    {
        NodeIdRole = Qt::UserRole + 1,
        SelfRole,
    };
    enum class ClusterState
    {
        Single,   // not a cluster
        Ok,       // the connected node reaches Redis
        Degraded, // the connected node lost Redis and serves its own clients only
    };
    Q_ENUM(ClusterState)

    explicit NodeModel(QObject *parent = nullptr);

    // Takes the "data" object of a stats reply. Malformed or repeated node entries are skipped.
    void updateFromStats(const QJsonObject &stats);
    // Back to "single server", e.g. before watching another server.
    void clear();

    ClusterState clusterState() const { return m_state; }
    bool isCluster() const { return m_state != ClusterState::Single; }
    bool isDegraded() const { return m_state == ClusterState::Degraded; }
    // The connected node's id, from the stats' "node" (or the entry marked "self"); empty if unknown.
    QString selfId() const { return m_selfId; }
    int rowOf(const QString &nodeId) const;
    const NodeEntry &nodeAt(int row) const { return m_rows.at(row); }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    // The state, the connected node or the number of nodes changed.
    void clusterChanged();

private:
    void setNodes(const QList<NodeEntry> &nodes);

    QList<NodeEntry> m_rows;
    ClusterState m_state = ClusterState::Single;
    QString m_selfId;
};

} // namespace Herald
