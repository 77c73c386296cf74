#include "adminclient.h"
#include "clientmodel.h"
#include "hub.h"
#include "mainwindow.h"
#include "messagemodel.h"
#include "nodemodel.h"
#include "server.h"
#include "settings.h"
#include "settingsdialog.h"
#include "soundplayer.h"
#include "testclient.h"
#include "testserver.h"
#include "traynotifier.h"

#include <QAction>
#include <QApplication>
#include <QAudioDevice>
#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QDesktopServices>
#include <QDialogButtonBox>
#include <QFileInfo>
#include <QImage>
#include <QLabel>
#include <QLegendMarker>
#include <QLineEdit>
#include <QLineSeries>
#include <QMediaDevices>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPointer>
#include <QPushButton>
#include <QTabWidget>
#include <QTableView>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>
#include <QValueAxis>
#include <QWebSocketServer>

using namespace Qt::StringLiterals;
using namespace HeraldTest;
using State = Herald::AdminClient::State;
using ms = std::chrono::milliseconds;

namespace {
// Stands in for a cluster node's admin feed, which the in-process server cannot be: a snapshot on connect,
// then `stats` as the reply to every get_stats.
class FakeClusterFeed : public QObject
{
public:
    QJsonObject stats;
    int statsRequests = 0;

    bool listen()
    {
        QObject::connect(&m_server, &QWebSocketServer::newConnection, this, [this] {
            QWebSocket *s = m_server.nextPendingConnection();
            QObject::connect(s, &QWebSocket::disconnected, s, &QObject::deleteLater);
            QObject::connect(s, &QWebSocket::textMessageReceived, this, [this, s](const QString &text) {
                const QJsonObject request = parseObject(text.toUtf8());
                if (request.value("type"_L1).toString() != u"get_stats"_s)
                    return;
                ++statsRequests;
                send(s, {{"type"_L1, "stats"_L1}, {"ref"_L1, request.value("ref"_L1)}, {"data"_L1, stats}});
            });
            m_sockets.append(s);
            send(s, {{"type"_L1, "snapshot"_L1},
                     {"clients"_L1, stats.value("clients"_L1)},
                     {"subscribers"_L1, stats.value("subscribers"_L1)},
                     {"last_id"_L1, 1234},
                     {"stats"_L1, QJsonObject{{"total_channels"_L1, stats.value("total_channels"_L1)}}},
                     {"connections"_L1, QJsonArray()}});
        });
        return m_server.listen(QHostAddress::LocalHost, 0);
    }
    QUrl url() const { return QUrl(u"ws://127.0.0.1:%1/ws/server"_s.arg(m_server.serverPort())); }
    void sendToAll(const QJsonObject &frame)
    {
        for (const QPointer<QWebSocket> &s : std::as_const(m_sockets)) {
            if (s)
                send(s, frame);
        }
    }

private:
    static void send(QWebSocket *s, const QJsonObject &frame)
    {
        s->sendTextMessage(QString::fromUtf8(QJsonDocument(frame).toJson(QJsonDocument::Compact)));
    }

    QWebSocketServer m_server{u"fake-cluster"_s, QWebSocketServer::NonSecureMode};
    QList<QPointer<QWebSocket>> m_sockets;
};

QJsonObject clusterStats(const QString &state, const QJsonArray &nodes)
{
    int clients = 0, subscribers = 0;
    for (const QJsonValue &n : nodes) {
        clients += n[u"clients"_s].toInt();
        subscribers += n[u"subscribers"_s].toInt();
    }
    return {{"total_channels"_L1, 3},
            {"channels"_L1, QJsonObject{{"news"_L1, 12}, {"sports"_L1, 9}, {"alerts"_L1, 4}}},
            {"clients"_L1, clients},
            {"subscribers"_L1, subscribers},
            {"total_connections"_L1, clients},
            {"node"_L1, "host-8001-1a2b"_L1},
            {"cluster"_L1, state},
            {"nodes"_L1, nodes}};
}

const QJsonObject selfNode{
    {"id"_L1, "host-8001-1a2b"_L1}, {"clients"_L1, 10}, {"subscribers"_L1, 9}, {"self"_L1, true}};
// Another node of the cluster, as the feed lists it.
QJsonObject peerNode(QLatin1StringView id, QLatin1StringView address, QLatin1StringView startedAt,
                     int clients, int subscribers, qint64 lastId)
{
    return {{"id"_L1, id},           {"address"_L1, address},         {"started_at"_L1, startedAt},
            {"clients"_L1, clients}, {"subscribers"_L1, subscribers}, {"last_id"_L1, lastId}};
}
const QJsonObject secondNode =
    peerNode("host-8002-77aa"_L1, "127.0.0.1:8002"_L1, "2026-11-22T10:00:00.000Z"_L1, 30, 26, 1234);
const QJsonObject thirdNode =
    peerNode("host-8003-c0de"_L1, "127.0.0.1:8003"_L1, "2026-11-22T10:05:12.000Z"_L1, 7, 5, 1230);

// Stands in for the desktop's browser and file viewer: QDesktopServices hands it the URLs to open.
class UrlCatcher : public QObject
{
    Q_OBJECT

public:
    QList<QUrl> opened;

public Q_SLOTS:
    void open(const QUrl &url) { opened.append(url); }
};
} // namespace

// The dashboard window, driven through its widgets (offscreen), against a real in-process Herald server and
// real WebSocket clients.
class tst_Dashboard : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void windowTitleNamesTheServerOnce();
    void countsUpdateWhenClientsConnect();
    void composeReachesClients_data();
    void composeReachesClients();
    void composeRejectsBadRecipient();
    void messageTableFilters();
    void clientListDisconnects();
    void reconnectsAfterServerRestart();
    void staleWhileServerIsGone();
    void chartSeparatesUnitsAndEqualLines();
    void notifyPlaysSoundAndTrayWhenHidden();
    void tokenRefusedInStatusBar();
    void settingsDialogSwitchesServer();
    void settingsDialogRenamesOperator();
    void singleServerShowsNoNodes();
    void clusterNodesView();
    void helpMenuAboutAndDocs();
    void screenshot();

