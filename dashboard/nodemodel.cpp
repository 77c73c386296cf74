#include "nodemodel.h"

#include <QFont>
#include <QJsonArray>
#include <QSet>

using namespace Qt::StringLiterals;

namespace Herald {

std::optional<NodeEntry> NodeEntry::fromJson(const QJsonObject &object)
{
    NodeEntry n;
    n.id = object.value("id"_L1).toString();
    if (n.id.isEmpty())
        return std::nullopt;
    n.address = object.value("address"_L1).toString();
    n.startedAt = QDateTime::fromString(object.value("started_at"_L1).toString(), Qt::ISODateWithMs);
    n.clients = qMax(0, object.value("clients"_L1).toInt());
    n.subscribers = qMax(0, object.value("subscribers"_L1).toInt());
    n.lastId = object.value("last_id"_L1).toInteger();
    n.self = object.value("self"_L1).toBool();
    return n;
}

NodeModel::NodeModel(QObject *parent)
    : QAbstractTableModel(parent)
{}

void NodeModel::updateFromStats(const QJsonObject &stats)
{
    const bool cluster =
        stats.contains("nodes"_L1) || stats.contains("node"_L1) || stats.contains("cluster"_L1);
    QString selfId = stats.value("node"_L1).toString();
    QList<NodeEntry> nodes;
    if (cluster) {
        QSet<QString> seen;
        const QJsonArray list = stats.value("nodes"_L1).toArray();
        for (const QJsonValue &v : list) {
            std::optional<NodeEntry> node = NodeEntry::fromJson(v.toObject());
            if (!node || seen.contains(node->id))
                continue;
            seen.insert(node->id);
            // The stats' "node" is authoritative when present, so at most one row is marked.
            if (!selfId.isEmpty())
                node->self = node->id == selfId;
            nodes.append(*node);
        }
        if (selfId.isEmpty()) {
            for (const NodeEntry &n : std::as_const(nodes)) {
                if (n.self) {
                    selfId = n.id;
                    break;
                }
            }
        }
    } else {
        selfId.clear();
    }

    const ClusterState state = !cluster ? ClusterState::Single
                               : stats.value("cluster"_L1).toString() == u"degraded"_s
                                   ? ClusterState::Degraded
                                   : ClusterState::Ok;
    const bool changed = state != m_state || selfId != m_selfId || nodes.size() != m_rows.size();
    m_state = state;
    m_selfId = selfId;
    setNodes(nodes);
    if (changed)
        Q_EMIT clusterChanged();
}

void NodeModel::clear()
{
    updateFromStats({});
}

// Rows are removed, inserted and updated in place rather than reset, so the table keeps its selection and
// scroll position across the refresh every few seconds.
void NodeModel::setNodes(const QList<NodeEntry> &nodes)
{
    QSet<QString> ids;
    for (const NodeEntry &n : nodes)
        ids.insert(n.id);
    for (int row = int(m_rows.size()) - 1; row >= 0; --row) {
        if (ids.contains(m_rows.at(row).id))
            continue;
        beginRemoveRows({}, row, row);
        m_rows.removeAt(row);
        endRemoveRows();
    }

    // The nodes that stayed must keep their order for the in-place walk below; if the server reordered them,
    // a reset is simpler and just as correct.
    QSet<QString> kept;
    for (const NodeEntry &n : std::as_const(m_rows))
        kept.insert(n.id);
    QStringList keptInNewOrder;
    for (const NodeEntry &n : nodes) {
        if (kept.contains(n.id))
            keptInNewOrder.append(n.id);
    }
    for (int row = 0; row < m_rows.size(); ++row) {
        if (m_rows.at(row).id != keptInNewOrder.at(row)) {
            beginResetModel();
            m_rows = nodes;
            endResetModel();
            return;
        }
    }

    for (int row = 0; row < nodes.size(); ++row) {
        const NodeEntry &n = nodes.at(row);
        if (row < m_rows.size() && m_rows.at(row).id == n.id) {
            if (!(m_rows.at(row) == n)) {
                m_rows[row] = n;
                Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
            }
        } else {
            beginInsertRows({}, row, row);
            m_rows.insert(row, n);
            endInsertRows();
        }
    }
}

int NodeModel::rowOf(const QString &nodeId) const
{
    for (int row = 0; row < m_rows.size(); ++row) {
        if (m_rows.at(row).id == nodeId)
            return row;
    }
    return -1;
}

int NodeModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int NodeModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant NodeModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() < 0 || index.row() >= m_rows.size())
        return {};
    const NodeEntry &n = m_rows.at(index.row());
    switch (role) {
    case NodeIdRole:
        return n.id;
    case SelfRole:
        return n.self;
    case Qt::FontRole:
        if (n.self) {
            QFont f;
            f.setBold(true);
            return f;
        }
        return {};
    case Qt::TextAlignmentRole:
        if (index.column() == Clients || index.column() == Subscribers)
            return QVariant::fromValue(Qt::Alignment(Qt::AlignRight | Qt::AlignVCenter));
        return {};
    case Qt::ToolTipRole:
        if (index.column() == Node && n.lastId > 0)
            return tr("Last message id %1").arg(n.lastId);
        if (index.column() == Started && n.startedAt.isValid())
            return n.startedAt.toUTC().toString(Qt::ISODateWithMs);
        return {};
    case Qt::DisplayRole:
        break;
    default:
        return {};
    }
    switch (index.column()) {
    case Node:
        return n.self ? tr("%1 (this node)").arg(n.id) : n.id;
    case Address:
        return n.address;
    case Clients:
        return n.clients;
    case Subscribers:
        return n.subscribers;
    case Started:
        return n.startedAt.isValid() ? n.startedAt.toLocalTime().toString(u"yyyy-MM-dd HH:mm:ss"_s)
                                     : QString();
    default:
        return {};
    }
}

QVariant NodeModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case Node:
        return tr("Node");
    case Address:
        return tr("Address");
    case Clients:
        return tr("Clients");
    case Subscribers:
        return tr("Subscribers");
    case Started:
        return tr("Started");
    default:
        return {};
    }
}

} // namespace Herald
