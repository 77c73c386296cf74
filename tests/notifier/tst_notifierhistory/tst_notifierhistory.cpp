#include "historymodel.h"
#include "notifiertest.h"

#include <QSignalSpy>
#include <QTest>

using namespace Qt::StringLiterals;
using Herald::HistoryFilter;
using Herald::HistoryModel;
using Herald::Message;
using HeraldTest::notification;

namespace {
// The ids in the filter's order.
QList<qint64> shown(const HistoryFilter &filter)
{
    QList<qint64> ids;
    for (int row = 0; row < filter.rowCount(); ++row)
        ids.append(filter.index(row, 0).data(HistoryModel::IdRole).toLongLong());
    return ids;
}

// Six messages: 1 news/p1, 2 user:1/p5 "disk full", 3 news/p3, 4 alerts/p4 "Disk slow", 5 user:1/p2, 6
// alerts/p5.
void fill(HistoryModel &model)
{
    const QList<std::tuple<qint64, QString, int, QString>> rows{
        {1, u"news"_s, 1, QString()},   {2, u"user:1"_s, 5, u"disk full"_s},
        {3, u"news"_s, 3, QString()},   {4, u"alerts"_s, 4, u"Disk slow"_s},
        {5, u"user:1"_s, 2, QString()}, {6, u"alerts"_s, 5, QString()},
    };
    for (const auto &[id, channel, priority, title] : rows) {
        Message m = notification(id, channel, priority);
        if (!title.isEmpty())
            m.title = title;
        QVERIFY(model.addMessage(m));
    }
}
} // namespace