private:
    bool startServer(quint16 port = 0);
    void stopServer();
    std::unique_ptr<WsClient> client(const QString &path) { return openWs(m_port, path); }
    template<class T>
    T *widget(const char *name) const
    {
        T *w = m_window->findChild<T *>(QString::fromLatin1(name));
        if (!w)
            qWarning("no widget %s", name);
        return w;
    }
    QString text(const char *labelName) const { return widget<QLabel>(labelName)->text(); }
    // The newest piece of a series' line (Clients, Subscribers, Channels, Messages/s), or null before the
    // first sample.
    QLineSeries *series(int i) const
    {
        const QList<QLineSeries *> pieces = m_window->chartSegments(Herald::StatsHistory::Series(i));
        return pieces.isEmpty() ? nullptr : pieces.last();
    }
    static bool hasPointAt(const QLineSeries *s, double y)
    {
        if (!s)
            return false;
        const QList<QPointF> points = s->points();
        return std::any_of(points.cbegin(), points.cend(), [y](const QPointF &p) { return p.y() == y; });
    }
    // How many pixels of `image` are `colour`, give or take antialiasing.
    static int pixelsNear(const QImage &image, const QColor &colour, int tolerance = 40)
    {
        const QImage rgb = image.convertToFormat(QImage::Format_RGB32);
        int n = 0;
        for (int y = 0; y < rgb.height(); ++y) {
            const auto *line = reinterpret_cast<const QRgb *>(rgb.constScanLine(y));
            for (int x = 0; x < rgb.width(); ++x) {
                const QRgb p = line[x];
                if (std::abs(qRed(p) - colour.red()) + std::abs(qGreen(p) - colour.green()) +
                        std::abs(qBlue(p) - colour.blue()) <
                    tolerance)
                    ++n;
            }
        }
        return n;
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Herald::Server> m_server;
    std::unique_ptr<Herald::Settings> m_settings;
    std::unique_ptr<Herald::MainWindow> m_window;
    quint16 m_port = 0;
};

bool tst_Dashboard::startServer(quint16 port)
{
    m_server =
        startTestServer(m_dir->filePath(u"data"_s), [port](Herald::ServerConfig &c) { c.port = port; });
    m_port = m_server ? m_server->port() : 0;
    return m_server != nullptr;
}

void tst_Dashboard::stopServer()
{
    QVERIFY(stopTestServer(m_server));
}

void tst_Dashboard::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    QVERIFY(startServer());
    m_settings = std::make_unique<Herald::Settings>(m_dir->filePath(u"dashboard.ini"_s));
    m_settings->setOperatorName(u"ops-anna"_s);
    m_window = std::make_unique<Herald::MainWindow>(m_settings.get());
    m_window->adminClient()->backoff().setRange(ms(30), ms(500));
    m_window->setSampleInterval(ms(100));
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    m_window->watch(QUrl(u"ws://127.0.0.1:%1"_s.arg(m_port)), QString());
    QTRY_COMPARE(m_window->adminClient()->state(), State::Connected);
    QTRY_VERIFY(text("connectionState").startsWith(u"Connected to 127.0.0.1:%1"_s.arg(m_port)));
}

void tst_Dashboard::windowTitleNamesTheServerOnce()
{
    // The platform appends the application's display name; the window's own title is the server alone.
    QCOMPARE(m_window->windowTitle(), u"ws://127.0.0.1:%1/ws/server"_s.arg(m_port));
    m_window->watch(QUrl(u"ws://127.0.0.1:%1/ws/server?token=secret"_s.arg(m_port)), u"secret"_s);
    QCOMPARE(m_window->windowTitle(), u"ws://127.0.0.1:%1/ws/server"_s.arg(m_port));
    Herald::Settings fresh(m_dir->filePath(u"fresh.ini"_s));
    Herald::MainWindow unwatched(&fresh);
    QCOMPARE(unwatched.windowTitle(), u"Herald Dashboard"_s);
}

void tst_Dashboard::cleanup()
{
    m_window.reset();
    m_settings.reset();
    m_server.reset();
    m_dir.reset();
}

void tst_Dashboard::countsUpdateWhenClientsConnect()
{
    QCOMPARE(text("clientsValue"), u"0"_s);
    QCOMPARE(text("subscribersValue"), u"0"_s);
    auto seed = client(u"/ws/client"_s);
    auto native = client(u"/ws?client_id=reader&channels=news,sports"_s);
    auto chat = client(u"/ws/chatter"_s);
    QVERIFY(seed && native && chat);

    QTRY_COMPARE(text("clientsValue"), u"3"_s);
    QTRY_COMPARE(text("subscribersValue"), u"2"_s); // reader, and chatter in chat
    QTRY_COMPARE(text("channelsValue"), u"3"_s);    // news, sports, chat
    QCOMPARE(m_window->clientModel()->rowCount(), 3);
    auto *table = widget<QTableView>("clientTable");
    QCOMPARE(table->model()->rowCount(), 3);
    const int reader = m_window->clientModel()->rowOf(u"reader"_s);
    QVERIFY(reader >= 0);
    QCOMPARE(m_window->clientModel()->index(reader, Herald::ClientModel::Subscriptions).data().toString(),
             u"news, sports"_s);

    // The chart follows: the clients curve reaches 3.
    QTRY_VERIFY(hasPointAt(series(0), 3.0));
    QTRY_VERIFY(hasPointAt(series(1), 2.0));
    QCOMPARE(series(0)->name(), u"Clients"_s);

    seed->send({{"action"_L1, "subscribe"_L1}, {"user_id"_L1, "abc"_L1}});
    QTRY_COMPARE(text("subscribersValue"), u"3"_s);
    QTRY_COMPARE(text("channelsValue"), u"4"_s);
    chat->close();
    QTRY_COMPARE(text("clientsValue"), u"2"_s);
    QTRY_COMPARE(text("channelsValue"), u"3"_s);
    QTRY_COMPARE(table->model()->rowCount(), 2);

    // Messages per second: a burst shows up as a non-zero rate.
    for (int i = 0; i < 5; ++i)
        QCOMPARE(http("POST", m_port, u"/api/publish"_s, R"({"channel":"news","message":"tick"})").status,
                 202);
    QTRY_VERIFY(text("rateValue") != u"0.0"_s);
    QTRY_VERIFY(std::any_of(series(3)->points().cbegin(), series(3)->points().cend(),
                            [](const QPointF &p) { return p.y() > 0; }));
}

