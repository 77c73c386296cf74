#include "mainwindow.h"

#include "appicon.h"
#include "clientmodel.h"
#include "composepanel.h"
#include "dashboardlogging.h"
#include "helplinks.h"
#include "messagemodel.h"
#include "nodemodel.h"
#include "restapi.h"
#include "scheduledview.h"
#include "settings.h"
#include "settingsdialog.h"
#include "soundplayer.h"
#include "traynotifier.h"

#include <QAction>
#include <QApplication>
#include <QChart>
#include <QChartView>
#include <QCloseEvent>
#include <QDesktopServices>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QKeySequence>
#include <QLabel>
#include <QLegendMarker>
#include <QLineEdit>
#include <QLineSeries>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QTableView>
#include <QToolBar>
#include <QVBoxLayout>
#include <QValueAxis>

#include <algorithm>
#include <cmath>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
constexpr std::chrono::milliseconds FlushInterval{100};

struct SeriesStyle
{
    const char *name;
    QColor color;
    qreal width;
    Qt::PenStyle style;
};
// Counters and chart share the colours, so a number and its curve are found together. Clients, Subscribers
// and Channels are often equal, so their lines are drawn in this order with a wide band under a thin line
// under a dashed one: all three stay visible when they coincide.
const std::array<SeriesStyle, 4> seriesStyles = {
    {{QT_TRANSLATE_NOOP("Herald::MainWindow", "Clients"), QColor(0x1f6feb), 5.0, Qt::SolidLine},
     {QT_TRANSLATE_NOOP("Herald::MainWindow", "Subscribers"), QColor(0x2da44e), 2.0, Qt::SolidLine},
     {QT_TRANSLATE_NOOP("Herald::MainWindow", "Channels"), QColor(0xbf8700), 2.0, Qt::DashLine},
     {QT_TRANSLATE_NOOP("Herald::MainWindow", "Messages/s"), QColor(0x8250df), 2.0, Qt::SolidLine}}};
constexpr std::size_t RateSeries = 3;

// A series' pen, in its colour or, while the data is not live, faded towards white: still readable, plainly
// not current. A pale colour rather than opacity, since Qt Charts strokes a line piece by piece and a
// translucent wide band would darken where its pieces overlap.
QPen seriesPen(std::size_t i, bool live)
{
    const SeriesStyle &style = seriesStyles[i];
    QColor color = style.color;
    if (!live) {
        constexpr float keep = 0.3f;
        color = QColor::fromRgbF(1.0f - keep * (1.0f - color.redF()), 1.0f - keep * (1.0f - color.greenF()),
                                 1.0f - keep * (1.0f - color.blueF()));
    }
    QPen pen(color);
    pen.setWidthF(style.width);
    pen.setStyle(style.style);
    // Round caps and joins keep the wide band free of seams where its pieces meet; a dashed line's dashes
    // stay square so they read as dashes.
    pen.setCapStyle(style.style == Qt::SolidLine ? Qt::RoundCap : Qt::FlatCap);
    pen.setJoinStyle(Qt::RoundJoin);
    return pen;
}

QLabel *counterValue(const QString &objectName, const QColor &color, QWidget *parent)
{
    auto *label = new QLabel(u"0"_s, parent);
    label->setObjectName(objectName);
    QFont f = label->font();
    f.setPointSizeF(f.pointSizeF() * 2.2);
    f.setBold(true);
    label->setFont(f);
    label->setAlignment(Qt::AlignCenter);
    // A palette rather than a style sheet: a style sheet's colour would stay when the counters are disabled,
    // and stale numbers must grey out.
    QPalette palette = label->palette();
    palette.setColor(QPalette::Active, QPalette::WindowText, color);
    palette.setColor(QPalette::Inactive, QPalette::WindowText, color);
    label->setPalette(palette);
    return label;
}

// An even step for the time axis: about five ticks over `span` seconds, on round numbers of seconds.
double timeStep(double span)
{
    for (double step : {0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0}) {
        if (span / step <= 6.0)
            return step;
    }
    return 1800.0;
}

double niceCeiling(double value)
{
    if (value <= 5)
        return 5;
    const double magnitude = std::pow(10.0, std::floor(std::log10(value)));
    for (double step : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        if (step * magnitude >= value)
            return step * magnitude;
    }
    return 10 * magnitude;
}
} // namespace

