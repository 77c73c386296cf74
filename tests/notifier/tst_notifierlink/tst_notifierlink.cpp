#include "auth.h"
#include "desktopnotifier.h"
#include "dunstdesktop.h"
#include "historymodel.h"
#include "notificationcenter.h"
#include "notifierlink.h"
#include "notifiersettings.h"
#include "processrun.h"
#include "server.h"
#include "testclient.h"
#include "testserver.h"
#include "trayapp.h"

#include <QDBusConnection>
#include <QDBusConnectionInterface>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace Qt::StringLiterals;
using namespace HeraldTest;
using Herald::Client;
using Herald::DesktopNotifier;
using Herald::NotifierLink;
using ms = std::chrono::milliseconds;

using Popup = DunstDesktop::Popup;

// herald-notifier's connection (NotifierLink) end to end: a real herald-server in-process on a free loopback
// port, the link's Herald::Client, the tray's NotificationCenter and DesktopNotifier, and a real dunst on a
// private session bus (dbus-session.sh) with an Xvfb display, as a person's desktop would have them.
class tst_NotifierLink : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();
    void cleanup();

    void publishShowsOne_data();
    void publishShowsOne();
    void outageMakesOneSummary();
    void bigReplayIsOneSummary();
    void readElsewhereZeroesCount_data();
    void readElsewhereZeroesCount();
    void readHereReachesServer();
    void replyActionPublishes();
    void unreadListWithoutPopups();
    void quietHoursListNoPopup_data();
    void tokenFromKeyringLater();
    void updateThenWithdraw();
    void programShowsOne();
    void switchingUserStartsAfresh();
    void quietHoursListNoPopup();

private:
    bool startServer(quint16 port = 0);
    qint64 publish(const QJsonObject &fields);
    // The tray, its center and the link, connected as user 1 (resume file in the test's dir).
    void openLink();
    void sentinel();
    QList<Popup> closeAllAndListHistory() { return m_desktop.closeAllAndListHistory(); }
    QString path(const QString &name) const { return m_dir.filePath(name); }
    int unreadOnServer();

    QTemporaryDir m_dir;
    DunstDesktop m_desktop;
    std::unique_ptr<QTemporaryDir> m_data;
    std::unique_ptr<Herald::Server> m_server;
    quint16 m_port = 0;
    std::unique_ptr<Herald::NotifierSettings> m_settings;
    std::unique_ptr<DesktopNotifier> m_notifier;
    std::unique_ptr<Herald::TrayApp> m_tray;
    std::unique_ptr<NotifierLink> m_link;
    std::unique_ptr<QSignalSpy> m_shown;
};

void tst_NotifierLink::initTestCase()
{
    if (const QString why = DunstDesktop::missing(); !why.isEmpty())
        QSKIP(qPrintable(why));
    QVERIFY(m_dir.isValid());
    QVERIFY(m_desktop.start(m_dir.path(), "    sort = no\n"));
}

void tst_NotifierLink::cleanupTestCase()
{
    m_desktop.stop();
}

void tst_NotifierLink::init()
{
    m_data = std::make_unique<QTemporaryDir>();
    QVERIFY(m_data->isValid());
    QVERIFY(startServer());
    m_desktop.reset();
}

void tst_NotifierLink::cleanup()
{
    m_link.reset();
    m_shown.reset();
    m_tray.reset();
    m_notifier.reset();
    m_settings.reset();
    QVERIFY(stopTestServer(m_server));
    m_data.reset();
}

bool tst_NotifierLink::startServer(quint16 port)
{
    m_server =
        startTestServer(m_data->filePath(u"data"_s), [port](Herald::ServerConfig &c) { c.port = port; });
    m_port = m_server ? m_server->port() : 0;
    return m_server != nullptr;
}

qint64 tst_NotifierLink::publish(const QJsonObject &fields)
{
    const HttpResult r = http("POST", m_port, u"/api/publish"_s, Herald::compactJson(fields));
    if (r.status != 202)
        qWarning() << "publish answered" << r.status << r.body;
    return r.json().value("id"_L1).toInteger();
}

int tst_NotifierLink::unreadOnServer()
{
    const HttpResult r = http("GET", m_port, u"/api/notifications?user_id=1"_s);
    return r.status == 200 ? r.json().value("unread"_L1).toInt() : -1;
}

