#include "datarows.h"
#include "desktopnotifier.h"
#include "dunstdesktop.h"
#include "historymodel.h"
#include "notificationcenter.h"
#include "notifiertest.h"
#include "processrun.h"

#include <QDBusConnection>
#include <QDBusConnectionInterface>
#include <QDBusMessage>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace Qt::StringLiterals;
using Herald::DesktopNotifier;
using Herald::Message;
using Herald::NotificationAction;
using Herald::NotificationCenter;
using HeraldTest::notification;

using HeraldTest::DunstDesktop;
using Popup = DunstDesktop::Popup;

// The notifier against a real notification daemon: Debian's dunst on a private session bus
// (dbus-session.sh runs this under dbus-run-session) with an Xvfb display, both started here.
class TestDesktopNotifier : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        if (const QString why = DunstDesktop::missing({u"busctl"_s}); !why.isEmpty())
            QSKIP(qPrintable(why));
        QVERIFY(m_dir.isValid());
        QVERIFY(QDBusConnection::sessionBus().isConnected());

        // The context menu (right click, `dunstctl context`) runs `dmenu` with one line per action and
        // invokes the line it prints: this one prints the line holding the label in want.txt.
        writeFile(u"dmenu.sh"_s,
                  "#!/bin/sh\ngrep -m1 -F \"$(cat '" + QFile::encodeName(path(u"want.txt"_s)) + "')\"\n");
        QVERIFY(QFile::setPermissions(path(u"dmenu.sh"_s),
                                      QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
        QVERIFY(
            m_desktop.start(m_dir.path(), "    dmenu = " + QFile::encodeName(path(u"dmenu.sh"_s)) + "\n"));
        const QDBusMessage info = QDBusConnection::sessionBus().call(QDBusMessage::createMethodCall(
            u"org.freedesktop.Notifications"_s, u"/org/freedesktop/Notifications"_s,
            u"org.freedesktop.Notifications"_s, u"GetServerInformation"_s));
        QCOMPARE(info.type(), QDBusMessage::ReplyMessage);
        QCOMPARE(info.arguments().value(0).toString(), u"dunst"_s);
    }

    void cleanupTestCase() { m_desktop.stop(); }

    // Each test starts with no pop-up open, and sees only what came into dunst's history after this (dunst
    // 1.9 cannot clear its history over D-Bus).
    void init() { m_desktop.reset(); }

    // One message: exactly one pop-up, with its title, text and the urgency of its priority.
    void oneNotification_data()
    {
        QTest::addColumn<int>("priority");
        QTest::addColumn<QString>("title");
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("urgency");

        QTest::newRow("priority 1") << 1 << u"Backup done"_s << u"42 files"_s << u"low"_s;
        QTest::newRow("priority 2") << 2 << u"Low"_s << u"two"_s << u"low"_s;
        QTest::newRow("no priority") << 0 << u"Default"_s << u"three"_s << u"normal"_s;
        QTest::newRow("priority 4") << 4 << u"High"_s << u"four"_s << u"normal"_s;
        QTest::newRow("priority 5") << 5 << u"Build 7 failed"_s << u"see the log"_s << u"critical"_s;
        QTest::newRow("markup stays text") << 3 << u"a <b>b</b>"_s << u"x < y & z"_s << u"normal"_s;
    }
    void oneNotification()
    {
        QFETCH(int, priority);
        QFETCH(QString, title);
        QFETCH(QString, text);
        QFETCH(QString, urgency);

        DesktopNotifier notifier;
        NotificationCenter center(&notifier);
        QSignalSpy shown(&notifier, &DesktopNotifier::shown);
        Message m = notification(1, u"user:1"_s, priority);
        m.title = title;
        m.message = text;
        center.addMessage(m);
        center.flush();
        QTRY_COMPARE_WITH_TIMEOUT(shown.size(), 1, 10'000);
        QCOMPARE(shown.constFirst().at(1).toBool(), false); // over D-Bus, not the tray fallback

        const QList<Popup> popups = closeAllAndListHistory();
        QCOMPARE(popups.size(), 1);
        QCOMPARE(popups.constFirst().summary, title);
        QCOMPARE(popups.constFirst().body, text);
        QCOMPARE(DunstDesktop::urgencyOfTimeout(popups.constFirst().timeoutS), urgency);
    }

    // Twelve at once (a resume after an outage): one summary, and the same twelve again show nothing.
    void burstIsOneSummary()
    {
        DesktopNotifier notifier;
        NotificationCenter center(&notifier);
        QSignalSpy shown(&notifier, &DesktopNotifier::shown);
        for (qint64 id = 101; id <= 112; ++id)
            center.addMessage(notification(id, u"user:1"_s, id == 105 ? 5 : 3));
        center.flush();
        QTRY_COMPARE_WITH_TIMEOUT(shown.size(), 1, 10'000);
        for (qint64 id = 101; id <= 112; ++id)
            center.addMessage(notification(id));
        center.flush();
        sentinel(notifier, shown);
        if (QTest::currentTestFailed())
            return;

        const QList<Popup> popups = closeAllAndListHistory();
        QCOMPARE(popups.size(), 2);
        QCOMPARE(popups.at(0).summary, u"12 missed notifications"_s);
        QCOMPARE(popups.at(0).body, u"Title 101\nTitle 102\nTitle 103\nand 9 more"_s);
        QCOMPARE(DunstDesktop::urgencyOfTimeout(popups.at(0).timeoutS),
                 u"critical"_s); // one of them was urgent
        QCOMPARE(popups.at(1).summary, u"sentinel"_s);
        QCOMPARE(center.history()->rowCount(), 12);
        QCOMPARE(center.history()->unreadCount(), 12);
    }

    // Muted, or delivered in quiet hours: in the history, but no pop-up.
    void nothingWhenMutedOrQuiet_data()
    {
        QTest::addColumn<bool>("muted");
        QTest::addColumn<bool>("quiet");
        QTest::newRow("muted") << true << false;
        QTest::newRow("quiet") << false << true;
    }
    void nothingWhenMutedOrQuiet()
    {
        QFETCH(bool, muted);
        QFETCH(bool, quiet);
        DesktopNotifier notifier;
        NotificationCenter center(&notifier);
        QSignalSpy shown(&notifier, &DesktopNotifier::shown);
        center.setMuted(muted);
        for (qint64 id = 1; id <= 2; ++id) {
            Message m = notification(id);
            m.notification.quiet = quiet;
            center.addMessage(m);
        }
        center.flush();
        sentinel(notifier, shown);
        if (QTest::currentTestFailed())
            return;
        const QList<Popup> popups = closeAllAndListHistory();
        QCOMPARE(popups.size(), 1);
        QCOMPARE(popups.constFirst().summary, u"sentinel"_s);
        QCOMPARE(center.history()->unreadCount(), 2);
    }

    // A button chosen in dunst's context menu reaches actionInvoked with its index; a reply button asks
    // the connection to publish its reply.
    void actionReachesActionInvoked_data()
    {
        QTest::addColumn<QString>("label");
        QTest::addColumn<QString>("action");
        QTest::newRow("first button") << u"Open log"_s << u"action-0"_s;
        QTest::newRow("second button (reply)") << u"Retry"_s << u"action-1"_s;
    }
    void actionReachesActionInvoked()
    {
        QFETCH(QString, label);
        QFETCH(QString, action);
        DesktopNotifier notifier;
        NotificationCenter center(&notifier);
        QSignalSpy shown(&notifier, &DesktopNotifier::shown);
        QSignalSpy invoked(&notifier, &DesktopNotifier::actionInvoked);
        QSignalSpy replies(&center, &NotificationCenter::replyRequested);
        QSignalSpy urls(&center, &NotificationCenter::openUrlRequested);
        Message m = notification(57, u"user:1"_s, 5);
        m.notification.actions = {
            NotificationAction{
                NotificationAction::Kind::View, u"Open log"_s, u"https://ci.example.com/7/log"_s, {}, {}},
            NotificationAction{
                NotificationAction::Kind::Reply, u"Retry"_s, {}, u"ci.commands"_s, u"retry 7"_s},
        };
        center.addMessage(m);
        center.flush();
        QTRY_COMPARE_WITH_TIMEOUT(shown.size(), 1, 10'000);
        QTRY_COMPARE_WITH_TIMEOUT(displayedCount(), 1, 10'000);

        writeFile(u"want.txt"_s, label.toUtf8());
        dunstctl({u"context"_s});
        QTRY_COMPARE_WITH_TIMEOUT(invoked.size(), 1, 10'000);
        QCOMPARE(invoked.constFirst().at(0).toLongLong(), 57);
        QCOMPARE(invoked.constFirst().at(1).toString(), action);
        QVERIFY(center.history()->isRead(57)); // acting on it reads it
        if (action == "action-1"_L1) {
            QCOMPARE(replies.size(), 1);
            QCOMPARE(replies.constFirst().at(0).toLongLong(), 57);
            const auto reply = replies.constFirst().at(1).value<NotificationAction>();
            QCOMPARE(reply.channel, u"ci.commands"_s);
            QCOMPARE(reply.message, u"retry 7"_s);
            QCOMPARE(urls.size(), 0);
        } else {
            QCOMPARE(replies.size(), 0);
            QCOMPARE(urls.size(), 1);
            QCOMPARE(urls.constFirst().at(0).toUrl(), QUrl(u"https://ci.example.com/7/log"_s));
        }
    }

    // A click (dunst's default action) reaches clicked(); the click URL is opened.
    void clickReachesClicked()
    {
        DesktopNotifier notifier;
        NotificationCenter center(&notifier);
        QSignalSpy shown(&notifier, &DesktopNotifier::shown);
        QSignalSpy clicked(&notifier, &DesktopNotifier::clicked);
        QSignalSpy urls(&center, &NotificationCenter::openUrlRequested);
        QSignalSpy read(&center, &NotificationCenter::readRequested);
        Message m = notification(58);
        m.notification.click = u"https://ci.example.com/7"_s;
        center.addMessage(m);
        center.flush();
        QTRY_COMPARE_WITH_TIMEOUT(shown.size(), 1, 10'000);
        QTRY_COMPARE_WITH_TIMEOUT(displayedCount(), 1, 10'000);
        dunstctl({u"action"_s, u"0"_s});
        QTRY_COMPARE_WITH_TIMEOUT(clicked.size(), 1, 10'000);
        QCOMPARE(clicked.constFirst().at(0).toLongLong(), 58);
        QCOMPARE(urls.size(), 1);
        QCOMPARE(urls.constFirst().at(0).toUrl(), QUrl(u"https://ci.example.com/7"_s));
        QCOMPARE(read.size(), 1);
        QCOMPARE(read.constFirst().at(0).value<QList<qint64>>(), QList<qint64>{58});
    }

    // Withdrawn, read elsewhere, or expired: its pop-up closes (CloseNotification).
    void goneClosesThePopup_data()
    {
        HeraldTest::namedRows("how", {"withdrawn", "read elsewhere", "expired"});
    }
    void goneClosesThePopup()
    {
        QFETCH(QString, how);
        DesktopNotifier notifier;
        NotificationCenter center(&notifier);
        QSignalSpy shown(&notifier, &DesktopNotifier::shown);
        Message m = notification(60);
        const QDateTime now = QDateTime::currentDateTimeUtc();
        m.notification.expires = now.addSecs(60);
        center.addMessage(m);
        center.flush();
        QTRY_COMPARE_WITH_TIMEOUT(shown.size(), 1, 10'000);
        QTRY_COMPARE_WITH_TIMEOUT(displayedCount(), 1, 10'000);
        if (how == "withdrawn"_L1) {
            Message w;
            w.id = 61;
            w.channel = u"user:1"_s;
            w.type = u"withdrawn"_s;
            w.notification.withdraws = 60;
            center.addMessage(w);
        } else if (how == "read elsewhere"_L1) {
            center.setRead({60});
        } else {
            center.removeExpired(now.addSecs(61));
            QCOMPARE(center.history()->rowCount(), 0);
        }
        QTRY_COMPARE_WITH_TIMEOUT(displayedCount(), 0, 10'000);
    }

    // Without a notification service (here: no bus at all) the pop-up goes to the tray icon's balloon.
    void fallbackWithoutService()
    {
        DesktopNotifier notifier(QDBusConnection::connectToBus(u"unix:path=/nonexistent/bus"_s, u"nobus"_s));
        QVERIFY(!notifier.hasService());
        QSignalSpy shown(&notifier, &DesktopNotifier::shown);
        Herald::DesktopNotification n;
        n.messageId = 3;
        n.summary = u"s"_s;
        notifier.show(n);
        QCOMPARE(shown.size(), 1);
        QCOMPARE(shown.constFirst().at(1).toBool(), true);
        QCOMPARE(notifier.fallbackCount(), 1);
    }

private:
    QString path(const QString &name) const { return m_dir.filePath(name); }

    void writeFile(const QString &name, const QByteArray &content)
    {
        QFile file(path(name));
        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write(content);
    }

    HeraldTest::ProcessRun dunstctl(const QStringList &args) { return m_desktop.dunstctl(args); }
    int displayedCount() { return m_desktop.displayedCount(); }
    QList<Popup> closeAllAndListHistory() { return m_desktop.closeAllAndListHistory(); }
    QList<Popup> history() { return m_desktop.history(); }

    // A last pop-up, after which nothing sent before it can still be on its way (one connection's messages
    // arrive in order): what a test that expects nothing waits for instead of a time.
    void sentinel(DesktopNotifier &notifier, QSignalSpy &shown)
    {
        const auto before = shown.size();
        Herald::DesktopNotification n;
        n.messageId = 999'999;
        n.summary = u"sentinel"_s;
        notifier.show(n);
        QTRY_COMPARE_WITH_TIMEOUT(shown.size(), before + 1, 10'000);
    }

    QTemporaryDir m_dir;
    DunstDesktop m_desktop;
};

QTEST_MAIN(TestDesktopNotifier)
#include "tst_desktopnotifier.moc"