MainWindow::MainWindow(Settings *settings, QWidget *parent)
    : QMainWindow(parent)
    , m_settings(settings)
    , m_admin(new AdminClient(this))
    , m_messages(new MessageModel(this))
    , m_messageFilter(new MessageFilterModel(this))
    , m_clients(new ClientModel(this))
    , m_clientSort(new QSortFilterProxyModel(this))
    , m_nodes(new NodeModel(this))
    , m_sound(new SoundPlayer(SoundPlayer::defaultSource(), this))
    , m_tray(new TrayNotifier(appIcon(), this))
{
    setObjectName(u"heraldDashboard"_s);
    setWindowTitle(tr("Herald Dashboard"));
    setWindowIcon(appIcon());
    m_messageFilter->setSourceModel(m_messages);
    m_clientSort->setSourceModel(m_clients);
    m_clientSort->setSortCaseSensitivity(Qt::CaseInsensitive);

    buildActions();

    // REST calls go where the feed goes, with its token and the operator's name.
    m_rest = new RestApi(
        [this] {
            return RestEndpoint{m_admin->serverUrl(), m_admin->token(), m_admin->clientId()};
        },
        this);
    m_compose = new ComposePanel(m_rest);
    m_scheduled = new ScheduledView(m_rest);
    connect(m_compose, &ComposePanel::scheduled, m_scheduled, &ScheduledView::refresh);

    auto *top = new QSplitter(Qt::Horizontal);
    top->addWidget(buildChart());
    top->addWidget(m_compose);
    top->setStretchFactor(0, 1);
    top->setStretchFactor(1, 0);
    top->setSizes({900, 380});

    m_tabs = new QTabWidget;
    m_tabs->setObjectName(u"tabs"_s);
    m_tabs->addTab(buildMessages(), tr("Messages"));
    m_tabs->addTab(buildClients(), tr("Clients"));
    m_tabs->addTab(m_scheduled, tr("Scheduled"));
    m_nodesTab = m_tabs->addTab(buildNodes(), tr("Nodes"));

    auto *split = new QSplitter(Qt::Vertical);
    split->addWidget(top);
    split->addWidget(m_tabs);
    split->setStretchFactor(0, 0);
    split->setStretchFactor(1, 1);
    split->setSizes({330, 420});

    auto *central = new QWidget;
    auto *layout = new QVBoxLayout(central);
    layout->addWidget(buildClusterWarning());
    layout->addWidget(buildStaleBanner());
    layout->addWidget(buildCounters());
    layout->addWidget(split, 1);
    setCentralWidget(central);

    m_stateLabel = new QLabel(tr("Not connected"));
    m_stateLabel->setObjectName(u"connectionState"_s);
    m_serverLabel = new QLabel;
    m_serverLabel->setObjectName(u"serverDescription"_s);
    m_clusterLabel = new QLabel;
    m_clusterLabel->setObjectName(u"clusterState"_s);
    statusBar()->addWidget(m_stateLabel, 1);
    statusBar()->addPermanentWidget(m_clusterLabel);
    statusBar()->addPermanentWidget(m_serverLabel);

    // Feed → models and counters.
    connect(m_admin, &AdminClient::stateChanged, this, &MainWindow::onStateChanged);
    connect(m_admin, &AdminClient::snapshotReceived, this, &MainWindow::onSnapshot);
    connect(m_admin, &AdminClient::countsChanged, this, [this](int clients, int subscribers) {
        m_clientCount = clients;
        m_subscriberCount = subscribers;
        updateCounters();
    });
    connect(m_admin, &AdminClient::statsReceived, this, [this](int channels, const QJsonObject &stats) {
        m_channelCount = channels;
        if (stats.contains("clients"_L1))
            m_clientCount = stats.value("clients"_L1).toInt();
        if (stats.contains("subscribers"_L1))
            m_subscriberCount = stats.value("subscribers"_L1).toInt();
        updateCounters();
        m_nodes->updateFromStats(stats);
    });
    connect(m_admin, &AdminClient::nodeCountReceived, this, &MainWindow::onNodeCount);
    connect(m_nodes, &NodeModel::clusterChanged, this, &MainWindow::updateCluster);
    connect(m_admin, &AdminClient::messageReceived, this, &MainWindow::onMessage);
    connect(m_admin, &AdminClient::clientConnected, m_clients, &ClientModel::addClient);
    connect(m_admin, &AdminClient::clientDisconnected, m_clients, &ClientModel::removeClient);
    connect(m_admin, &AdminClient::clientSubscribed, m_clients, &ClientModel::addSubscription);
    connect(m_admin, &AdminClient::clientUnsubscribed, m_clients, &ClientModel::removeSubscription);
    connect(m_admin, &AdminClient::actionSucceeded, this, &MainWindow::onActionSucceeded);
    connect(m_admin, &AdminClient::actionFailed, this, &MainWindow::onActionFailed);
    connect(m_clients, &ClientModel::channelCountChanged, this, [this](int channels) {
        m_channelCount = channels;
        updateCounters();
    });
    connect(m_clients, &QAbstractItemModel::rowsInserted, this, &MainWindow::updateClientsTab);
    connect(m_clients, &QAbstractItemModel::rowsRemoved, this, &MainWindow::updateClientsTab);
    connect(m_clients, &QAbstractItemModel::modelReset, this, &MainWindow::updateClientsTab);

    m_flushTimer.setSingleShot(true);
    m_flushTimer.setInterval(FlushInterval);
    connect(&m_flushTimer, &QTimer::timeout, this, &MainWindow::flushMessages);
    m_sampleTimer.setInterval(std::chrono::seconds(1));
    connect(&m_sampleTimer, &QTimer::timeout, this, &MainWindow::takeSample);
    m_sampleTimer.start();

    auto *trayMenu = new QMenu(this);
    trayMenu->addAction(tr("Show Dashboard"), this, &MainWindow::showFromTray);
    trayMenu->addAction(m_muteAction);
    trayMenu->addSeparator();
    trayMenu->addAction(m_quitAction);
    m_tray->setContextMenu(trayMenu);
    m_tray->setToolTip(tr("Herald Dashboard"));
    connect(m_tray, &TrayNotifier::activated, this, &MainWindow::showFromTray);

    m_admin->setClientId(m_settings->operatorName());
    m_sound->setVolume(m_settings->soundVolume());
    m_muteAction->setChecked(m_settings->soundMuted());
    setMuted(m_settings->soundMuted());

    resize(1280, 820);
    if (!m_settings->windowGeometry().isEmpty())
        restoreGeometry(m_settings->windowGeometry());
    updateCounters();
    updateCluster();
    updateMessageCount();
    setLive(false);
    takeSample();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildActions()
{
    QStyle *s = style();
    m_settingsAction =
        new QAction(s->standardIcon(QStyle::SP_FileDialogDetailedView), tr("&Settings…"), this);
    m_settingsAction->setObjectName(u"settingsAction"_s);
    connect(m_settingsAction, &QAction::triggered, this, &MainWindow::openSettings);
    m_reconnectAction = new QAction(s->standardIcon(QStyle::SP_BrowserReload), tr("&Reconnect"), this);
    m_reconnectAction->setObjectName(u"reconnectAction"_s);
    m_reconnectAction->setShortcut(QKeySequence::Refresh);
    connect(m_reconnectAction, &QAction::triggered, m_admin, &AdminClient::open);
    m_muteAction = new QAction(s->standardIcon(QStyle::SP_MediaVolume), tr("&Mute"), this);
    m_muteAction->setObjectName(u"muteAction"_s);
    m_muteAction->setCheckable(true);
    m_muteAction->setShortcut(Qt::CTRL | Qt::Key_M);
    connect(m_muteAction, &QAction::toggled, this, &MainWindow::setMuted);
    m_clearAction = new QAction(s->standardIcon(QStyle::SP_DialogResetButton), tr("&Clear Messages"), this);
    m_clearAction->setObjectName(u"clearAction"_s);
    connect(m_clearAction, &QAction::triggered, this, [this] {
        m_messages->clear();
        updateMessageCount();
    });
    m_quitAction = new QAction(tr("&Quit"), this);
    m_quitAction->setShortcut(QKeySequence::Quit);
    connect(m_quitAction, &QAction::triggered, this, &QWidget::close);

    QMenu *file = menuBar()->addMenu(tr("&File"));
    file->addAction(m_settingsAction);
    file->addSeparator();
    file->addAction(m_quitAction);
    QMenu *server = menuBar()->addMenu(tr("&Server"));
    server->addAction(m_reconnectAction);
    server->addAction(m_clearAction);
    server->addAction(m_muteAction);

    // Help: the documentation as local files (see findDocumentation), the watched server's own page, About.
    auto docAction = [this](const QString &text, const QString &sourcePath, const char *objectName) {
        auto *action = new QAction(text, this);
        action->setObjectName(QString::fromLatin1(objectName));
        const QString path = findDocumentation(sourcePath);
        if (path.isEmpty()) {
            action->setEnabled(false);
            action->setToolTip(tr("%1 is not installed").arg(QFileInfo(sourcePath).fileName()));
        } else {
            action->setData(path);
            action->setToolTip(path);
            connect(action, &QAction::triggered, this,
                    [path] { QDesktopServices::openUrl(QUrl::fromLocalFile(path)); });
        }
        return action;
    };
    m_readmeAction = docAction(tr("&README"), u"README.md"_s, "readmeAction");
    m_protocolAction = docAction(tr("&Protocol Reference"), u"docs/protocol.md"_s, "protocolAction");
    m_webPageAction = new QAction(tr("The Server's &Web Page"), this);
    m_webPageAction->setObjectName(u"webPageAction"_s);
    connect(m_webPageAction, &QAction::triggered, this, [this] {
        if (!m_admin->serverUrl().isEmpty())
            QDesktopServices::openUrl(AdminClient::httpUrl(m_admin->serverUrl(), u"/"_s));
    });
    m_aboutAction = new QAction(tr("&About Herald Dashboard"), this);
    m_aboutAction->setObjectName(u"aboutAction"_s);
    connect(m_aboutAction, &QAction::triggered, this, &MainWindow::showAbout);
    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->addAction(m_readmeAction);
    help->addAction(m_protocolAction);
    help->addAction(m_webPageAction);
    help->addSeparator();
    help->addAction(m_aboutAction);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);

    QToolBar *bar = addToolBar(tr("Main"));
    bar->setObjectName(u"mainToolBar"_s);
    bar->setMovable(false);
    bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    bar->addAction(m_reconnectAction);
    bar->addAction(m_muteAction);
    bar->addAction(m_clearAction);
    bar->addAction(m_settingsAction);
}

