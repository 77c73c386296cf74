#include "desktopnotifier.h"
#include "historymodel.h"
#include "historywindow.h"
#include "notificationcenter.h"
#include "notifiersettings.h"
#include "notifiertest.h"
#include "settingsdialog.h"
#include "trayapp.h"

#include <QAction>
#include <QComboBox>
#include <QItemSelectionModel>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeView>

using namespace Qt::StringLiterals;
using Herald::HistoryModel;
using Herald::NotificationCenter;
using HeraldTest::notification;

namespace {
// A notifier that reaches no bus: whatever would pop up goes to the (absent) tray.
QDBusConnection noBus()
{
    return QDBusConnection::connectToBus(u"unix:path=/nonexistent/bus"_s, u"nobus"_s);
}
} // namespace

// The widgets over the center: the history window's buttons and filters, the tray's menu and tooltip, the
// settings dialog's checks (Qt's offscreen platform).
class TestNotifierWindow : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void markSelectedRead()
    {
        Herald::DesktopNotifier notifier(noBus());
        NotificationCenter center(&notifier);
        for (qint64 id = 1; id <= 3; ++id)
            center.addMessage(notification(id, id == 2 ? u"news"_s : u"user:1"_s));
        Herald::HistoryWindow window(&center);
        QSignalSpy read(&center, &NotificationCenter::readRequested);
        QCOMPARE(window.windowTitle(), u"Herald notifications (3 unread)"_s);
        // The first row is the newest unread: 3.
        window.view()->selectionModel()->select(window.filter()->index(0, 0),
                                                QItemSelectionModel::Select | QItemSelectionModel::Rows);
        window.markSelectedRead();
        QCOMPARE(read.size(), 1);
        QCOMPARE(read.constFirst().at(0).value<QList<qint64>>(), QList<qint64>{3});
        QCOMPARE(center.history()->unreadCount(), 2);
        QCOMPARE(window.windowTitle(), u"Herald notifications (2 unread)"_s);
        // Read again: nothing new to tell the server.
        window.markSelectedRead();
        QCOMPARE(read.size(), 1);
    }

    void markAllRead()
    {
        Herald::DesktopNotifier notifier(noBus());
        NotificationCenter center(&notifier);
        for (qint64 id = 4; id <= 6; ++id)
            center.addMessage(notification(id));
        QSignalSpy all(&center, &NotificationCenter::allReadRequested);
        center.markAllReadByUser();
        QCOMPARE(all.size(), 1);
        QCOMPARE(all.constFirst().at(0).toLongLong(), 6);
        QCOMPARE(center.history()->unreadCount(), 0);
        center.markAllReadByUser(); // nothing unread: nothing sent
        QCOMPARE(all.size(), 1);
    }

    // The channel box lists the channels the history holds; choosing one, a priority or a search filters.
    void filters_data()
    {
        QTest::addColumn<QString>("channel");
        QTest::addColumn<int>("priorityIndex"); // 0 any, 1 ≥2, 2 ≥3, 3 ≥4, 4 urgent only
        QTest::addColumn<QString>("search");
        QTest::addColumn<int>("rows");
        QTest::newRow("all") << QString() << 0 << QString() << 4;
        QTest::newRow("news") << u"news"_s << 0 << QString() << 2;
        QTest::newRow("urgent only") << QString() << 4 << QString() << 1;
        QTest::newRow("search") << QString() << 0 << u"title 3"_s << 1;
    }
    void filters()
    {
        QFETCH(QString, channel);
        QFETCH(int, priorityIndex);
        QFETCH(QString, search);
        QFETCH(int, rows);
        Herald::DesktopNotifier notifier(noBus());
        NotificationCenter center(&notifier);
        center.addMessage(notification(1, u"news"_s, 1));
        center.addMessage(notification(2, u"news"_s, 3));
        center.addMessage(notification(3, u"user:1"_s, 5));
        center.addMessage(notification(4, u"alerts"_s, 4));
        Herald::HistoryWindow window(&center);
        QCOMPARE(window.channelBox()->count(), 4); // all, alerts, news, user:1
        if (!channel.isEmpty())
            window.channelBox()->setCurrentIndex(window.channelBox()->findData(channel));
        window.priorityBox()->setCurrentIndex(priorityIndex);
        window.searchField()->setText(search);
        QCOMPARE(window.filter()->rowCount(), rows);
    }

    void trayToolTipAndMute()
    {
        QTemporaryDir dir;
        Herald::NotifierSettings settings(dir.filePath(u"n.ini"_s));
        Herald::DesktopNotifier notifier(noBus());
        Herald::TrayApp tray(&settings, &notifier);
        tray.center()->addMessage(notification(1));
        tray.center()->addMessage(notification(2));
        QVERIFY2(tray.toolTip().contains(u"2 unread notifications"_s), qPrintable(tray.toolTip()));
        QVERIFY(tray.toolTip().contains(u"offline"_s));
        tray.setConnectionState(Herald::TrayApp::ConnectionState::Retrying, u"in 4 s"_s);
        QVERIFY2(tray.toolTip().contains(u"offline, retrying (in 4 s)"_s), qPrintable(tray.toolTip()));
        tray.setConnectionState(Herald::TrayApp::ConnectionState::Online);
        QVERIFY(tray.toolTip().contains(u"connected"_s));
        tray.muteAction()->trigger();
        QVERIFY(tray.center()->isMuted());
        QVERIFY(settings.muted());
        QVERIFY(tray.toolTip().contains(u"muted"_s));
        tray.center()->setRead({1, 2});
        QVERIFY2(tray.toolTip().contains(u"0 unread notifications"_s), qPrintable(tray.toolTip()));
    }

    void badge_data()
    {
        QTest::addColumn<int>("unread");
        QTest::newRow("none") << 0;
        QTest::newRow("one") << 1;
        QTest::newRow("many") << 120;
    }
    void badge()
    {
        QFETCH(int, unread);
        QPixmap plain(32, 32);
        plain.fill(Qt::blue);
        const QImage image =
            Herald::TrayApp::badgedIcon(QIcon(plain), unread, false).pixmap(32, 32).toImage();
        // The badge is red in the top right corner; without unread the icon is untouched.
        const QColor corner = image.pixelColor(26, 6);
        QCOMPARE(corner == QColor(Qt::blue), unread == 0);
    }

    void settingsProblems_data()
    {
        QTest::addColumn<QString>("server");
        QTest::addColumn<bool>("useToken");
        QTest::addColumn<QString>("token");
        QTest::addColumn<QString>("user");
        QTest::addColumn<QStringList>("channels");
        QTest::addColumn<bool>("ok");
        QTest::newRow("token") << u"https://h.example"_s << true << u"t"_s << QString() << QStringList{}
                               << true;
        QTest::newRow("open mode") << u"http://127.0.0.1:8000"_s << false << QString() << u"1"_s
                                   << QStringList{u"news"_s} << true;
        QTest::newRow("no token") << u"https://h.example"_s << true << QString() << QString() << QStringList{}
                                  << false;
        QTest::newRow("no user") << u"https://h.example"_s << false << QString() << QString() << QStringList{}
                                 << false;
        QTest::newRow("no server") << QString() << true << u"t"_s << QString() << QStringList{} << false;
        QTest::newRow("ftp") << u"ftp://h"_s << true << u"t"_s << QString() << QStringList{} << false;
        QTest::newRow("bad channel") << u"https://h.example"_s << true << u"t"_s << QString()
                                     << QStringList{u"a b"_s} << false;
    }
    void settingsProblems()
    {
        QFETCH(QString, server);
        QFETCH(bool, useToken);
        QFETCH(QString, token);
        QFETCH(QString, user);
        QFETCH(QStringList, channels);
        QFETCH(bool, ok);
        Herald::SettingsDialog dialog;
        Herald::SettingsDialog::Values v;
        v.server = QUrl(server);
        v.useToken = useToken;
        v.token = token;
        v.userId = user;
        v.channels = channels;
        dialog.setValues(v);
        QVERIFY2(dialog.problem().isEmpty() == ok, qPrintable(dialog.problem()));
        if (ok) {
            const auto back = dialog.values();
            QCOMPARE(back.server, QUrl(server));
            QCOMPARE(back.useToken, useToken);
            QCOMPARE(back.channels, channels);
        }
    }
};

QTEST_MAIN(TestNotifierWindow)
#include "tst_notifierwindow.moc"
