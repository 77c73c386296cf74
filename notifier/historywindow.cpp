#include "historywindow.h"

#include "historymodel.h"
#include "notificationcenter.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLineEdit>
#include <QPushButton>
#include <QTreeView>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace Herald {

HistoryWindow::HistoryWindow(NotificationCenter *center, QWidget *parent)
    : QWidget(parent)
    , m_center(center)
    , m_filter(new HistoryFilter(this))
    , m_view(new QTreeView(this))
    , m_channel(new QComboBox(this))
    , m_priority(new QComboBox(this))
    , m_search(new QLineEdit(this))
    , m_markRead(new QPushButton(tr("Mark read"), this))
    , m_markAllRead(new QPushButton(tr("Mark all read"), this))
{
    m_filter->setSourceModel(center->history());
    m_view->setModel(m_filter);
    m_view->setRootIsDecorated(false);
    m_view->setUniformRowHeights(true);
    m_view->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_view->setAlternatingRowColors(true);
    m_view->header()->setStretchLastSection(true);
    m_view->setColumnWidth(HistoryModel::TimeColumn, 130);
    m_view->setColumnWidth(HistoryModel::ChannelColumn, 110);
    m_view->setColumnWidth(HistoryModel::PriorityColumn, 60);

    m_priority->addItem(tr("Any priority"), 0);
    for (int p = 2; p <= 5; ++p)
        m_priority->addItem(p == 5 ? tr("Urgent only") : tr("Priority %1 and up").arg(p), p);
    m_search->setPlaceholderText(tr("Search"));
    m_search->setClearButtonEnabled(true);

    auto *filters = new QHBoxLayout;
    filters->addWidget(m_channel, 1);
    filters->addWidget(m_priority, 1);
    filters->addWidget(m_search, 2);
    auto *buttons = new QHBoxLayout;
    buttons->addStretch(1);
    buttons->addWidget(m_markRead);
    buttons->addWidget(m_markAllRead);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(filters);
    layout->addWidget(m_view, 1);
    layout->addLayout(buttons);

    connect(m_channel, &QComboBox::currentIndexChanged, this,
            [this] { m_filter->setChannel(m_channel->currentData().toString()); });
    connect(m_priority, &QComboBox::currentIndexChanged, this,
            [this] { m_filter->setMinPriority(m_priority->currentData().toInt()); });
    connect(m_search, &QLineEdit::textChanged, m_filter, &HistoryFilter::setSearchText);
    connect(m_markRead, &QPushButton::clicked, this, &HistoryWindow::markSelectedRead);
    connect(m_markAllRead, &QPushButton::clicked, m_center, &NotificationCenter::markAllReadByUser);
    connect(m_view, &QTreeView::doubleClicked, this, [this](const QModelIndex &index) {
        m_center->markReadByUser({index.data(HistoryModel::IdRole).toLongLong()});
    });
    connect(center->history(), &HistoryModel::channelsChanged, this, &HistoryWindow::refreshChannels);
    connect(center->history(), &HistoryModel::unreadCountChanged, this, &HistoryWindow::updateTitle);
    refreshChannels();
    updateTitle(center->history()->unreadCount());
    resize(760, 460);
}

void HistoryWindow::markSelectedRead()
{
    QList<qint64> ids;
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    for (const QModelIndex &index : rows)
        ids.append(index.data(HistoryModel::IdRole).toLongLong());
    m_center->markReadByUser(ids);
}

void HistoryWindow::refreshChannels()
{
    const QString current = m_channel->currentData().toString();
    const QSignalBlocker blocker(m_channel);
    m_channel->clear();
    m_channel->addItem(tr("All channels"), QString());
    for (const QString &channel : m_center->history()->channels())
        m_channel->addItem(channel, channel);
    const int index = m_channel->findData(current);
    m_channel->setCurrentIndex(index < 0 ? 0 : index);
    if (index < 0)
        m_filter->setChannel({});
}

void HistoryWindow::updateTitle(int unread)
{
    setWindowTitle(unread > 0 ? tr("Herald notifications (%1 unread)").arg(unread)
                              : tr("Herald notifications"));
}

} // namespace Herald