QWidget *MainWindow::buildCounters()
{
    auto *box = new QFrame;
    box->setObjectName(u"counters"_s);
    box->setFrameShape(QFrame::StyledPanel);
    auto *row = new QHBoxLayout(box);
    QLabel **targets[] = {&m_clientsValue, &m_subscribersValue, &m_channelsValue, &m_rateValue};
    const char *names[] = {"clientsValue", "subscribersValue", "channelsValue", "rateValue"};
    for (std::size_t i = 0; i < seriesStyles.size(); ++i) {
        auto *cell = new QVBoxLayout;
        *targets[i] = counterValue(QString::fromLatin1(names[i]), seriesStyles[i].color, box);
        auto *caption = new QLabel(tr(seriesStyles[i].name), box);
        caption->setAlignment(Qt::AlignCenter);
        cell->addWidget(*targets[i]);
        cell->addWidget(caption);
        row->addLayout(cell, 1);
    }
    auto *cell = new QVBoxLayout;
    m_lastIdValue = counterValue(u"lastIdValue"_s, palette().color(QPalette::WindowText), box);
    auto *caption = new QLabel(tr("Last message id"), box);
    caption->setAlignment(Qt::AlignCenter);
    cell->addWidget(m_lastIdValue);
    cell->addWidget(caption);
    row->addLayout(cell, 1);
    m_countersBox = box;
    return box;
}

