#include "adminclient.h"
#include "clientmodel.h"
#include "hub.h"
#include "mainwindow.h"
#include "messagemodel.h"
#include "server.h"
#include "settings.h"
#include "settingsdialog.h"
#include "soundplayer.h"
#include "testclient.h"
#include "traynotifier.h"

#include <QAction>
#include <QApplication>
#include <QAudioDevice>
#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QMediaDevices>
#include <QPushButton>
#include <QTableView>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

using namespace Qt::StringLiterals;
using namespace HeraldTest;
using State = Herald::AdminClient::State;
using ms = std::chrono::milliseconds;

// The dashboard window, driven through its widgets (offscreen), against a real in-process Herald server and
// real WebSocket clients.
class tst_Dashboard : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void countsUpdateWhenClientsConnect();
    void composeReachesClients_data();
    void composeReachesClients();
    void composeRejectsBadRecipient();
    void messageTableFilters();
    void clientListDisconnects();
    void reconnectsAfterServerRestart();
    void notifyPlaysSoundAndTrayWhenHidden();
    void tokenRefusedInStatusBar();
    void settingsDialogSwitchesServer();
    void screenshot();

private:
    bool startServer(quint16 port = 0);
    void stopServer();
    std::unique_ptr<WsClient> client(const QString &path)
    {
        auto c = std::make_unique<WsClient>();
        if (!c->open(m_port, path))
            return nullptr;
        return c;
    }
    template<class T>
    T *widget(const char *name) const
    {
        T *w = m_window->findChild<T *>(QString::fromLatin1(name));
        if (!w)
            qWarning("no widget %s", name);
        return w;
    }
    QString text(const char *labelName) const { return widget<QLabel>(labelName)->text(); }
    QLineSeries *series(int i) const
    {
        auto *view = widget<QChartView>("chart");
        return qobject_cast<QLineSeries *>(view->chart()->series().at(i));
    }
    static bool hasPointAt(const QLineSeries *s, double y)
    {
        const QList<QPointF> points = s->points();
        return std::any_of(points.cbegin(), points.cend(), [y](const QPointF &p) { return p.y() == y; });
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Herald::Server> m_server;
    std::unique_ptr<Herald::Settings> m_settings;
    std::unique_ptr<Herald::MainWindow> m_window;
    quint16 m_port = 0;
};

bool tst_Dashboard::startServer(quint16 port)
{
    Herald::ServerConfig config;
    config.port = port;
    config.dataDir = m_dir->filePath(u"data"_s);
    config.workerThreads = 2;
    config.shutdownGrace = ms(1000);
    m_server = std::make_unique<Herald::Server>(config);
    if (!m_server->start()) {
        qWarning() << m_server->errorString();
        return false;
    }
    m_port = m_server->port();
    return true;
}

void tst_Dashboard::stopServer()
{
    QSignalSpy stopped(m_server.get(), &Herald::Server::stopped);
    m_server->stop();
    QVERIFY(stopped.wait(5000));
    m_server.reset();
}

void tst_Dashboard::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    QVERIFY(startServer());
    m_settings = std::make_unique<Herald::Settings>(m_dir->filePath(u"dashboard.ini"_s));
    m_window = std::make_unique<Herald::MainWindow>(m_settings.get());
    m_window->adminClient()->backoff().setRange(ms(30), ms(500));
    m_window->setSampleInterval(ms(100));
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    m_window->watch(QUrl(u"ws://127.0.0.1:%1"_s.arg(m_port)), QString());
    QTRY_COMPARE(m_window->adminClient()->state(), State::Connected);
    QTRY_VERIFY(text("connectionState").startsWith(u"Connected to 127.0.0.1:%1"_s.arg(m_port)));
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
    QVERIFY2(text("composeResult").contains(u"channel name"_s), qPrintable(text("composeResult")));
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
    bool filled = false;
    QTimer::singleShot(0, this, [&] {
        auto *dialog = qobject_cast<Herald::SettingsDialog *>(QApplication::activeModalWidget());
        if (!dialog)
            return;
        openedOn = dialog->serverUrl();
        auto *url = dialog->findChild<QLineEdit *>(u"settingsUrl"_s);
        auto *token = dialog->findChild<QLineEdit *>(u"settingsToken"_s);
        auto *muted = dialog->findChild<QCheckBox *>(u"settingsMuted"_s);
        if (url && token && muted) {
            url->clear();
            QTest::keyClicks(url, u"http://127.0.0.1:%1"_s.arg(other.port()));
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
