#include "scheduledview.h"

#include "messagemodel.h"
#include "restapi.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QPushButton>
#include <QStyle>
#include <QTableView>
#include <QUrl>
#include <QVBoxLayout>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Herald {

std::optional<ScheduledRow> ScheduledRow::fromJson(const QJsonObject &object)
{
    ScheduledRow e;
    e.handle = object.value("handle"_L1).toString();
    if (e.handle.isEmpty())
        return std::nullopt;
    e.at = QDateTime::fromString(object.value("at"_L1).toString(), Qt::ISODateWithMs);
    e.message = object.value("message"_L1).toObject();
    e.channel = object.value("channel"_L1).toString();
    if (e.channel.isEmpty())
        e.channel = e.message.value("channel"_L1).toString();
    return e;
}

Result<QList<ScheduledRow>, QString> ScheduledRow::listFromJson(const QJsonDocument &document)
{
    using R = Result<QList<ScheduledRow>, QString>;
    QJsonArray items;
    if (document.isArray())
        items = document.array();
    else if (document.object().value("scheduled"_L1).isArray())
        items = document.object().value("scheduled"_L1).toArray();
    else
        return R::failure(ScheduledModel::tr("the server's answer has no list of scheduled messages"));
    QList<ScheduledRow> entries;
    for (const QJsonValue &item : std::as_const(items)) {
        if (auto e = fromJson(item.toObject()))
            entries.append(std::move(*e));
    }
    std::stable_sort(entries.begin(), entries.end(),
                     [](const ScheduledRow &a, const ScheduledRow &b) { return a.at < b.at; });
    return entries;
}

ScheduledModel::ScheduledModel(QObject *parent)
    : QAbstractTableModel(parent)
{}

void ScheduledModel::reset(const QList<ScheduledRow> &entries)
{
    beginResetModel();
    m_rows = entries;
    endResetModel();
}

bool ScheduledModel::remove(const QString &handle)
{
    const int row = rowOf(handle);
    if (row < 0)
        return false;
    beginRemoveRows({}, row, row);
    m_rows.removeAt(row);
    endRemoveRows();
    return true;
}

int ScheduledModel::rowOf(const QString &handle) const
{
    for (int i = 0; i < m_rows.size(); ++i) {
        if (m_rows.at(i).handle == handle)
            return i;
    }
    return -1;
}

int ScheduledModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int ScheduledModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ScheduledModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() < 0 || index.row() >= m_rows.size())
        return {};
    const ScheduledRow &e = m_rows.at(index.row());
    if (role == HandleRole)
        return e.handle;
    if (role == Qt::ToolTipRole)
        return QString::fromUtf8(QJsonDocument(e.message).toJson(QJsonDocument::Compact));
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case At:
        return e.at.isValid() ? e.at.toLocalTime().toString(u"yyyy-MM-dd HH:mm:ss"_s) : QString();
    case Channel:
        return e.channel;
    case Priority: {
        const int p = e.message.value("priority"_L1).toInt(NotificationFields::DefaultPriority);
        return MessageModel::priorityName(p);
    }
    case Text: {
        const QString title = e.message.value("title"_L1).toString();
        const QString text = e.message.value("message"_L1).toString();
        if (title.isEmpty() || text.isEmpty())
            return title.isEmpty() ? text : title;
        return QString(title % u": "_s % text);
    }
    case Handle:
        return e.handle;
    default:
        return {};
    }
}

QVariant ScheduledModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case At:
        return tr("Due");
    case Channel:
        return tr("Channel");
    case Priority:
        return tr("Priority");
    case Text:
        return tr("Text");
    case Handle:
        return tr("Handle");
    default:
        return {};
    }
}