QWidget *MainWindow::buildChart()
{
    m_chart = new QChart;
    m_chart->setTitle(tr("Last minutes"));
    m_chart->legend()->setAlignment(Qt::AlignBottom);
    m_chart->setMargins(QMargins(4, 4, 4, 4));
    // Ticks at fixed round steps from 0 (see updateChart), never the range split in equal parts.
    m_axisX = new QValueAxis;
    m_axisX->setTitleText(tr("seconds ago"));
    m_axisX->setLabelFormat(u"%g"_s);
    m_axisX->setTickType(QValueAxis::TicksDynamic);
    m_axisX->setTickAnchor(0);
    m_axisX->setTickInterval(2);
    m_axisX->setRange(-10, 0);
    // Counts and a rate are different units: each has its own axis.
    m_axisCount = new QValueAxis;
    m_axisCount->setTitleText(tr("count"));
    m_axisCount->setLabelFormat(u"%g"_s);
    m_axisCount->setTickType(QValueAxis::TicksDynamic);
    m_axisCount->setTickAnchor(0);
    m_axisCount->setTickInterval(1);
    m_axisCount->setRange(0, 5);
    m_axisRate = new QValueAxis;
    m_axisRate->setTitleText(tr("messages/s"));
    m_axisRate->setLabelFormat(u"%g"_s);
    m_axisRate->setTickType(QValueAxis::TicksDynamic);
    m_axisRate->setTickAnchor(0);
    m_axisRate->setTickInterval(1);
    m_axisRate->setRange(0, 5);
    m_axisRate->setLabelsColor(seriesStyles[RateSeries].color);
    m_axisRate->setTitleBrush(seriesStyles[RateSeries].color);
    m_axisRate->setGridLineVisible(false);
    m_chart->addAxis(m_axisX, Qt::AlignBottom);
    m_chart->addAxis(m_axisCount, Qt::AlignLeft);
    m_chart->addAxis(m_axisRate, Qt::AlignRight);
    addSegmentSlot();
    auto *view = new QChartView(m_chart);
    view->setObjectName(u"chart"_s);
    view->setRenderHint(QPainter::Antialiasing);
    view->setMinimumHeight(220);
    return view;
}

void MainWindow::addSegmentSlot()
{
    const bool first = m_segments[0].isEmpty();
    for (std::size_t i = 0; i < m_segments.size(); ++i) {
        auto *series = new QLineSeries;
        series->setName(tr(seriesStyles[i].name));
        series->setPen(seriesPen(i, m_live));
        m_chart->addSeries(series);
        series->attachAxis(m_axisX);
        series->attachAxis(i == RateSeries ? m_axisRate : m_axisCount);
        // One legend entry per series, not per piece.
        if (!first) {
            const QList<QLegendMarker *> markers = m_chart->legend()->markers(series);
            for (QLegendMarker *marker : markers)
                marker->setVisible(false);
        }
        m_segments[i].append(series);
    }
}

QList<QLineSeries *> MainWindow::chartSegments(StatsHistory::Series series) const
{
    QList<QLineSeries *> out;
    for (QLineSeries *piece : m_segments[std::size_t(series)]) {
        if (piece->count() > 0)
            out.append(piece);
    }
    return out;
}

QWidget *MainWindow::buildMessages()
{
    auto *page = new QWidget;
    m_filter = new QLineEdit(page);
    m_filter->setObjectName(u"messageFilter"_s);
    m_filter->setPlaceholderText(tr("Filter by channel, sender, type or text…"));
    m_filter->setClearButtonEnabled(true);
    m_messageCount = new QLabel(page);
    m_messageCount->setObjectName(u"messageCount"_s);
    auto *clear = new QPushButton(tr("Clear"), page);
    connect(clear, &QPushButton::clicked, m_clearAction, &QAction::trigger);

    m_messageTable = new QTableView(page);
    m_messageTable->setObjectName(u"messageTable"_s);
    m_messageTable->setModel(m_messageFilter);
    m_messageTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_messageTable->setAlternatingRowColors(true);
    m_messageTable->setWordWrap(false);
    m_messageTable->verticalHeader()->hide();
    // Fixed row heights keep a table of thousands of live rows cheap to lay out.
    m_messageTable->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_messageTable->verticalHeader()->setDefaultSectionSize(m_messageTable->fontMetrics().height() + 6);
    m_messageTable->horizontalHeader()->setStretchLastSection(true);
    m_messageTable->setColumnWidth(MessageModel::Time, 110);
    m_messageTable->setColumnWidth(MessageModel::Channel, 140);
    m_messageTable->setColumnWidth(MessageModel::Sender, 150);
    m_messageTable->setColumnWidth(MessageModel::Type, 110);
    m_messageTable->setColumnWidth(MessageModel::Priority, 80);
    m_messageTable->setColumnWidth(MessageModel::State, 110);

    connect(m_filter, &QLineEdit::textChanged, this, [this](const QString &text) {
        m_messageFilter->setFilterText(text);
        updateMessageCount();
    });
    connect(m_messageFilter, &QAbstractItemModel::rowsInserted, this, &MainWindow::updateMessageCount);
    connect(m_messageFilter, &QAbstractItemModel::rowsRemoved, this, &MainWindow::updateMessageCount);
    connect(m_messageFilter, &QAbstractItemModel::modelReset, this, &MainWindow::updateMessageCount);

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_filter, 1);
    bar->addWidget(m_messageCount);
    bar->addWidget(clear);
    auto *layout = new QVBoxLayout(page);
    layout->addLayout(bar);
    layout->addWidget(m_messageTable, 1);
    return page;
}