class TestNotifierHistory : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // Unread before read, newest first within each.
    void order_data()
    {
        QTest::addColumn<QList<qint64>>("read");
        QTest::addColumn<QList<qint64>>("expected");
        QTest::newRow("all unread") << QList<qint64>{} << QList<qint64>{6, 5, 4, 3, 2, 1};
        QTest::newRow("two read") << QList<qint64>{2, 5} << QList<qint64>{6, 4, 3, 1, 5, 2};
        QTest::newRow("newest read") << QList<qint64>{6} << QList<qint64>{5, 4, 3, 2, 1, 6};
        QTest::newRow("all read") << QList<qint64>{1, 2, 3, 4, 5, 6} << QList<qint64>{6, 5, 4, 3, 2, 1};
    }
    void order()
    {
        QFETCH(QList<qint64>, read);
        QFETCH(QList<qint64>, expected);
        HistoryModel model;
        fill(model);
        HistoryFilter filter;
        filter.setSourceModel(&model);
        model.setRead(read);
        QCOMPARE(shown(filter), expected);
    }

    void filters_data()
    {
        QTest::addColumn<QString>("channel");
        QTest::addColumn<int>("minPriority");
        QTest::addColumn<QString>("search");
        QTest::addColumn<QList<qint64>>("expected");
        QTest::newRow("none") << QString() << 0 << QString() << QList<qint64>{6, 5, 4, 3, 2, 1};
        QTest::newRow("channel") << u"news"_s << 0 << QString() << QList<qint64>{3, 1};
        QTest::newRow("unknown channel") << u"nope"_s << 0 << QString() << QList<qint64>{};
        QTest::newRow("priority 4 and up") << QString() << 4 << QString() << QList<qint64>{6, 4, 2};
        QTest::newRow("urgent only") << QString() << 5 << QString() << QList<qint64>{6, 2};
        QTest::newRow("default priority counts as 3") << u"news"_s << 3 << QString() << QList<qint64>{3};
        QTest::newRow("search, any case") << QString() << 0 << u"DISK"_s << QList<qint64>{4, 2};
        QTest::newRow("search the text") << QString() << 0 << u"text 5"_s << QList<qint64>{5};
        QTest::newRow("search the channel") << QString() << 0 << u"alerts"_s << QList<qint64>{6, 4};
        QTest::newRow("all three") << u"alerts"_s << 4 << u"disk"_s << QList<qint64>{4};
    }
    void filters()
    {
        QFETCH(QString, channel);
        QFETCH(int, minPriority);
        QFETCH(QString, search);
        QFETCH(QList<qint64>, expected);
        HistoryModel model;
        fill(model);
        HistoryFilter filter;
        filter.setSourceModel(&model);
        filter.setChannel(channel);
        filter.setMinPriority(minPriority);
        filter.setSearchText(search);
        QCOMPARE(shown(filter), expected);
    }

    // The unread count through every way read state changes; each change signalled once.
    void unreadCount_data()
    {
        QTest::addColumn<QString>("operation");
        QTest::addColumn<QList<qint64>>("ids");
        QTest::addColumn<int>("expected");
        QTest::newRow("read two") << u"read"_s << QList<qint64>{1, 2} << 4;
        QTest::newRow("read unknown ids") << u"read"_s << QList<qint64>{40, 41} << 6;
        QTest::newRow("read one twice") << u"read"_s << QList<qint64>{3, 3} << 5;
        QTest::newRow("unread what is unread") << u"unread"_s << QList<qint64>{1} << 6;
        QTest::newRow("all") << u"all"_s << QList<qint64>{} << 0;
        QTest::newRow("all up to 4") << u"all"_s << QList<qint64>{4} << 2;
        QTest::newRow("remove two") << u"remove"_s << QList<qint64>{5, 6} << 4;
    }
    void unreadCount()
    {
        QFETCH(QString, operation);
        QFETCH(QList<qint64>, ids);
        QFETCH(int, expected);
        HistoryModel model;
        fill(model);
        QCOMPARE(model.unreadCount(), 6);
        QSignalSpy changed(&model, &HistoryModel::unreadCountChanged);
        if (operation == "read"_L1)
            model.setRead(ids, true);
        else if (operation == "unread"_L1)
            model.setRead(ids, false);
        else if (operation == "all"_L1)
            model.markAllRead(ids.isEmpty() ? 0 : ids.constFirst());
        else
            model.removeMessages(ids);
        QCOMPARE(model.unreadCount(), expected);
        QCOMPARE(changed.size(), expected == 6 ? 0 : 1);
        QCOMPARE(model.unreadIds().size(), expected);
    }

    void readThenUnread()
    {
        HistoryModel model;
        fill(model);
        model.setRead({1, 2, 3});
        model.setRead({2}, false);
        QCOMPARE(model.unreadCount(), 4);
        QVERIFY(model.isRead(1));
        QVERIFY(!model.isRead(2));
    }

    void duplicatesIgnored()
    {
        HistoryModel model;
        QVERIFY(model.addMessage(notification(1)));
        QVERIFY(!model.addMessage(notification(1)));
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(model.unreadCount(), 1);
    }

    // An update takes the row of the message it replaces and is unread again; a withdrawal removes it.
    void updatesAndWithdrawals()
    {
        HistoryModel model;
        fill(model);
        model.setRead({2});
        Message update = notification(10, u"user:1"_s, 5);
        update.title = u"disk fuller"_s;
        update.notification.replaces = 2;
        QVERIFY(model.addMessage(update));
        QCOMPARE(model.rowCount(), 6);
        QVERIFY(!model.message(2));
        QCOMPARE(model.message(10)->title, u"disk fuller"_s);
        QCOMPARE(model.unreadCount(), 6);

        Message withdrawn;
        withdrawn.id = 11;
        withdrawn.channel = u"user:1"_s;
        withdrawn.type = u"withdrawn"_s;
        withdrawn.notification.withdraws = 10;
        QVERIFY(!model.addMessage(withdrawn));
        QCOMPARE(model.rowCount(), 5);
        QVERIFY(!model.message(10));
        QCOMPARE(model.unreadCount(), 5);
    }

    // Away while 2 became 7 and then 8: 8 names 7, never listed, and its chain 2, which is. It takes 2's row;
    // a withdrawal naming 9 (the chain's latest, never listed either) with chain 2 removes it.
    void updatesAndWithdrawalsByChain()
    {
        HistoryModel model;
        fill(model);
        Message update = notification(8, u"user:1"_s, 5);
        update.title = u"disk fuller"_s;
        update.notification.replaces = 7;
        update.notification.chain = 2;
        QCOMPARE(model.supersededId(update), qint64(2));
        QVERIFY(model.addMessage(update));
        QCOMPARE(model.rowCount(), 6);
        QVERIFY(!model.message(2));
        QCOMPARE(model.message(8)->title, u"disk fuller"_s);

        // Chain 2 on another channel is not this one.
        Message elsewhere = notification(9, u"news"_s, 3);
        elsewhere.notification.replaces = 7;
        elsewhere.notification.chain = 2;
        QCOMPARE(model.supersededId(elsewhere), qint64(0));

        Message withdrawn;
        withdrawn.id = 11;
        withdrawn.channel = u"user:1"_s;
        withdrawn.type = u"withdrawn"_s;
        withdrawn.notification.withdraws = 10;
        withdrawn.notification.chain = 2;
        QVERIFY(!model.addMessage(withdrawn));
        QCOMPARE(model.rowCount(), 5);
        QVERIFY(!model.message(8));
    }

    void expiredRemoved()
    {
        HistoryModel model;
        const QDateTime now = QDateTime::currentDateTimeUtc();
        Message soon = notification(1);
        soon.notification.expires = now.addSecs(5);
        model.addMessage(soon);
        model.addMessage(notification(2));
        model.removeExpired(now);
        QCOMPARE(model.rowCount(), 2);
        model.removeExpired(now.addSecs(6));
        QCOMPARE(model.rowCount(), 1);
        QVERIFY(model.message(2));
    }

    void channelsListed()
    {
        HistoryModel model;
        QSignalSpy changed(&model, &HistoryModel::channelsChanged);
        fill(model);
        QCOMPARE(model.channels(), (QStringList{u"alerts"_s, u"news"_s, u"user:1"_s}));
        QCOMPARE(changed.size(), 3);
    }

    // Events without text (read state, settings) are not listed.
    void eventsNotListed()
    {
        HistoryModel model;
        Message read;
        read.id = 3;
        read.channel = u"reads:1"_s;
        read.type = u"read"_s;
        QVERIFY(!model.addMessage(read));
        QCOMPARE(model.rowCount(), 0);
    }
};

QTEST_MAIN(TestNotifierHistory)
#include "tst_notifierhistory.moc"