ScheduledView::ScheduledView(RestApi *rest, QWidget *parent)
    : QWidget(parent)
    , m_rest(rest)
    , m_model(new ScheduledModel(this))
    , m_table(new QTableView(this))
    , m_refresh(new QPushButton(style()->standardIcon(QStyle::SP_BrowserReload), tr("Refresh"), this))
    , m_cancel(new QPushButton(style()->standardIcon(QStyle::SP_DialogCancelButton), tr("Cancel"), this))
    , m_status(new QLabel(this))
{
    setObjectName(u"scheduledView"_s);
    m_table->setObjectName(u"scheduledTable"_s);
    m_table->setModel(m_model);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setColumnWidth(ScheduledModel::At, 150);
    m_table->setColumnWidth(ScheduledModel::Channel, 140);
    m_table->setColumnWidth(ScheduledModel::Priority, 90);
    m_table->setColumnWidth(ScheduledModel::Text, 320);
    m_refresh->setObjectName(u"scheduledRefresh"_s);
    m_cancel->setObjectName(u"scheduledCancel"_s);
    m_cancel->setToolTip(tr("Cancel the selected scheduled messages: they will not be delivered"));
    m_status->setObjectName(u"scheduledStatus"_s);
    m_status->setTextFormat(Qt::PlainText);
    m_status->setWordWrap(true);

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_status, 1);
    bar->addWidget(m_refresh);
    bar->addWidget(m_cancel);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_table, 1);
    layout->addLayout(bar);

    connect(m_refresh, &QPushButton::clicked, this, &ScheduledView::refresh);
    connect(m_cancel, &QPushButton::clicked, this, &ScheduledView::cancelSelected);
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &ScheduledView::updateButtons);
    connect(m_model, &QAbstractItemModel::modelReset, this, &ScheduledView::updateButtons);
    // Delivered ones drop off the list by themselves: while shown, the list is asked for again now and then.
    m_refreshTimer.setInterval(RefreshInterval);
    connect(&m_refreshTimer, &QTimer::timeout, this, &ScheduledView::refresh);
    updateButtons();
}

void ScheduledView::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    refresh();
    m_refreshTimer.start();
}

void ScheduledView::hideEvent(QHideEvent *event)
{
    m_refreshTimer.stop();
    QWidget::hideEvent(event);
}

void ScheduledView::refresh()
{
    const quint64 number = ++m_listRequest;
    const QString query = u"limit=%1"_s.arg(ListLimit);
    m_rest->send(
        "GET", u"/api/scheduled"_s, std::nullopt, this,
        [this, number](const RestReply &reply) {
            if (number != m_listRequest)
                return;
            if (!reply.ok()) {
                setStatus(tr("Could not list the scheduled messages: %1").arg(reply.errorText()), true);
            } else if (auto entries = ScheduledRow::listFromJson(reply.document); !entries) {
                setStatus(tr("Could not list the scheduled messages: %1").arg(entries.error()), true);
            } else {
                m_model->reset(*entries);
                QString text = entries->isEmpty()
                                   ? tr("Nothing is scheduled.")
                                   : tr("%n message(s) scheduled.", nullptr, int(entries->size()));
                if (reply.object().value("has_more"_L1).toBool())
                    text = tr("%1 More are due later than these.").arg(text);
                setStatus(text, false);
            }
            Q_EMIT refreshed();
        },
        query);
}

void ScheduledView::cancelSelected()
{
    QStringList handles;
    const QModelIndexList rows = m_table->selectionModel()->selectedRows();
    for (const QModelIndex &index : rows)
        handles.append(index.data(ScheduledModel::HandleRole).toString());
    for (const QString &handle : std::as_const(handles))
        cancel(handle);
}

void ScheduledView::cancel(const QString &handle)
{
    const QString path = u"/api/scheduled/"_s + QString::fromLatin1(QUrl::toPercentEncoding(handle));
    m_rest->send("DELETE", path, std::nullopt, this, [this, handle](const RestReply &reply) {
        if (reply.ok()) {
            m_model->remove(handle);
            setStatus(tr("Cancelled %1: it will not be delivered.").arg(handle), false);
            Q_EMIT cancelled(handle);
        } else if (reply.status == 404) {
            // Delivered, or cancelled by someone else, since the list was read.
            m_model->remove(handle);
            setStatus(tr("%1 is no longer scheduled (already delivered or cancelled).").arg(handle), true);
        } else {
            setStatus(tr("Could not cancel %1: %2").arg(handle, reply.errorText()), true);
        }
    });
}

QString ScheduledView::statusText() const
{
    return m_status->text();
}

void ScheduledView::setStatus(const QString &text, bool error)
{
    m_status->setText(text);
    m_status->setStyleSheet(error ? u"color: #cf222e;"_s : QString());
}

void ScheduledView::updateButtons()
{
    m_cancel->setEnabled(m_table->selectionModel()->hasSelection());
}

} // namespace Herald