QWidget *MainWindow::buildClients()
{
    auto *page = new QWidget;
    m_clientTable = new QTableView(page);
    m_clientTable->setObjectName(u"clientTable"_s);
    m_clientTable->setModel(m_clientSort);
    m_clientTable->setSortingEnabled(true);
    m_clientTable->sortByColumn(ClientModel::Since, Qt::AscendingOrder);
    m_clientTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_clientTable->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_clientTable->setAlternatingRowColors(true);
    m_clientTable->verticalHeader()->hide();
    m_clientTable->horizontalHeader()->setStretchLastSection(true);
    m_clientTable->setColumnWidth(ClientModel::Id, 260);
    m_clientTable->setColumnWidth(ClientModel::Transport, 170);
    m_clientTable->setColumnWidth(ClientModel::Since, 150);
    m_clientTable->setContextMenuPolicy(Qt::ActionsContextMenu);

    m_disconnectButton =
        new QPushButton(style()->standardIcon(QStyle::SP_DialogCancelButton), tr("Disconnect"), page);
    m_disconnectButton->setObjectName(u"disconnectButton"_s);
    m_disconnectButton->setEnabled(false);
    auto *disconnectAction = new QAction(tr("Disconnect"), m_clientTable);
    disconnectAction->setShortcut(QKeySequence::Delete);
    disconnectAction->setShortcutContext(Qt::WidgetShortcut);
    m_clientTable->addAction(disconnectAction);
    connect(disconnectAction, &QAction::triggered, this, &MainWindow::disconnectSelected);
    connect(m_disconnectButton, &QPushButton::clicked, this, &MainWindow::disconnectSelected);
    connect(m_clientTable->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            [this] { m_disconnectButton->setEnabled(m_clientTable->selectionModel()->hasSelection()); });

    auto *hint = new QLabel(tr("A disconnected client is closed with code 4001 and may reconnect."), page);
    hint->setEnabled(false);
    auto *bar = new QHBoxLayout;
    bar->addWidget(hint, 1);
    bar->addWidget(m_disconnectButton);
    auto *layout = new QVBoxLayout(page);
    layout->addWidget(m_clientTable, 1);
    layout->addLayout(bar);
    return page;
}

QWidget *MainWindow::buildNodes()
{
    auto *page = new QWidget;
    m_nodesSummary = new QLabel(page);
    m_nodesSummary->setObjectName(u"nodesSummary"_s);
    m_nodeTable = new QTableView(page);
    m_nodeTable->setObjectName(u"nodeTable"_s);
    m_nodeTable->setModel(m_nodes);
    m_nodeTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_nodeTable->setAlternatingRowColors(true);
    m_nodeTable->verticalHeader()->hide();
    m_nodeTable->horizontalHeader()->setStretchLastSection(true);
    m_nodeTable->setColumnWidth(NodeModel::Node, 300);
    m_nodeTable->setColumnWidth(NodeModel::Address, 200);
    m_nodeTable->setColumnWidth(NodeModel::Clients, 100);
    m_nodeTable->setColumnWidth(NodeModel::Subscribers, 100);
    auto *layout = new QVBoxLayout(page);
    layout->addWidget(m_nodesSummary);
    layout->addWidget(m_nodeTable, 1);
    return page;
}

QWidget *MainWindow::buildClusterWarning()
{
    // Above the counters rather than in the Nodes tab, so it is seen whatever tab is open.
    auto *box = new QFrame;
    box->setObjectName(u"clusterWarning"_s);
    box->setStyleSheet(u"QFrame#clusterWarning { background: #fff8c5; border: 1px solid #d4a72c;"
                       " border-radius: 4px; } QLabel { color: #7d4e00; }"_s);
    auto *icon = new QLabel(box);
    const int size = style()->pixelMetric(QStyle::PM_SmallIconSize);
    icon->setPixmap(style()->standardIcon(QStyle::SP_MessageBoxWarning).pixmap(size, size));
    m_clusterWarningText = new QLabel(box);
    m_clusterWarningText->setObjectName(u"clusterWarningText"_s);
    m_clusterWarningText->setWordWrap(true);
    QFont f = m_clusterWarningText->font();
    f.setBold(true);
    m_clusterWarningText->setFont(f);
    auto *row = new QHBoxLayout(box);
    row->setContentsMargins(8, 4, 8, 4);
    row->addWidget(icon);
    row->addWidget(m_clusterWarningText, 1);
    box->hide();
    m_clusterWarning = box;
    return box;
}

QWidget *MainWindow::buildStaleBanner()
{
    // Says in words what the greyed counters, faded chart and greyed client list mean.
    auto *box = new QFrame;
    box->setObjectName(u"staleBanner"_s);
    box->setStyleSheet(u"QFrame#staleBanner { background: #eaeef2; border: 1px solid #afb8c1;"
                       " border-radius: 4px; } QLabel { color: #24292f; }"_s);
    auto *icon = new QLabel(box);
    const int size = style()->pixelMetric(QStyle::PM_SmallIconSize);
    icon->setPixmap(style()->standardIcon(QStyle::SP_MessageBoxInformation).pixmap(size, size));
    m_staleText = new QLabel(box);
    m_staleText->setObjectName(u"staleBannerText"_s);
    m_staleText->setWordWrap(true);
    QFont f = m_staleText->font();
    f.setBold(true);
    m_staleText->setFont(f);
    auto *row = new QHBoxLayout(box);
    row->setContentsMargins(8, 4, 8, 4);
    row->addWidget(icon);
    row->addWidget(m_staleText, 1);
    box->hide();
    m_staleBanner = box;
    return box;
}

void MainWindow::watch(const QUrl &feedUrl, const QString &token)
{
    // Another server's nodes are not this one's; its first stats reply says what it is.
    m_nodes->clear();
    m_countedNodes = -1;
    m_admin->setServerUrl(feedUrl);
    m_admin->setToken(token);
    // Only the server: the platform adds the application's display name ("… — Herald Dashboard").
    setWindowTitle(m_admin->serverUrl().toDisplayString(QUrl::RemoveQuery));
    m_admin->open();
}