void tst_Dashboard::composeReachesClients_data()
{
    QTest::addColumn<int>("target");
    QTest::addColumn<QString>("recipient");
    QTest::addColumn<QString>("type");
    QTest::addColumn<QString>("receiverPath");
    QTest::addColumn<QString>("expectedType");
    QTest::addColumn<QString>("expectedChannel");
    QTest::newRow("everyone") << 0 << QString() << QString() << u"/ws?client_id=r1"_s << u"broadcast"_s
                              << u"broadcast"_s;
    QTest::newRow("user") << 1 << u"7"_s << u"alert"_s << u"/ws?client_id=r2&user_id=7"_s << u"alert"_s
                          << u"user:7"_s;
    QTest::newRow("channel") << 2 << u"news"_s << QString() << u"/ws?client_id=r3&channels=news"_s
                             << u"message"_s << u"news"_s;
}

void tst_Dashboard::composeReachesClients()
{
    QFETCH(int, target);
    QFETCH(QString, recipient);
    QFETCH(QString, type);
    QFETCH(QString, receiverPath);
    QFETCH(QString, expectedType);
    QFETCH(QString, expectedChannel);

    auto receiver = client(receiverPath);
    auto bystander = client(u"/ws?client_id=bystander&channels=other"_s);
    QVERIFY(receiver && bystander);

    widget<QComboBox>("composeTarget")->setCurrentIndex(target);
    auto *recipientEdit = widget<QLineEdit>("composeRecipient");
    QCOMPARE(recipientEdit->isEnabled(), target != 0);
    if (!recipient.isEmpty())
        QTest::keyClicks(recipientEdit, recipient);
    if (!type.isEmpty())
        QTest::keyClicks(widget<QLineEdit>("composeType"), type);
    auto *textEdit = widget<QLineEdit>("composeText");
    QTest::keyClicks(textEdit, u"Hello from the dashboard"_s);
    QTest::mouseClick(widget<QPushButton>("composeSend"), Qt::LeftButton);

    const auto got = receiver->waitFor(expectedType);
    QVERIFY(got);
    QCOMPARE(got->value("message"_L1).toString(), u"Hello from the dashboard"_s);
    QCOMPARE(got->value("channel"_L1).toString(), expectedChannel);
    QCOMPARE(got->value("sender"_L1).toString(), u"ops-anna"_s); // the operator, not a UUID
    QTRY_VERIFY2(text("composeResult").startsWith(u"Published #"_s), qPrintable(text("composeResult")));
    QVERIFY(text("composeResult").contains(expectedChannel));
    QVERIFY(textEdit->text().isEmpty());
    // Only a broadcast reaches the bystander.
    if (target == 0)
        QVERIFY(bystander->waitFor(u"broadcast"_s));
    else
        QVERIFY(bystander->noFrame(expectedType, 200));
    // The feed shows the message the dashboard sent.
    QTRY_COMPARE(m_window->messageModel()->rowCount(), 1);
    QCOMPARE(m_window->messageModel()->rowAt(0).channel, expectedChannel);
}

void tst_Dashboard::composeRejectsBadRecipient()
{
    widget<QComboBox>("composeTarget")->setCurrentIndex(2);
    QTest::keyClicks(widget<QLineEdit>("composeRecipient"), u"not a channel"_s);
    QTest::keyClicks(widget<QLineEdit>("composeText"), u"x"_s);
    QTest::mouseClick(widget<QPushButton>("composeSend"), Qt::LeftButton);
    QCOMPARE(text("composeResult"),
             u"A channel name is 1 to 128 characters: letters, digits and _ . : - (no spaces)."_s);
    widget<QLineEdit>("composeRecipient")->clear();
    QTest::mouseClick(widget<QPushButton>("composeSend"), Qt::LeftButton);
    QCOMPARE(text("composeResult"), u"Enter a channel name."_s);
    widget<QComboBox>("composeTarget")->setCurrentIndex(1);
    QTest::mouseClick(widget<QPushButton>("composeSend"), Qt::LeftButton);
    QCOMPARE(text("composeResult"), u"Enter a user id."_s);
    QTest::keyClicks(widget<QLineEdit>("composeRecipient"), u"bob smith"_s);
    QTest::mouseClick(widget<QPushButton>("composeSend"), Qt::LeftButton);
    QCOMPARE(text("composeResult"),
             u"A user id is 1 to 121 characters: letters, digits and _ . : - (no spaces)."_s);
    widget<QComboBox>("composeTarget")->setCurrentIndex(0);
    widget<QLineEdit>("composeText")->clear();
    QTest::mouseClick(widget<QPushButton>("composeSend"), Qt::LeftButton);
    QVERIFY2(text("composeResult").contains(u"Write a message"_s), qPrintable(text("composeResult")));
    QTest::qWait(100);
    QCOMPARE(m_window->messageModel()->totalAdded(), 0);
}

void tst_Dashboard::messageTableFilters()
{
    const QByteArray bodies[] = {
        R"({"channel":"news","message":"Election results"})",
        R"({"channel":"sports","sender":"ref","message":"Match tonight"})",
        R"({"channel":"weather","type":"alert","message":"Storm warning for news crews"})"};
    for (const QByteArray &body : bodies)
        QCOMPARE(http("POST", m_port, u"/api/publish"_s, body).status, 202);
    auto *table = widget<QTableView>("messageTable");
    QTRY_COMPARE(table->model()->rowCount(), 3);
    QCOMPARE(table->model()->index(0, Herald::MessageModel::Channel).data().toString(), u"weather"_s);
    QCOMPARE(table->model()->index(2, Herald::MessageModel::Text).data().toString(), u"Election results"_s);

    auto *filter = widget<QLineEdit>("messageFilter");
    QTest::keyClicks(filter, u"SPORTS"_s);
    QCOMPARE(table->model()->rowCount(), 1);
    QCOMPARE(table->model()->index(0, Herald::MessageModel::Sender).data().toString(), u"ref"_s);
    QCOMPARE(text("messageCount"), u"1 of 3 messages"_s);

    // Rows arriving while filtered are filtered too.
    QCOMPARE(http("POST", m_port, u"/api/publish"_s, R"({"channel":"sports","message":"Final"})").status,
             202);
    QCOMPARE(http("POST", m_port, u"/api/publish"_s, R"({"channel":"news","message":"Later"})").status, 202);
    QTRY_COMPARE(m_window->messageModel()->rowCount(), 5);
    QCOMPARE(table->model()->rowCount(), 2);

    filter->clear();
    QTest::keyClicks(filter, u"news"_s); // a channel and a text
    QCOMPARE(table->model()->rowCount(), 3);
    filter->clear();
    QCOMPARE(table->model()->rowCount(), 5);
    QCOMPARE(text("messageCount"), u"5 messages"_s);

    // The table is bounded: the oldest rows fall off.
    m_window->messageModel()->setCapacity(2);
    QCOMPARE(table->model()->rowCount(), 2);
    QCOMPARE(table->model()->index(0, Herald::MessageModel::Text).data().toString(), u"Later"_s);
}