void tst_NotifierLink::openLink()
{
    m_settings = std::make_unique<Herald::NotifierSettings>(m_data->filePath(u"notifier.ini"_s));
    m_notifier = std::make_unique<DesktopNotifier>();
    m_tray = std::make_unique<Herald::TrayApp>(m_settings.get(), m_notifier.get());
    m_shown = std::make_unique<QSignalSpy>(m_notifier.get(), &DesktopNotifier::shown);
    m_link = std::make_unique<NotifierLink>(m_tray->center(), m_tray.get());
    NotifierLink::Config config;
    config.server = QUrl(u"ws://127.0.0.1:%1"_s.arg(m_port));
    config.userId = u"1"_s;
    config.channels = {u"news"_s};
    config.resumeFile = m_data->filePath(u"resume.json"_s);
    QVERIFY(m_link->start(config));
    QTRY_COMPARE(m_link->client()->state(), Client::State::Connected);
    QTRY_VERIFY(m_tray->toolTip().contains(u"connected"_s));
}

// A last pop-up, after which nothing shown before it can still be on its way to dunst.
void tst_NotifierLink::sentinel()
{
    // Whatever the center still gathers is decided on first: the sentinel comes after it.
    m_tray->center()->flush();
    const auto before = m_shown->size();
    Herald::DesktopNotification n;
    n.messageId = 999'999;
    n.summary = u"sentinel"_s;
    m_notifier->show(n);
    QTRY_COMPARE_WITH_TIMEOUT(m_shown->size(), before + 1, 10'000);
}

// (1) A publish to user:1 (as curl would): exactly one pop-up, with its title, text and urgency.
void tst_NotifierLink::publishShowsOne_data()
{
    QTest::addColumn<int>("priority");
    QTest::addColumn<QString>("channel");
    QTest::addColumn<QString>("urgency");
    QTest::newRow("user queue, priority 1") << 1 << u"user:1"_s << u"low"_s;
    QTest::newRow("user queue, default") << 3 << u"user:1"_s << u"normal"_s;
    QTest::newRow("user queue, priority 5") << 5 << u"user:1"_s << u"critical"_s;
    QTest::newRow("a chosen channel") << 4 << u"news"_s << u"normal"_s;
}
void tst_NotifierLink::publishShowsOne()
{
    QFETCH(int, priority);
    QFETCH(QString, channel);
    QFETCH(QString, urgency);
    openLink();
    if (QTest::currentTestFailed())
        return;
    publish(QJsonObject{{"channel"_L1, channel},
                        {"title"_L1, u"Build 7 failed"_s},
                        {"message"_L1, u"test_login timed out"_s},
                        {"priority"_L1, priority}});
    QTRY_COMPARE_WITH_TIMEOUT(m_shown->size(), 1, 10'000);
    QCOMPARE(m_shown->constFirst().at(1).toBool(), false); // over D-Bus, not the tray's balloon
    publish(QJsonObject{{"channel"_L1, u"elsewhere"_s}, {"title"_L1, u"not followed"_s}});
    sentinel();
    const QList<Popup> popups = closeAllAndListHistory();
    QCOMPARE(popups.size(), 2);
    QCOMPARE(popups.at(0).summary, u"Build 7 failed"_s);
    QCOMPARE(popups.at(0).body, u"test_login timed out"_s);
    QCOMPARE(DunstDesktop::urgencyOfTimeout(popups.at(0).timeoutS), urgency);
    QCOMPARE(popups.at(1).summary, u"sentinel"_s);
    QCOMPARE(m_tray->center()->history()->unreadCount(), 1);
}

// (2) The server goes down, five are published meanwhile, it comes back on the same port and data dir:
// one summary of five, nothing twice, and the tray said it was retrying.
void tst_NotifierLink::outageMakesOneSummary()
{
    openLink();
    if (QTest::currentTestFailed())
        return;
    publish(QJsonObject{{"channel"_L1, u"user:1"_s}, {"title"_L1, u"before"_s}});
    QTRY_COMPARE_WITH_TIMEOUT(m_shown->size(), 1, 10'000);

    // Decided on at once however slowly the replay arrives (a big one comes in pages): not on a timer.
    m_tray->center()->setGatherInterval(1);
    Client *client = m_link->client();
    client->backoff().setRange(ms(60000), ms(60000)); // the publishes below happen while it is offline
    const quint16 port = m_port;
    QVERIFY(stopTestServer(m_server));
    QTRY_COMPARE(client->state(), Client::State::Offline);
    QTRY_VERIFY(m_tray->toolTip().contains(u"retrying in"_s));
    // It counts down (from 60 s here), not just says when the next try was planned.
    const QString planned = m_tray->toolTip();
    QTRY_VERIFY_WITH_TIMEOUT(m_tray->toolTip() != planned && m_tray->toolTip().contains(u"retrying in"_s),
                             3000);
    QVERIFY(startServer(port));
    for (int i = 1; i <= 5; ++i)
        publish(QJsonObject{{"channel"_L1, i % 2 ? u"user:1"_s : u"news"_s},
                            {"title"_L1, u"missed %1"_s.arg(i)},
                            {"priority"_L1, i == 4 ? 5 : 3}});
    QSignalSpy finished(client, &Client::replayFinished);
    client->open(); // the retry, now rather than in a minute
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 20'000);
    QTRY_COMPARE_WITH_TIMEOUT(m_shown->size(), 2, 10'000);
    QTRY_VERIFY(m_tray->toolTip().contains(u"connected"_s));

    // Once more down and up with nothing missed: nothing more pops up.
    client->backoff().setRange(ms(50), ms(200));
    QVERIFY(stopTestServer(m_server));
    QTRY_COMPARE(client->state(), Client::State::Offline);
    QVERIFY(startServer(port));
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), Client::State::Connected, 20'000);
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 2, 20'000);
    sentinel();

    const QList<Popup> popups = closeAllAndListHistory();
    QCOMPARE(popups.size(), 3);
    QCOMPARE(popups.at(0).summary, u"before"_s);
    QCOMPARE(popups.at(1).summary, u"5 missed notifications"_s);
    QCOMPARE(popups.at(1).body, u"missed 1\nmissed 2\nmissed 3\nand 2 more"_s);
    QCOMPARE(DunstDesktop::urgencyOfTimeout(popups.at(1).timeoutS), u"critical"_s); // one of them was urgent
    QCOMPARE(popups.at(2).summary, u"sentinel"_s);
    QCOMPARE(m_tray->center()->history()->rowCount(), 6);
    QCOMPARE(m_tray->center()->history()->unreadCount(), 6);
}

// A replay the server sends in pages (hundreds of messages) arrives over many reads: still one summary, and
// every message listed once.
void tst_NotifierLink::bigReplayIsOneSummary()
{
    constexpr int Missed = 800;
    openLink();
    if (QTest::currentTestFailed())
        return;
    m_tray->center()->setGatherInterval(1); // the link, not the center's timer, must hold the replay together
    Client *client = m_link->client();
    client->backoff().setRange(ms(60000), ms(60000));
    const quint16 port = m_port;
    QVERIFY(stopTestServer(m_server));
    QTRY_COMPARE(client->state(), Client::State::Offline);
    QVERIFY(startServer(port));
    for (int i = 1; i <= Missed; ++i)
        publish(QJsonObject{{"channel"_L1, u"news"_s},
                            {"title"_L1, u"missed %1"_s.arg(i)},
                            {"message"_L1, QString(200, u'x')}});
    QSignalSpy finished(client, &Client::replayFinished);
    client->open();
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 60'000);
    QTRY_COMPARE_WITH_TIMEOUT(m_shown->size(), 1, 10'000);
    sentinel();
    const QList<Popup> popups = closeAllAndListHistory();
    QCOMPARE(popups.size(), 2);
    QCOMPARE(popups.at(0).summary, u"%1 missed notifications"_s.arg(Missed));
    QCOMPARE(popups.at(1).summary, u"sentinel"_s);
    QCOMPARE(m_tray->center()->history()->rowCount(), Missed);
}

// (3) Read in the browser (REST, as the page does): the tray's count follows through reads:1.
void tst_NotifierLink::readElsewhereZeroesCount_data()
{
    QTest::addColumn<bool>("all");
    QTest::newRow("read-all") << true;
    QTest::newRow("read ids") << false;
}
void tst_NotifierLink::readElsewhereZeroesCount()
{
    QFETCH(bool, all);
    openLink();
    if (QTest::currentTestFailed())
        return;
    const qint64 a = publish(QJsonObject{{"channel"_L1, u"user:1"_s}, {"title"_L1, u"one"_s}});
    const qint64 b = publish(QJsonObject{{"channel"_L1, u"user:1"_s}, {"title"_L1, u"two"_s}});
    Herald::HistoryModel *history = m_tray->center()->history();
    QTRY_COMPARE(history->unreadCount(), 2);
    QTRY_VERIFY(m_tray->toolTip().contains(u"2 unread notifications"_s));

    QElapsedTimer clock;
    clock.start();
    const HttpResult r =
        all ? http("POST", m_port, u"/api/notifications/read-all?user_id=1"_s)
            : http("POST", m_port, u"/api/notifications/read"_s,
                   Herald::compactJson(QJsonObject{{"user_id"_L1, u"1"_s}, {"ids"_L1, QJsonArray{a, b}}}));
    QCOMPARE(r.status, 200);
    QTRY_COMPARE(history->unreadCount(), 0);
    qInfo() << "unread count zero" << clock.elapsed() << "ms after the REST call was sent";
    QVERIFY(m_tray->toolTip().contains(u"0 unread notifications"_s));
    QVERIFY(history->isRead(a) && history->isRead(b));
}

// The other way round: read in the notifier's history window, read on the server (and so in the page).
void tst_NotifierLink::readHereReachesServer()
{
    openLink();
    if (QTest::currentTestFailed())
        return;
    const qint64 a = publish(QJsonObject{{"channel"_L1, u"user:1"_s}, {"title"_L1, u"one"_s}});
    publish(QJsonObject{{"channel"_L1, u"user:1"_s}, {"title"_L1, u"two"_s}});
    publish(QJsonObject{{"channel"_L1, u"user:1"_s}, {"title"_L1, u"three"_s}});
    QTRY_COMPARE(m_tray->center()->history()->unreadCount(), 3);
    QCOMPARE(unreadOnServer(), 3);
    m_tray->center()->markReadByUser({a});
    QTRY_COMPARE(unreadOnServer(), 2);
    m_tray->center()->markAllReadByUser();
    QTRY_COMPARE(unreadOnServer(), 0);
    QCOMPARE(m_tray->center()->history()->unreadCount(), 0);
}

// (4) A reply button pressed (the notifier's actionInvoked, as a click in dunst gives it): its message is
// published to its channel.
void tst_NotifierLink::replyActionPublishes()
{
    openLink();
    if (QTest::currentTestFailed())
        return;
    const QJsonArray actions{QJsonObject{{"action"_L1, u"view"_s},
                                         {"label"_L1, u"Open log"_s},
                                         {"url"_L1, u"https://ci.example.com/7"_s}},
                             QJsonObject{{"action"_L1, u"reply"_s},
                                         {"label"_L1, u"Retry"_s},
                                         {"channel"_L1, u"ci.commands"_s},
                                         {"message"_L1, u"retry 7"_s}}};
    const qint64 id = publish(
        QJsonObject{{"channel"_L1, u"user:1"_s}, {"title"_L1, u"Build 7 failed"_s}, {"actions"_L1, actions}});
    QTRY_COMPARE_WITH_TIMEOUT(m_shown->size(), 1, 10'000);
    QSignalSpy published(m_link.get(), &NotifierLink::replyPublished);
    Q_EMIT m_notifier->actionInvoked(id, u"action-1"_s);
    QTRY_COMPARE(published.size(), 1);
    QCOMPARE(published.constFirst().at(0).toLongLong(), id);
    QCOMPARE(published.constFirst().at(1).toBool(), true);
    const HttpResult r = http("GET", m_port, u"/api/channels/ci.commands/history"_s);
    QCOMPARE(r.status, 200);
    const QJsonArray messages = r.json().value("messages"_L1).toArray();
    QCOMPARE(messages.size(), 1);
    QCOMPARE(messages.at(0).toObject().value("message"_L1).toString(), u"retry 7"_s);
    QTRY_COMPARE(unreadOnServer(), 0); // acting on it read it, here and on the server
}

// On start, the user's queue fills the history window (read ones as read) and nothing pops up.
void tst_NotifierLink::unreadListWithoutPopups()
{
    QList<qint64> ids;
    for (int i = 1; i <= 3; ++i)
        ids.append(publish(QJsonObject{{"channel"_L1, u"user:1"_s}, {"title"_L1, u"earlier %1"_s.arg(i)}}));
    QCOMPARE(http("POST", m_port, u"/api/notifications/%1/read"_s.arg(ids.at(0))).status, 200);
    openLink();
    if (QTest::currentTestFailed())
        return;
    Herald::HistoryModel *history = m_tray->center()->history();
    QTRY_COMPARE(history->rowCount(), 3);
    QCOMPARE(history->unreadCount(), 2);
    QVERIFY(history->isRead(ids.at(0)));
    sentinel();
    const QList<Popup> popups = closeAllAndListHistory();
    QCOMPARE(popups.size(), 1);
    QCOMPARE(popups.at(0).summary, u"sentinel"_s);
}

// Quiet hours (here all day) and min_priority 4: below it listed without a pop-up, on the user's queue (the
// server marks it quiet) and on a chosen channel (the notifier applies the rule); priority 5 still pops up.
void tst_NotifierLink::quietHoursListNoPopup_data()
{
    QTest::addColumn<QString>("channel");
    QTest::newRow("user queue") << u"user:1"_s;
    QTest::newRow("a chosen channel") << u"news"_s;
}
void tst_NotifierLink::quietHoursListNoPopup()
{
    QFETCH(QString, channel);
    openLink();
    if (QTest::currentTestFailed())
        return;
    const QJsonObject settings{
        {"quiet_hours"_L1,
         QJsonObject{{"start"_L1, u"00:00"_s}, {"end"_L1, u"00:00"_s}, {"timezone"_L1, u"UTC"_s}}},
        {"min_priority"_L1, 4}};
    QCOMPARE(http("PUT", m_port, u"/api/users/1/settings"_s, Herald::compactJson(settings)).status, 200);
    QTRY_VERIFY(m_link->quietRule().hasWindow); // the settings event on reads:1
    const qint64 quiet =
        publish(QJsonObject{{"channel"_L1, channel}, {"title"_L1, u"quiet"_s}, {"priority"_L1, 3}});
    publish(QJsonObject{{"channel"_L1, channel}, {"title"_L1, u"urgent"_s}, {"priority"_L1, 5}});
    QTRY_COMPARE_WITH_TIMEOUT(m_shown->size(), 1, 10'000);
    sentinel();
    const QList<Popup> popups = closeAllAndListHistory();
    QCOMPARE(popups.size(), 2);
    QCOMPARE(popups.at(0).summary, u"urgent"_s);
    QCOMPARE(popups.at(1).summary, u"sentinel"_s);
    Herald::HistoryModel *history = m_tray->center()->history();
    QCOMPARE(history->rowCount(), 2);
    QVERIFY(history->message(quiet));
    QVERIFY(history->message(quiet)->notification.quiet);
}

// Token mode, the token read from the keyring after the start (TokenStore answers asynchronously): the
// link waits, then follows the token's user (its sub) and sends the token with its REST calls too.
void tst_NotifierLink::tokenFromKeyringLater()
{
    const QByteArray secret = "notifier-link-test-secret-of-enough-length";
    QFile f(m_data->filePath(u"secret"_s));
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(secret);
    f.close();
    QVERIFY(stopTestServer(m_server));
    m_server = startTestServer(m_data->filePath(u"data"_s), [this](Herald::ServerConfig &c) {
        c.authMode = Herald::ServerConfig::AuthMode::Token;
        c.jwtSecretFile = m_data->filePath(u"secret"_s);
    });
    QVERIFY(m_server);
    m_port = m_server->port();
    const Herald::TokenVerifier verifier(secret);
    const QByteArray admin = "Bearer " + verifier.mint(u"root"_s, Herald::Role::Admin, std::chrono::hours(1));
    const QString token =
        QString::fromLatin1(verifier.mint(u"7"_s, Herald::Role::Subscriber, std::chrono::hours(1)));
    QCOMPARE(NotifierLink::subjectOfToken(token), u"7"_s);

    m_settings = std::make_unique<Herald::NotifierSettings>(m_data->filePath(u"notifier.ini"_s));
    m_notifier = std::make_unique<DesktopNotifier>();
    m_tray = std::make_unique<Herald::TrayApp>(m_settings.get(), m_notifier.get());
    m_shown = std::make_unique<QSignalSpy>(m_notifier.get(), &DesktopNotifier::shown);
    m_link = std::make_unique<NotifierLink>(m_tray->center(), m_tray.get());
    NotifierLink::Config config;
    config.server = QUrl(u"ws://127.0.0.1:%1"_s.arg(m_port));
    config.resumeFile = m_data->filePath(u"resume.json"_s);
    QVERIFY(m_link->start(config));
    QVERIFY(m_tray->toolTip().contains(u"waiting for the token"_s));
    m_link->setToken(token);
    QTRY_COMPARE(m_link->client()->state(), Client::State::Connected);
    QCOMPARE(m_link->userId(), u"7"_s);

    const HttpResult r =
        http("POST", m_port, u"/api/publish"_s,
             Herald::compactJson(QJsonObject{{"channel"_L1, u"user:7"_s}, {"title"_L1, u"for 7"_s}}),
             {{"Authorization", admin}});
    QCOMPARE(r.status, 202);
    QTRY_COMPARE_WITH_TIMEOUT(m_shown->size(), 1, 10'000);
    m_tray->center()->markAllReadByUser(); // REST with the token: 401 without it
    QTRY_COMPARE(http("GET", m_port, u"/api/notifications?user_id=7"_s, {}, {{"Authorization", admin}})
                     .json()
                     .value("unread"_L1)
                     .toInt(-1),
                 0);
    sentinel();
    const QList<Popup> popups = closeAllAndListHistory();
    QCOMPARE(popups.size(), 2);
    QCOMPARE(popups.at(0).summary, u"for 7"_s);
}

// An update takes the old one's row and pop-up; a withdrawal removes the row and closes the pop-up.
void tst_NotifierLink::updateThenWithdraw()
{
    openLink();
    if (QTest::currentTestFailed())
        return;
    Herald::HistoryModel *history = m_tray->center()->history();
    const qint64 first = publish(
        QJsonObject{{"channel"_L1, u"user:1"_s}, {"title"_L1, u"Build 7 running"_s}, {"priority"_L1, 5}});
    QTRY_COMPARE_WITH_TIMEOUT(m_shown->size(), 1, 10'000);
    const qint64 update = publish(QJsonObject{{"channel"_L1, u"user:1"_s},
                                              {"title"_L1, u"Build 7 failed"_s},
                                              {"priority"_L1, 5},
                                              {"replaces"_L1, first}});
    QVERIFY(update > first);
    QTRY_VERIFY(history->message(update));
    QCOMPARE(history->rowCount(), 1);
    QVERIFY(!history->message(first));
    QTRY_COMPARE_WITH_TIMEOUT(m_shown->size(), 2, 10'000);
    QCOMPARE(m_desktop.displayedCount(),
             1); // replaced on screen, not a second

    QCOMPARE(http("DELETE", m_port, u"/api/messages/%1"_s.arg(update)).status, 200);
    QTRY_COMPARE(history->rowCount(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(m_desktop.displayedCount(), 0, 10'000);
}

// The program itself (main.cpp's wiring): herald-notifier --server … --user 1, then a publish to user:1 as
// curl would send it: one pop-up from it, and its position on disk in its data directory.
void tst_NotifierLink::programShowsOne()
{
    QProcess program;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(u"XDG_CONFIG_HOME"_s, m_data->filePath(u"config"_s));
    env.insert(u"XDG_DATA_HOME"_s, m_data->filePath(u"share"_s));
    program.setProcessEnvironment(env);
    program.setProcessChannelMode(QProcess::MergedChannels);
    program.start(QStringLiteral(HERALD_NOTIFIER_BINARY),
                  {u"--server"_s, u"ws://127.0.0.1:%1"_s.arg(m_port), u"--user"_s, u"1"_s});
    QVERIFY(program.waitForStarted());
    // Stopped however the test ends.
    const auto stop = qScopeGuard([&program] {
        program.terminate();
        if (!program.waitForFinished(5000)) {
            program.kill();
            program.waitForFinished();
        }
    });
    QByteArray output;
    QTRY_VERIFY2_WITH_TIMEOUT((output += program.readAll()).contains("Connected to"), output.constData(),
                              20'000);
    const qint64 id = publish(QJsonObject{{"channel"_L1, u"user:1"_s},
                                          {"title"_L1, u"From curl"_s},
                                          {"message"_L1, u"one pop-up"_s},
                                          {"priority"_L1, 5}});
    QTRY_COMPARE_WITH_TIMEOUT(m_desktop.displayedCount(), 1, 10'000);
    // One position per server and user, in the notifier's data dir.
    const QString resumeFile =
        NotifierLink::resumeFileFor(m_data->filePath(u"share/Herald/herald-notifier/resume.json"_s),
                                    Herald::Client::wsUrl(u"ws://127.0.0.1:%1"_s.arg(m_port)), u"1"_s);
    QVERIFY(resumeFile.contains(u"/resume-"_s));
    QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(resumeFile), 10'000);
    QTRY_COMPARE_WITH_TIMEOUT(
        [&] {
            QFile f(resumeFile);
            return f.open(QIODevice::ReadOnly)
                       ? QJsonDocument::fromJson(f.readAll()).object().value("last_id"_L1).toInteger()
                       : qint64(-1);
        }(),
        id, 10'000);
    const QList<Popup> popups = closeAllAndListHistory();
    QCOMPARE(popups.size(), 1);
    QCOMPARE(popups.at(0).summary, u"From curl"_s);
    QCOMPARE(popups.at(0).body, u"one pop-up"_s);
    QCOMPARE(DunstDesktop::urgencyOfTimeout(popups.at(0).timeoutS), u"critical"_s);
}

// Settings changed to another user of the same server (main.cpp starts the link again): the old user's rows
// go, the new one's unread list comes, and each keeps a position of its own, so the new user resumes from
// nothing of the old one's (which would skip the new queue's messages below it) and the old one finds its own
// on return.
void tst_NotifierLink::switchingUserStartsAfresh()
{
    openLink();
    if (QTest::currentTestFailed())
        return;
    Herald::HistoryModel *history = m_tray->center()->history();
    const qint64 forTwo = publish(QJsonObject{{"channel"_L1, u"user:2"_s}, {"title"_L1, u"for two"_s}});
    const qint64 forOne = publish(QJsonObject{{"channel"_L1, u"user:1"_s}, {"title"_L1, u"for one"_s}});
    QTRY_COMPARE(history->rowCount(), 1);
    QTRY_COMPARE(m_link->client()->lastId(), forOne);
    QVERIFY(forTwo < forOne);

    NotifierLink::Config config;
    config.server = QUrl(u"ws://127.0.0.1:%1"_s.arg(m_port));
    config.userId = u"2"_s;
    config.resumeFile = m_data->filePath(u"resume.json"_s);
    QVERIFY(m_link->start(config));
    QTRY_COMPARE(m_link->client()->state(), Client::State::Connected);
    // Only user 2's queue: its message below user 1's position is listed.
    QTRY_COMPARE(history->rowCount(), 1);
    QVERIFY(history->message(forTwo));
    QVERIFY(!history->message(forOne));
    QCOMPARE(history->unreadCount(), 1);
    const QString one = NotifierLink::resumeFileFor(config.resumeFile, m_link->client()->serverUrl(), u"1"_s);
    const QString two = NotifierLink::resumeFileFor(config.resumeFile, m_link->client()->serverUrl(), u"2"_s);
    QVERIFY(one != two);
    QVERIFY(QFile::exists(one));

    // A message for user 2 while it follows 2 arrives; back to user 1, which resumes from its own position.
    const qint64 later = publish(QJsonObject{{"channel"_L1, u"user:2"_s}, {"title"_L1, u"later for two"_s}});
    QTRY_COMPARE(history->rowCount(), 2);
    QTRY_COMPARE(m_link->client()->lastId(), later);
    m_link->client()->saveResumePosition();
    QVERIFY(QFile::exists(two));
    config.userId = u"1"_s;
    QVERIFY(m_link->start(config));
    QCOMPARE(m_link->client()->lastId(), forOne);
    QTRY_COMPARE(m_link->client()->state(), Client::State::Connected);
    QTRY_COMPARE(history->rowCount(), 1);
    QVERIFY(history->message(forOne));
}

QTEST_MAIN(tst_NotifierLink)
#include "tst_notifierlink.moc"