void MainWindow::setServerDescription(const QString &text)
{
    m_serverLabel->setText(text);
}

void MainWindow::setSampleInterval(std::chrono::milliseconds interval)
{
    m_sampleTimer.setInterval(interval);
}

bool MainWindow::saveScreenshot(const QString &fileName)
{
    flushMessages();
    return grab().save(fileName, "PNG");
}

bool MainWindow::isNotification(const Message &message)
{
    return message.type == u"notify"_s || message.type == u"notification"_s;
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    m_settings->setWindowGeometry(saveGeometry());
    m_settings->sync();
    QMainWindow::closeEvent(event);
}

void MainWindow::onStateChanged(AdminClient::State state, const QString &text)
{
    const bool connected = state == AdminClient::State::Connected;
    m_stateLabel->setText(text);
    QString color;
    switch (state) {
    case AdminClient::State::Connected:
        color = u"#1a7f37"_s;
        break;
    case AdminClient::State::Refused:
        color = u"#cf222e"_s;
        break;
    case AdminClient::State::Reconnecting:
        color = u"#9a6700"_s;
        break;
    default:
        break;
    }
    m_stateLabel->setStyleSheet(color.isEmpty() ? QString() : u"color: %1;"_s.arg(color));
    // Live again only with the next snapshot, which replaces everything shown.
    if (!connected)
        setLive(false);
    if (connected) {
        // Ask at once rather than at the first periodic request, so a cluster's nodes show without delay.
        m_countedNodes = -1;
        m_admin->requestStats();
    }
    m_compose->setSendEnabled(connected);
    m_disconnectButton->setEnabled(connected && m_clientTable->selectionModel()->hasSelection());
    m_tray->setToolTip(tr("Herald Dashboard: %1").arg(text));
    if (state == AdminClient::State::Refused && !isVisible())
        m_tray->notify(tr("Herald Dashboard"), text);
}

void MainWindow::onSnapshot(const AdminSnapshot &snapshot)
{
    m_clientCount = snapshot.clients;
    m_subscriberCount = snapshot.subscribers;
    // Taken as it is, never max()ed with the one held: after a reset of the server's data (another epoch) the
    // old figure belongs to another history and would hide the new one until its ids caught up.
    if (!m_epoch.isEmpty() && snapshot.epoch != m_epoch)
        qCInfo(lcDashboard).noquote() << "the server's history was reset: epoch" << snapshot.epoch;
    m_epoch = snapshot.epoch;
    m_lastId = snapshot.lastId;
    m_lastIdValue->setToolTip(m_epoch.isEmpty() ? QString() : tr("History epoch %1").arg(m_epoch));
    m_clients->reset(snapshot.connections);
    m_channelCount = snapshot.channels;
    updateCounters();
    setLive(true);
}

void MainWindow::setLive(bool live)
{
    if (!live && m_live) {
        // The last frame, not the moment the loss was noticed: a silent connection is only called dead after
        // three stats intervals.
        const QDateTime lastFrame = m_admin->lastFrameAt();
        m_staleSince = lastFrame.isValid() ? lastFrame : QDateTime::currentDateTime();
        m_history.markGap();
    }
    m_live = live;
    // Stale numbers are greyed rather than zeroed: they were true a moment ago, and the banner says when.
    const bool stale = !live && m_staleSince.isValid();
    if (stale) {
        const QDateTime since = m_staleSince.toLocalTime();
        const QString when = since.date() == QDate::currentDate() ? since.toString(u"HH:mm:ss"_s)
                                                                  : since.toString(u"yyyy-MM-dd HH:mm:ss"_s);
        m_staleText->setText(
            tr("Disconnected — showing data from %1. The counters, chart and client list are not live.")
                .arg(when));
    }
    m_staleBanner->setVisible(stale);
    m_countersBox->setEnabled(live);
    m_nodeTable->setEnabled(live);
    m_clients->setStaleSince(stale ? m_staleSince : QDateTime());
    m_chart->setTitle(stale ? tr("Last minutes (not live)") : tr("Last minutes"));
    for (std::size_t i = 0; i < m_segments.size(); ++i) {
        for (QLineSeries *piece : std::as_const(m_segments[i]))
            piece->setPen(seriesPen(i, live));
    }
    updateClientsTab();
}

void MainWindow::updateClientsTab()
{
    const int n = m_clients->rowCount();
    m_tabs->setTabText(1, m_clients->isStale() ? tr("Clients (%1, not live)").arg(n)
                                               : tr("Clients (%1)").arg(n));
}

void MainWindow::onMessage(const Message &message)
{
    m_history.noteMessages();
    m_lastId = qMax(m_lastId, message.id);
    m_pendingMessages.append(message);
    if (!m_flushTimer.isActive())
        m_flushTimer.start();
    // Quiet ones (the recipient's quiet hours) and ones already expired neither ring nor pop up.
    const QDateTime now = QDateTime::currentDateTimeUtc();
    if (isNotification(message) && !message.notification.quiet && !message.notification.isExpired(now)) {
        m_sound->play();
        if (!isVisible() || isMinimized()) {
            const QString title =
                !message.title.isEmpty() ? message.title : tr("%1 on %2").arg(message.type, message.channel);
            m_tray->notify(title, message.message);
        }
    }
}

void MainWindow::flushMessages()
{
    m_flushTimer.stop();
    if (m_pendingMessages.isEmpty())
        return;
    m_messages->addMessages(m_pendingMessages);
    m_pendingMessages.clear();
    m_lastIdValue->setText(QString::number(m_lastId));
}