void tst_Dashboard::clientListDisconnects()
{
    auto victim = client(u"/ws?client_id=victim&user_id=9"_s);
    auto bystander = client(u"/ws?client_id=bystander"_s);
    QVERIFY(victim && bystander);
    auto *table = widget<QTableView>("clientTable");
    QTRY_COMPARE(table->model()->rowCount(), 2);
    QTRY_COMPARE(text("clientsValue"), u"2"_s);
    auto *button = widget<QPushButton>("disconnectButton");
    QVERIFY(!button->isEnabled()); // nothing selected

    int row = -1;
    for (int r = 0; r < table->model()->rowCount(); ++r) {
        if (table->model()->index(r, 0).data(Herald::ClientModel::ClientIdRole).toString() == u"victim"_s)
            row = r;
    }
    QVERIFY(row >= 0);
    QCOMPARE(table->model()->index(row, Herald::ClientModel::User).data().toString(), u"9"_s);
    table->selectRow(row);
    QVERIFY(button->isEnabled());
    QTest::mouseClick(button, Qt::LeftButton);

    QVERIFY(victim->waitDisconnected());
    QCOMPARE(victim->closeCode(), 4001);
    QTRY_COMPARE(m_window->clientModel()->rowOf(u"victim"_s), -1);
    QTRY_COMPARE(text("clientsValue"), u"1"_s);
    QVERIFY(bystander->isConnected());
    QCOMPARE(table->model()->rowCount(), 1);
}