void MainWindow::takeSample()
{
    const QDateTime now = QDateTime::currentDateTimeUtc();
    // While the feed is down nothing is sampled: the last values would be drawn on as if still true. The
    // time axis goes on, so the gap grows.
    if (m_live) {
        const StatsSample &s =
            m_history.sample(now, m_clientCount, m_subscriberCount, m_channelCount, m_sampleTimer.interval());
        m_rateValue->setText(QString::number(s.messagesPerSecond, 'f', s.messagesPerSecond < 10 ? 1 : 0));
    }
    updateChart(now.toMSecsSinceEpoch());
}

void MainWindow::updateChart(qint64 nowMs)
{
    for (std::size_t i = 0; i < m_segments.size(); ++i) {
        const QList<QList<QPointF>> pieces = m_history.segments(StatsHistory::Series(i), nowMs);
        while (m_segments[i].size() < pieces.size())
            addSegmentSlot();
        for (qsizetype k = 0; k < m_segments[i].size(); ++k)
            m_segments[i][k]->replace(k < pieces.size() ? pieces[k] : QList<QPointF>());
    }
    // The axis spans what is known, up to the whole window, so a young session is not a sliver at the
    // right edge; it ends on a tick, and the ticks are round numbers of seconds from now.
    const double interval = double(m_sampleTimer.interval()) / 1000.0;
    const double window = double(m_history.capacity()) * interval;
    const double known =
        m_history.isEmpty() ? 0.0 : double(nowMs - m_history.samples().front().time) / 1000.0;
    const double span = std::clamp(known, 10.0 * interval, window);
    const double step = timeStep(span);
    m_axisX->setTickInterval(step);
    m_axisX->setRange(-std::ceil(span / step - 1e-9) * step, 0);
    // Counts and the rate each on their own scale, five even steps from 0.
    using Kind = StatsHistory::Series;
    const double counts = std::max({m_history.maximum(Kind::Clients), m_history.maximum(Kind::Subscribers),
                                    m_history.maximum(Kind::Channels)});
    const double countTop = niceCeiling(counts * 1.1);
    m_axisCount->setRange(0, countTop);
    m_axisCount->setTickInterval(countTop / 5);
    const double rateTop = niceCeiling(m_history.maximum(Kind::MessagesPerSecond) * 1.1);
    m_axisRate->setRange(0, rateTop);
    m_axisRate->setTickInterval(rateTop / 5);
}

void MainWindow::updateCounters()
{
    m_clientsValue->setText(QString::number(m_clientCount));
    m_subscribersValue->setText(QString::number(m_subscriberCount));
    m_channelsValue->setText(QString::number(m_channelCount));
    m_lastIdValue->setText(QString::number(m_lastId));
}

void MainWindow::updateCluster()
{
    const bool cluster = m_nodes->isCluster();
    const bool degraded = m_nodes->isDegraded();
    const int n = m_nodes->rowCount();
    const QString self = m_nodes->selfId();
    // A single server looks exactly as it did before clusters existed.
    m_tabs->setTabVisible(m_nodesTab, cluster);
    m_tabs->setTabText(m_nodesTab, tr("Nodes (%1)").arg(n));
    m_clusterLabel->setVisible(cluster);
    QString size = n == 0 ? tr("cluster") : n == 1 ? tr("cluster: 1 node") : tr("cluster: %1 nodes").arg(n);
    if (degraded)
        size = tr("%1, degraded").arg(size);
    m_clusterLabel->setStyleSheet(degraded ? u"color: #cf222e; font-weight: bold;"_s : QString());
    m_clusterLabel->setText(size);
    m_clusterWarning->setVisible(degraded);
    m_clusterWarningText->setText(
        self.isEmpty() ? tr("This node lost Redis: serving its own clients only.")
                       : tr("This node (%1) lost Redis: serving its own clients only.").arg(self));
    // A node without Redis knows only its own share, so the counters are not called totals then.
    QString summary = degraded ? tr("This node cannot reach the other nodes.")
                               : tr("The counters above are the cluster's totals.");
    if (!self.isEmpty())
        summary = tr("%1 This dashboard is connected to %2.").arg(summary, self);
    m_nodesSummary->setText(summary);
}

void MainWindow::onNodeCount(int nodes)
{
    // A node joined or left: refresh the table now rather than at the next periodic stats. Only on a change,
    // so a count the stats never agree with cannot turn every counts frame into a request.
    if (nodes == m_countedNodes)
        return;
    m_countedNodes = nodes;
    if (nodes != m_nodes->rowCount())
        m_admin->requestStats();
}

void MainWindow::updateMessageCount()
{
    const int shown = m_messageFilter->rowCount();
    const int held = m_messages->rowCount();
    m_messageCount->setText(shown == held ? tr("%1 messages").arg(held)
                                          : tr("%1 of %2 messages").arg(shown).arg(held));
    m_tabs->setTabText(0, tr("Messages (%1)").arg(held));
}

void MainWindow::disconnectSelected()
{
    const QModelIndexList rows = m_clientTable->selectionModel()->selectedRows();
    QStringList ids;
    for (const QModelIndex &index : rows) {
        const QString id = index.data(ClientModel::ClientIdRole).toString();
        if (!id.isEmpty() && !ids.contains(id))
            ids.append(id);
    }
    for (const QString &id : std::as_const(ids)) {
        const QString ref = m_admin->disconnectClient(id);
        if (ref.isEmpty()) {
            statusBar()->showMessage(tr("Not connected: cannot disconnect %1").arg(id), 5000);
            return;
        }
        m_disconnectRefs.append(ref);
    }
}

void MainWindow::onActionSucceeded(const QString &ref, const QJsonObject &reply)
{
    if (m_disconnectRefs.removeOne(ref)) {
        statusBar()->showMessage(tr("Disconnected %1 (%2 connection(s))")
                                     .arg(reply.value("client_id"_L1).toString())
                                     .arg(reply.value("connections"_L1).toInt()),
                                 5000);
    }
}

void MainWindow::onActionFailed(const QString &ref, const QString &code, const QString &message)
{
    if (m_disconnectRefs.removeOne(ref)) {
        statusBar()->showMessage(tr("Disconnect failed: %1").arg(message), 5000);
    } else {
        statusBar()->showMessage(tr("Server error (%1): %2").arg(code, message), 5000);
    }
}

void MainWindow::openSettings()
{
    SettingsDialog dialog(this);
    dialog.setCurrentServer(m_admin->serverUrl(), m_admin->token());
    const QUrl saved = m_settings->serverUrl();
    dialog.setServerUrl(saved.isEmpty() ? m_admin->serverUrl().toString() : saved.toString());
    dialog.setToken(m_settings->token());
    dialog.setOperatorName(m_settings->operatorName());
    dialog.setMuted(m_muteAction->isChecked());
    dialog.setVolume(m_sound->volume());
    if (dialog.exec() != QDialog::Accepted)
        return;
    m_settings->setSoundVolume(dialog.volume());
    m_sound->setVolume(dialog.volume());
    m_muteAction->setChecked(dialog.muted());
    // A new name is the feed's client id, so it takes a new connection.
    const bool renamed = dialog.operatorName() != m_admin->clientId();
    m_settings->setOperatorName(dialog.operatorName());
    m_admin->setClientId(dialog.operatorName());
    const QUrl url = dialog.serverUrl();
    bool rewatched = false;
    if (!url.isEmpty()) {
        m_settings->setServerUrl(url);
        m_settings->setToken(dialog.token());
        if (url != m_admin->serverUrl() || dialog.token() != m_admin->token()) {
            m_serverLabel->setText(tr("Remote server"));
            watch(url, dialog.token());
            rewatched = true;
        }
    }
    // Not after a refused token: renaming does not make it valid.
    const AdminClient::State state = m_admin->state();
    if (renamed && !rewatched && state != AdminClient::State::Idle && state != AdminClient::State::Refused)
        m_admin->open();
    m_settings->sync();
}

QString MainWindow::aboutText() const
{
    const QUrl feed = m_admin->serverUrl();
    QString server;
    if (feed.isEmpty())
        server = tr("No server is watched.");
    else if (!m_admin->serverVersion().isEmpty() && !m_admin->isConnected())
        server = tr("Watching %1: herald-server %2 when last reached; it cannot be reached now.")
                     .arg(feed.toDisplayString(QUrl::RemoveQuery).toHtmlEscaped(),
                          m_admin->serverVersion().toHtmlEscaped());
    else if (!m_admin->serverVersion().isEmpty())
        server = tr("Watching %1: herald-server %2.")
                     .arg(feed.toDisplayString(QUrl::RemoveQuery).toHtmlEscaped(),
                          m_admin->serverVersion().toHtmlEscaped());
    else if (m_admin->isConnected())
        server = tr("Watching %1: its version is not known (its /healthz did not say).")
                     .arg(feed.toDisplayString(QUrl::RemoveQuery).toHtmlEscaped());
    else
        server = tr("Watching %1: its version is not known while it cannot be reached.")
                     .arg(feed.toDisplayString(QUrl::RemoveQuery).toHtmlEscaped());
    QStringList links;
    const auto link = [&links](const QUrl &url, const QString &text) {
        links.append(u"<a href=\"%1\">%2</a>"_s.arg(url.toString(QUrl::FullyEncoded).toHtmlEscaped(), text));
    };
    for (const QAction *doc : {m_readmeAction, m_protocolAction}) {
        if (doc->isEnabled())
            link(QUrl::fromLocalFile(doc->data().toString()), doc->text().remove(u'&'));
    }
    if (!feed.isEmpty())
        link(AdminClient::httpUrl(feed, u"/"_s), tr("the server's web page"));
    return tr("<h3>Herald Dashboard %1</h3>"
              "<p>The operator console of Herald, a self-hosted real-time notification hub.</p>"
              "<p>%2</p><p>Built with Qt %3, running on Qt %4.</p><p>%5</p>")
        .arg(QStringLiteral(HERALD_VERSION), server, QStringLiteral(QT_VERSION_STR),
             QString::fromLatin1(qVersion()), links.join(u" · "_s));
}

void MainWindow::showAbout()
{
    auto *box = new QMessageBox(this);
    box->setObjectName(u"aboutDialog"_s);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setWindowTitle(tr("About Herald Dashboard"));
    box->setIconPixmap(appIcon().pixmap(64, 64));
    box->setTextFormat(Qt::RichText);
    box->setText(aboutText());
    box->setStandardButtons(QMessageBox::Close);
    // The server's version may arrive while the box is open.
    connect(m_admin, &AdminClient::serverVersionReceived, box, [this, box] { box->setText(aboutText()); });
    box->open();
}

void MainWindow::setMuted(bool muted)
{
    m_sound->setMuted(muted);
    m_settings->setSoundMuted(muted);
    m_muteAction->setIcon(
        style()->standardIcon(muted ? QStyle::SP_MediaVolumeMuted : QStyle::SP_MediaVolume));
    m_muteAction->setText(muted ? tr("Unmute") : tr("Mute"));
}

void MainWindow::showFromTray()
{
    if (isMinimized())
        showNormal();
    else
        show();
    raise();
    activateWindow();
}

} // namespace Herald