void tst_Dashboard::reconnectsAfterServerRestart()
{
    Herald::AdminClient *admin = m_window->adminClient();
    QSignalSpy scheduled(admin, &Herald::AdminClient::reconnectScheduled);
    auto early = client(u"/ws/client"_s);
    QVERIFY(early);
    QTRY_COMPARE(text("clientsValue"), u"1"_s);
    const quint16 port = m_port;

    stopServer();
    QTRY_VERIFY2(text("connectionState").contains(u"retrying in"_s), qPrintable(text("connectionState")));
    QVERIFY(!widget<QWidget>("counters")->isEnabled()); // stale numbers are greyed
    QVERIFY(!m_window->isLive());
    QVERIFY(!widget<QPushButton>("composeSend")->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(scheduled.count() >= 3, 10000);
    QTRY_VERIFY2(text("connectionState").contains(u"is gone (connection refused); retrying in"_s),
                 qPrintable(text("connectionState")));
    for (qsizetype i = 1; i < 3; ++i)
        QVERIFY(scheduled.at(i).at(1).toInt() > scheduled.at(i - 1).at(1).toInt());

    QVERIFY(startServer(port));
    QTRY_COMPARE_WITH_TIMEOUT(admin->state(), State::Connected, 10000);
    QTRY_VERIFY(text("connectionState").startsWith(u"Connected"_s));
    QVERIFY(widget<QWidget>("counters")->isEnabled());
    // The new server's snapshot replaces the old state: nobody is connected to it yet.
    QTRY_COMPARE(text("clientsValue"), u"0"_s);
    QCOMPARE(m_window->clientModel()->rowCount(), 0);
    auto late = client(u"/ws?client_id=late"_s);
    QVERIFY(late);
    QTRY_COMPARE(text("clientsValue"), u"1"_s);
    QTRY_COMPARE(m_window->clientModel()->rowOf(u"late"_s), 0);
}

void tst_Dashboard::staleWhileServerIsGone()
{
    const QColor clientsColour(0x1f6feb);
    const QDateTime beforeLastFrame = QDateTime::currentDateTime();
    auto early = client(u"/ws?client_id=early&channels=news"_s);
    QVERIFY(early);
    QTRY_COMPARE(text("clientsValue"), u"1"_s);
    QTRY_VERIFY(hasPointAt(series(0), 1.0));
    auto *banner = widget<QWidget>("staleBanner");
    auto *counters = widget<QWidget>("counters");
    auto *clientsValue = widget<QLabel>("clientsValue");
    auto *tabs = widget<QTabWidget>("tabs");
    auto *table = widget<QTableView>("clientTable");
    auto *chart = widget<QChartView>("chart")->chart();
    const int clientsTab = tabs->indexOf(table->parentWidget());
    // Live: no banner, numbers in their colour, the list in plain text, the chart in full colour.
    QVERIFY(m_window->isLive());
    QVERIFY(banner->isHidden());
    QVERIFY(pixelsNear(clientsValue->grab().toImage(), clientsColour) > 10);
    QCOMPARE(table->model()->index(0, 0).data(Qt::ForegroundRole), QVariant());
    QCOMPARE(tabs->tabText(clientsTab), u"Clients (1)"_s);
    QCOMPARE(series(0)->pen().color(), clientsColour);
    QCOMPARE(m_window->chartSegments(Herald::StatsHistory::Series::Clients).size(), 1);

    const quint16 port = m_port;
    stopServer();
    QTRY_VERIFY(!m_window->isLive());
    // Every part says it is stale: the banner with the time, greyed numbers (kept, not zeroed), a marked
    // list, a faded chart that stops drawing.
    QVERIFY(!banner->isHidden());
    const QDateTime since = m_window->staleSince();
    // The data dates from the last frame: after the client connected, not after the server was found gone.
    QCOMPARE(since, m_window->adminClient()->lastFrameAt());
    QVERIFY(since >= beforeLastFrame && since <= QDateTime::currentDateTime());
    QVERIFY2(text("staleBannerText")
                 .startsWith(u"Disconnected — showing data from %1."_s.arg(since.toString(u"HH:mm:ss"_s))),
             qPrintable(text("staleBannerText")));
    QVERIFY(!counters->isEnabled());
    QCOMPARE(text("clientsValue"), u"1"_s);
    QCOMPARE(pixelsNear(clientsValue->grab().toImage(), clientsColour), 0);
    QCOMPARE(table->model()->rowCount(), 1);
    QVERIFY(table->model()->index(0, 0).data(Qt::ForegroundRole).value<QColor>().isValid());
    QVERIFY(table->model()->index(0, 0).data(Qt::ToolTipRole).toString().contains(u"not live"_s));
    QCOMPARE(tabs->tabText(clientsTab), u"Clients (1, not live)"_s);
    QVERIFY(chart->title().contains(u"not live"_s));
    QVERIFY(series(0)->pen().color().lightness() > clientsColour.lightness() + 60); // faded
    // Time goes on (the newest point slides left by ten sample intervals) and nothing is drawn for it.
    const qsizetype pointsWhenLost = series(0)->count();
    QTRY_VERIFY(series(0)->points().last().x() < -1.0);
    QCOMPARE(series(0)->count(), pointsWhenLost);

    // Back: the new server's snapshot replaces it all, and the line starts again after a gap.
    QVERIFY(startServer(port));
    QTRY_VERIFY_WITH_TIMEOUT(m_window->isLive(), 10000);
    QVERIFY(banner->isHidden());
    QVERIFY(counters->isEnabled());
    QCOMPARE(text("clientsValue"), u"0"_s);
    QVERIFY(pixelsNear(clientsValue->grab().toImage(), clientsColour) > 10);
    QCOMPARE(table->model()->rowCount(), 0);
    QCOMPARE(tabs->tabText(clientsTab), u"Clients (0)"_s);
    QCOMPARE(chart->title(), u"Last minutes"_s);
    QTRY_COMPARE(m_window->chartSegments(Herald::StatsHistory::Series::Clients).size(), 2);
    const QList<QLineSeries *> pieces = m_window->chartSegments(Herald::StatsHistory::Series::Clients);
    QVERIFY2(pieces[1]->points().first().x() - pieces[0]->points().last().x() > 1.0, "no gap in the chart");
    QCOMPARE(pieces[1]->points().first().y(), 0.0);
    QCOMPARE(pieces[0]->pen().color(), clientsColour);
    QCOMPARE(pieces[1]->pen().color(), clientsColour);
    // One legend entry per series, however many pieces. The legend lays its markers out later (under ASan,
    // noticeably), so the count is waited for.
    const auto shownMarkers = [chart] {
        int shown = 0;
        for (QLegendMarker *marker : chart->legend()->markers())
            shown += marker->isVisible() ? 1 : 0;
        return shown;
    };
    QTRY_COMPARE(shownMarkers(), 4);
    auto late = client(u"/ws?client_id=late"_s);
    QVERIFY(late);
    QTRY_COMPARE(m_window->clientModel()->rowOf(u"late"_s), 0);
    QCOMPARE(table->model()->index(0, 0).data(Qt::ForegroundRole), QVariant());
}

void tst_Dashboard::chartSeparatesUnitsAndEqualLines()
{
    // One client on one channel: clients, subscribers and channels are all 1.
    auto one = client(u"/ws?client_id=one&channels=news"_s);
    QVERIFY(one);
    QTRY_COMPARE(text("channelsValue"), u"1"_s);
    // A stretch of samples where the three coincide (earlier ones may predate the client).
    const auto lastAreOne = [this](int i) {
        const QLineSeries *s = series(i);
        if (!s || s->count() < 15)
            return false;
        const QList<QPointF> points = s->points();
        return std::all_of(points.cend() - 15, points.cend(), [](const QPointF &p) { return p.y() == 1.0; });
    };
    QTRY_VERIFY(lastAreOne(0) && lastAreOne(1) && lastAreOne(2));

    // Messages per second on an axis of its own, on the right; the counts share the left one.
    auto axisOf = [](QLineSeries *s, Qt::Orientation orientation) -> QValueAxis * {
        const QList<QAbstractAxis *> axes = s->attachedAxes();
        for (QAbstractAxis *axis : axes) {
            if (axis->orientation() == orientation)
                return qobject_cast<QValueAxis *>(axis);
        }
        return nullptr;
    };
    QValueAxis *counts = axisOf(series(0), Qt::Vertical);
    QValueAxis *rate = axisOf(series(3), Qt::Vertical);
    QVERIFY(counts && rate && counts != rate);
    QCOMPARE(counts->alignment(), Qt::AlignLeft);
    QCOMPARE(rate->alignment(), Qt::AlignRight);
    QCOMPARE(axisOf(series(1), Qt::Vertical), counts);
    QCOMPARE(axisOf(series(2), Qt::Vertical), counts);
    QCOMPARE(rate->titleText(), u"messages/s"_s);

    // Even ticks: a round step from 0, and the time axis starts on one of them.
    QValueAxis *time = axisOf(series(0), Qt::Horizontal);
    QVERIFY(time);
    for (QValueAxis *axis : {time, counts, rate}) {
        QCOMPARE(axis->tickType(), QValueAxis::TicksDynamic);
        QCOMPARE(axis->tickAnchor(), 0.0);
        const double steps = (axis->max() - axis->min()) / axis->tickInterval();
        QVERIFY2(std::abs(steps - std::round(steps)) < 1e-6 && steps >= 2 && steps <= 6,
                 qPrintable(u"%1..%2 by %3"_s.arg(axis->min()).arg(axis->max()).arg(axis->tickInterval())));
    }
    QCOMPARE(time->max(), 0.0);

    // All three equal lines can be seen: none hides another. Only the plot area counts, not the legend.
    auto *view = widget<QChartView>("chart");
    const QRect plot = view->mapFromScene(view->chart()->mapToScene(view->chart()->plotArea()))
                           .boundingRect()
                           .adjusted(1, 1, -1, -1);
    const QImage lines = view->grab(plot).toImage();
    for (const QColor &colour : {QColor(0x1f6feb), QColor(0x2da44e), QColor(0xbf8700)}) {
        const int n = pixelsNear(lines, colour);
        QVERIFY2(n > 100, qPrintable(u"%1: %2 pixels"_s.arg(colour.name()).arg(n)));
    }
}

void tst_Dashboard::notifyPlaysSoundAndTrayWhenHidden()
{
    Herald::SoundPlayer *sound = m_window->soundPlayer();
    Herald::TrayNotifier *tray = m_window->trayNotifier();
    QVERIFY(!sound->isMuted());
    auto sender = client(u"/ws/client"_s);
    QVERIFY(sender);

    // Visible window: a sound, no tray notification.
    sender->send({{"action"_L1, "notify"_L1}, {"message"_L1, "first"_L1}});
    QTRY_COMPARE(sound->requestCount(), 1);
    QCOMPARE(tray->count(), 0);
    QTRY_COMPARE(m_window->messageModel()->rowCount(), 1);
    QCOMPARE(m_window->messageModel()->rowAt(0).type, u"notify"_s);
    // Without an audio device nothing reaches one, and nothing breaks.
    if (QMediaDevices::audioOutputs().isEmpty()) {
        QVERIFY(!sound->isAvailable());
        QCOMPARE(sound->playCount(), 0);
    }

    // Plain messages do not ring.
    QCOMPARE(http("POST", m_port, u"/api/publish"_s, R"({"channel":"news","message":"quiet"})").status, 202);
    QTRY_COMPARE(m_window->messageModel()->rowCount(), 2);
    QCOMPARE(sound->requestCount(), 1);

    // Hidden window: the tray notifies.
    m_window->hide();
    sender->send({{"action"_L1, "notify"_L1}, {"message"_L1, "second"_L1}});
    QTRY_COMPARE(tray->count(), 1);
    QCOMPARE(tray->lastText(), u"second"_s);
    QCOMPARE(sound->requestCount(), 2);

    // Muted from the toolbar: no sound, the choice is saved, the tray still notifies.
    auto *mute = m_window->findChild<QAction *>(u"muteAction"_s);
    QVERIFY(mute);
    mute->trigger();
    QVERIFY(sound->isMuted());
    QVERIFY(m_settings->soundMuted());
    sender->send({{"action"_L1, "notify"_L1}, {"message"_L1, "third"_L1}});
    QTRY_COMPARE(tray->count(), 2);
    QCOMPARE(sound->requestCount(), 2);

    // A new window starts muted from the settings.
    m_settings->sync();
    Herald::Settings reread(m_settings->fileName());
    Herald::MainWindow second(&reread);
    QVERIFY(second.soundPlayer()->isMuted());
}

void tst_Dashboard::tokenRefusedInStatusBar()
{
    QTcpServer fake;
    QVERIFY(fake.listen(QHostAddress::LocalHost, 0));
    connect(&fake, &QTcpServer::newConnection, &fake, [&] {
        while (QTcpSocket *s = fake.nextPendingConnection()) {
            connect(s, &QTcpSocket::readyRead, s, [s] {
                if (!s->readAll().isEmpty()) {
                    s->write("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    s->disconnectFromHost();
                }
            });
            connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
        }
    });
    m_window->watch(QUrl(u"ws://127.0.0.1:%1"_s.arg(fake.serverPort())), u"wrong"_s);
    QTRY_COMPARE(m_window->adminClient()->state(), State::Refused);
    QVERIFY2(text("connectionState").contains(u"Token refused"_s), qPrintable(text("connectionState")));
    QVERIFY(text("connectionState").contains(u"HTTP 401"_s));
}

void tst_Dashboard::settingsDialogSwitchesServer()
{
    // A second server to switch to.
    QTemporaryDir otherDir;
    Herald::ServerConfig config;
    config.port = 0;
    config.dataDir = otherDir.path();
    config.workerThreads = 1;
    Herald::Server other(config);
    QVERIFY(other.start());
    WsClient onOther;
    QVERIFY(onOther.open(other.port(), u"/ws?client_id=elsewhere"_s));

    // The dialog is modal: fill it in from inside its event loop, and always close it.
    QUrl openedOn;
    QString hintOnOpen, hintAfterEdit;
    bool filled = false;
    QTimer::singleShot(0, this, [&] {
        auto *dialog = qobject_cast<Herald::SettingsDialog *>(QApplication::activeModalWidget());
        if (!dialog)
            return;
        openedOn = dialog->serverUrl();
        auto *url = dialog->findChild<QLineEdit *>(u"settingsUrl"_s);
        auto *token = dialog->findChild<QLineEdit *>(u"settingsToken"_s);
        auto *muted = dialog->findChild<QCheckBox *>(u"settingsMuted"_s);
        auto *hint = dialog->findChild<QLabel *>(u"settingsHint"_s);
        if (url && token && muted && hint) {
            hintOnOpen = hint->text();
            url->clear();
            QTest::keyClicks(url, u"http://127.0.0.1:%1"_s.arg(other.port()));
            hintAfterEdit = hint->text();
            QTest::keyClicks(token, u"tok"_s);
            muted->setChecked(true);
            filled = true;
        }
        dialog->accept();
    });
    m_window->findChild<QAction *>(u"settingsAction"_s)->trigger();
    QVERIFY(filled);
    // It opened on what the dashboard watched.
    QCOMPARE(openedOn, QUrl(u"ws://127.0.0.1:%1/ws/server"_s.arg(m_port)));
    // The hint says what OK will do.
    QCOMPARE(hintOnOpen, u"The dashboard is watching ws://127.0.0.1:%1/ws/server."_s.arg(m_port));
    QCOMPARE(
        hintAfterEdit,
        u"When you press OK, the dashboard connects to ws://127.0.0.1:%1/ws/server."_s.arg(other.port()));

    const QUrl expected(u"ws://127.0.0.1:%1/ws/server"_s.arg(other.port()));
    QCOMPARE(m_settings->serverUrl(), expected);
    QCOMPARE(m_settings->token(), u"tok"_s);
    QVERIFY(m_settings->soundMuted());
    QVERIFY(m_window->soundPlayer()->isMuted());
    QCOMPARE(m_window->adminClient()->serverUrl(), expected);
    QCOMPARE(m_window->adminClient()->token(), u"tok"_s);
    QTRY_COMPARE(m_window->adminClient()->state(), State::Connected);
    QTRY_COMPARE(m_window->clientModel()->rowOf(u"elsewhere"_s), 0);
    QCOMPARE(text("clientsValue"), u"1"_s);

    // A URL that is not one keeps OK disabled.
    Herald::SettingsDialog dialog;
    dialog.setServerUrl(u"gopher://nowhere"_s);
    QVERIFY(dialog.serverUrl().isEmpty());
    QVERIFY(!dialog.findChild<QDialogButtonBox *>()->button(QDialogButtonBox::Ok)->isEnabled());
    dialog.setServerUrl(u"wss://example.org"_s);
    QVERIFY(dialog.findChild<QDialogButtonBox *>()->button(QDialogButtonBox::Ok)->isEnabled());
}

void tst_Dashboard::settingsDialogRenamesOperator()
{
    auto receiver = client(u"/ws?client_id=r&channels=news"_s);
    QVERIFY(receiver);
    Herald::AdminClient *admin = m_window->adminClient();
    QSignalSpy states(admin, &Herald::AdminClient::stateChanged);
    QString placeholder;
    bool badNameRefused = false, filled = false;
    QTimer::singleShot(0, this, [&] {
        auto *dialog = qobject_cast<Herald::SettingsDialog *>(QApplication::activeModalWidget());
        if (!dialog)
            return;
        auto *name = dialog->findChild<QLineEdit *>(u"settingsOperator"_s);
        auto *hint = dialog->findChild<QLabel *>(u"settingsHint"_s);
        QPushButton *ok = dialog->findChild<QDialogButtonBox *>()->button(QDialogButtonBox::Ok);
        if (name && hint) {
            placeholder = name->placeholderText();
            QTest::keyClicks(name, u" x"_s); // "ops-anna x"
            badNameRefused = !ok->isEnabled() && hint->text().startsWith(u"An operator name is 1 to 121"_s);
            name->clear();
            QTest::keyClicks(name, u"night-shift"_s);
            filled = ok->isEnabled();
        }
        dialog->accept();
    });
    m_window->findChild<QAction *>(u"settingsAction"_s)->trigger();
    QVERIFY(filled);
    QVERIFY(badNameRefused);
    QCOMPARE(placeholder, Herald::Settings::defaultOperatorName());
    QCOMPARE(m_settings->operatorName(), u"night-shift"_s);
    // Only the name changed, and still the feed reconnects under it.
    QCOMPARE(admin->clientId(), u"night-shift"_s);
    QTRY_VERIFY(!states.isEmpty() && admin->state() == State::Connected);
    QTRY_VERIFY(m_window->isLive());
    widget<QComboBox>("composeTarget")->setCurrentIndex(2);
    QTest::keyClicks(widget<QLineEdit>("composeRecipient"), u"news"_s);
    QTest::keyClicks(widget<QLineEdit>("composeText"), u"shift change"_s);
    QTest::mouseClick(widget<QPushButton>("composeSend"), Qt::LeftButton);
    const auto got = receiver->waitFor(u"message"_s);
    QVERIFY(got);
    QCOMPARE(got->value("sender"_L1).toString(), u"night-shift"_s);
}

void tst_Dashboard::singleServerShowsNoNodes()
{
    auto *tabs = widget<QTabWidget>("tabs");
    const int nodesTab = tabs->indexOf(widget<QTableView>("nodeTable")->parentWidget());
    QVERIFY(nodesTab >= 0);
    Herald::AdminClient *admin = m_window->adminClient();
    QSignalSpy counts(admin, &Herald::AdminClient::countsChanged);
    QSignalSpy nodeCounts(admin, &Herald::AdminClient::nodeCountReceived);
    QSignalSpy stats(admin, &Herald::AdminClient::statsReceived);
    auto c = client(u"/ws?client_id=one&channels=news"_s);
    QVERIFY(c);
    QTRY_VERIFY(!counts.isEmpty());
    QVERIFY(!admin->requestStats().isEmpty());
    QTRY_VERIFY(!stats.isEmpty());
    QCOMPARE(nodeCounts.count(), 0); // a single server's counts frames name no nodes
    QVERIFY(!m_window->nodeModel()->isCluster());
    QCOMPARE(m_window->nodeModel()->rowCount(), 0);
    QVERIFY(!tabs->isTabVisible(nodesTab));
    QVERIFY(widget<QLabel>("clusterState")->isHidden());
    QVERIFY(widget<QWidget>("clusterWarning")->isHidden());
    QCOMPARE(tabs->count(), 4); // Messages, Clients, Scheduled and the hidden Nodes
}

void tst_Dashboard::clusterNodesView()
{
    FakeClusterFeed feed;
    feed.stats = clusterStats(u"ok"_s, {selfNode, secondNode, thirdNode});
    QVERIFY(feed.listen());
    // Only the dashboard's own requests reach the fake, not the periodic one.
    m_window->adminClient()->setStatsInterval(std::chrono::minutes(10));
    m_window->watch(feed.url(), QString());
    QTRY_COMPARE(m_window->adminClient()->state(), State::Connected);

    // Connecting asks for stats at once: the nodes show without waiting for the periodic request.
    auto *tabs = widget<QTabWidget>("tabs");
    auto *table = widget<QTableView>("nodeTable");
    const int nodesTab = tabs->indexOf(table->parentWidget());
    Herald::NodeModel *nodes = m_window->nodeModel();
    QTRY_COMPARE(nodes->rowCount(), 3);
    QCOMPARE(feed.statsRequests, 1);
    QVERIFY(tabs->isTabVisible(nodesTab));
    QCOMPARE(tabs->tabText(nodesTab), u"Nodes (3)"_s);
    QCOMPARE(table->model()->rowCount(), 3);
    QCOMPARE(table->model()->index(0, Herald::NodeModel::Node).data().toString(),
             u"host-8001-1a2b (this node)"_s);
    QCOMPARE(table->model()->index(2, Herald::NodeModel::Address).data().toString(), u"127.0.0.1:8003"_s);
    QCOMPARE(text("clusterState"), u"cluster: 3 nodes"_s);
    QVERIFY(!widget<QLabel>("clusterState")->isHidden());
    QVERIFY(widget<QWidget>("clusterWarning")->isHidden());
    QVERIFY(text("nodesSummary").contains(u"host-8001-1a2b"_s));
    // The counters are the cluster's totals.
    QCOMPARE(text("clientsValue"), u"47"_s);
    QCOMPARE(text("subscribersValue"), u"40"_s);
    QCOMPARE(text("channelsValue"), u"3"_s);

    // HERALD_CLUSTER_SCREENSHOT=<png> keeps a picture of this view; docs/dashboard-cluster.png is made with
    // HERALD_CLUSTER_SCREENSHOT=$PWD/docs/dashboard-cluster.png QT_QPA_PLATFORM=offscreen
    // build/tests/tst_dashboard clusterNodesView (or QT_QPA_PLATFORM=xcb under xvfb-run: the same picture).
    const QString shot = qEnvironmentVariable("HERALD_CLUSTER_SCREENSHOT");
    if (!shot.isEmpty()) {
        tabs->setCurrentIndex(nodesTab);
        // The program's sampling and a few seconds of it, for a chart like the real one's.
        m_window->setSampleInterval(ms(1000));
        QTest::qWait(10000);
        QVERIFY(m_window->saveScreenshot(shot));
    }

    // A node leaves: the counts frame says so, the dashboard asks for stats and the row goes.
    feed.stats = clusterStats(u"ok"_s, {selfNode, thirdNode});
    feed.sendToAll({{"type"_L1, "counts"_L1}, {"clients"_L1, 17}, {"subscribers"_L1, 14}, {"nodes"_L1, 2}});
    QTRY_COMPARE(nodes->rowCount(), 2);
    QCOMPARE(feed.statsRequests, 2);
    QCOMPARE(nodes->rowOf(u"host-8002-77aa"_s), -1);
    QCOMPARE(text("clusterState"), u"cluster: 2 nodes"_s);
    QCOMPARE(tabs->tabText(nodesTab), u"Nodes (2)"_s);
    QCOMPARE(text("clientsValue"), u"17"_s);

    // This node loses Redis: a warning whatever tab is open.
    feed.stats = clusterStats(u"degraded"_s, {selfNode});
    QVERIFY(!m_window->adminClient()->requestStats().isEmpty());
    QTRY_VERIFY(nodes->isDegraded());
    QVERIFY(!widget<QWidget>("clusterWarning")->isHidden());
    QCOMPARE(text("clusterWarningText"),
             u"This node (host-8001-1a2b) lost Redis: serving its own clients only."_s);
    QCOMPARE(text("clusterState"), u"cluster: 1 node, degraded"_s);
    QVERIFY(!text("nodesSummary").contains(u"totals"_s));

    // The same feed now answers as a single server: everything cluster-only goes away.
    feed.stats = QJsonObject{{"total_channels"_L1, 1}, {"clients"_L1, 2}, {"subscribers"_L1, 1}};
    QVERIFY(!m_window->adminClient()->requestStats().isEmpty());
    QTRY_VERIFY(!nodes->isCluster());
    QCOMPARE(nodes->rowCount(), 0);
    QVERIFY(!tabs->isTabVisible(nodesTab));
    QVERIFY(widget<QLabel>("clusterState")->isHidden());
    QVERIFY(widget<QWidget>("clusterWarning")->isHidden());
}

void tst_Dashboard::helpMenuAboutAndDocs()
{
    QMenu *help = nullptr;
    for (QAction *menu : m_window->menuBar()->actions()) {
        if (menu->text() == u"&Help"_s)
            help = menu->menu();
    }
    QVERIFY(help);
    QStringList entries;
    for (QAction *a : help->actions())
        entries.append(a->text());
    QCOMPARE(entries, (QStringList{u"&README"_s, u"&Protocol Reference"_s, u"The Server's &Web Page"_s,
                                   QString(), u"&About Herald Dashboard"_s, u"About &Qt"_s}));

    // The docs open as local files (the source tree's, from a build), the web page on the watched server.
    UrlCatcher catcher;
    QDesktopServices::setUrlHandler(u"file"_s, &catcher, "open");
    QDesktopServices::setUrlHandler(u"http"_s, &catcher, "open");
    auto trigger = [this](const char *name) {
        m_window->findChild<QAction *>(QString::fromLatin1(name))->trigger();
    };
    trigger("readmeAction");
    trigger("protocolAction");
    trigger("webPageAction");
    QDesktopServices::unsetUrlHandler(u"file"_s);
    QDesktopServices::unsetUrlHandler(u"http"_s);
    QCOMPARE(catcher.opened.size(), 3);
    QVERIFY(catcher.opened[0].isLocalFile() && catcher.opened[0].fileName() == u"README.md"_s);
    QVERIFY(QFileInfo(catcher.opened[0].toLocalFile()).isFile());
    QVERIFY(catcher.opened[1].isLocalFile() && catcher.opened[1].fileName() == u"protocol.md"_s);
    QVERIFY(QFileInfo(catcher.opened[1].toLocalFile()).isFile());
    QCOMPARE(catcher.opened[2], QUrl(u"http://127.0.0.1:%1/"_s.arg(m_port)));
    QCOMPARE(http("GET", m_port, u"/"_s).status, 200);

    // About: this program's version, the server's (from its /healthz) and the same links.
    QTRY_COMPARE(m_window->adminClient()->serverVersion(), QStringLiteral(HERALD_VERSION));
    trigger("aboutAction");
    QMessageBox *about = nullptr;
    QTRY_VERIFY((about = m_window->findChild<QMessageBox *>(u"aboutDialog"_s)) && about->isVisible());
    const QString text = about->text();
    QVERIFY2(text.contains(u"<h3>Herald Dashboard %1</h3>"_s.arg(QStringLiteral(HERALD_VERSION))),
             qPrintable(text));
    QVERIFY2(text.contains(u"Watching ws://127.0.0.1:%1/ws/server: herald-server %2."_s.arg(m_port).arg(
                 QStringLiteral(HERALD_VERSION))),
             qPrintable(text));
    QVERIFY(text.contains(catcher.opened[0].toString(QUrl::FullyEncoded)));
    QVERIFY(text.contains(catcher.opened[1].toString(QUrl::FullyEncoded)));
    QVERIFY(text.contains(u"href=\"http://127.0.0.1:%1/\""_s.arg(m_port)));
    // The links open in the desktop's viewer when clicked.
    auto *label = about->findChild<QLabel *>(u"qt_msgbox_label"_s);
    QVERIFY(label && label->openExternalLinks());
    about->close();
    QTRY_VERIFY(!m_window->findChild<QMessageBox *>(u"aboutDialog"_s));

    // The server goes: its version is kept, said to be from when it was last reached.
    stopServer();
    QTRY_VERIFY(!m_window->adminClient()->isConnected());
    QVERIFY2(m_window->aboutText().contains(
                 u"herald-server %1 when last reached"_s.arg(QStringLiteral(HERALD_VERSION))),
             qPrintable(m_window->aboutText()));
    // A server never reached has none.
    m_window->watch(QUrl(u"ws://127.0.0.1:1"_s), QString());
    QVERIFY2(m_window->aboutText().contains(u"its version is not known while it cannot be reached"_s),
             qPrintable(m_window->aboutText()));
}

void tst_Dashboard::screenshot()
{
    auto c = client(u"/ws/client"_s);
    QVERIFY(c);
    QTRY_COMPARE(text("clientsValue"), u"1"_s);
    const QString file = m_dir->filePath(u"shot.png"_s);
    QVERIFY(m_window->saveScreenshot(file));
    const QImage image(file);
    QVERIFY(!image.isNull());
    QCOMPARE(image.size(), m_window->size() * m_window->devicePixelRatio());
}

QTEST_MAIN(tst_Dashboard)
#include "tst_dashboard.moc"
