#include "burstpolicy.h"
#include "notifiertest.h"

#include <QTest>

using namespace Qt::StringLiterals;
using Herald::BurstPolicy;
using Herald::Message;
using HeraldTest::notification;

namespace {
const QDateTime T0 = QDateTime::fromSecsSinceEpoch(1'800'000'000, Qt::UTC);

QList<Message> batchOf(const QList<qint64> &ids, const QList<qint64> &quiet = {})
{
    QList<Message> batch;
    for (qint64 id : ids) {
        Message m = notification(id);
        m.notification.quiet = quiet.contains(id);
        batch.append(m);
    }
    return batch;
}

QList<qint64> idsOf(const QList<Message> &messages)
{
    QList<qint64> ids;
    for (const Message &m : messages)
        ids.append(m.id);
    return ids;
}

QList<qint64> range(qint64 from, qint64 to)
{
    QList<qint64> ids;
    for (qint64 id = from; id <= to; ++id)
        ids.append(id);
    return ids;
}
} // namespace

class TestBurstPolicy : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // One batch on a fresh policy (at most 3 pop-ups in 10 s): what pops up alone, what is summed up.
    void oneBatch_data()
    {
        QTest::addColumn<QList<qint64>>("ids");
        QTest::addColumn<bool>("muted");
        QTest::addColumn<QList<qint64>>("quiet");
        QTest::addColumn<QList<qint64>>("singles");
        QTest::addColumn<QList<qint64>>("summarized");
        QTest::addColumn<QList<qint64>>("suppressed");

        QTest::newRow("one") << QList<qint64>{7} << false << QList<qint64>{} << QList<qint64>{7}
                             << QList<qint64>{} << QList<qint64>{};
        QTest::newRow("three, the limit")
            << range(1, 3) << false << QList<qint64>{} << range(1, 3) << QList<qint64>{} << QList<qint64>{};
        QTest::newRow("four: one summary")
            << range(1, 4) << false << QList<qint64>{} << QList<qint64>{} << range(1, 4) << QList<qint64>{};
        QTest::newRow("twelve after an outage") << range(101, 112) << false << QList<qint64>{}
                                                << QList<qint64>{} << range(101, 112) << QList<qint64>{};
        QTest::newRow("the same id three times") << QList<qint64>{5, 5, 5} << false << QList<qint64>{}
                                                 << QList<qint64>{5} << QList<qint64>{} << QList<qint64>{};
        QTest::newRow("a burst of duplicates is one")
            << QList<qint64>{9, 9, 9, 9, 9, 9} << false << QList<qint64>{} << QList<qint64>{9}
            << QList<qint64>{} << QList<qint64>{};
        QTest::newRow("muted") << range(1, 2) << true << QList<qint64>{} << QList<qint64>{} << QList<qint64>{}
                               << range(1, 2);
        QTest::newRow("muted burst") << range(1, 20) << true << QList<qint64>{} << QList<qint64>{}
                                     << QList<qint64>{} << range(1, 20);
        QTest::newRow("quiet ones") << range(1, 5) << false << QList<qint64>{2, 3} << QList<qint64>{1, 4, 5}
                                    << QList<qint64>{} << QList<qint64>{2, 3};
        QTest::newRow("out of order: summary by id")
            << QList<qint64>{9, 3, 7, 1} << false << QList<qint64>{} << QList<qint64>{}
            << QList<qint64>{1, 3, 7, 9} << QList<qint64>{};
    }
    void oneBatch()
    {
        QFETCH(QList<qint64>, ids);
        QFETCH(bool, muted);
        QFETCH(QList<qint64>, quiet);
        QFETCH(QList<qint64>, singles);
        QFETCH(QList<qint64>, summarized);
        QFETCH(QList<qint64>, suppressed);

        BurstPolicy policy(3, 10'000);
        const BurstPolicy::Decision d = policy.decide(batchOf(ids, quiet), muted, T0);
        QCOMPARE(idsOf(d.singles), singles);
        QCOMPARE(d.summary.has_value(), !summarized.isEmpty());
        if (d.summary) {
            QCOMPARE(d.summary->ids, summarized);
            QCOMPARE(d.summary->count, summarized.size());
        }
        QCOMPARE(d.suppressed, suppressed);
    }

    // Batches over time: the pop-ups of the last 10 s count against the limit; a summary counts as one.
    void overTime_data()
    {
        QTest::addColumn<QList<int>>("sizes");   // a batch of this many new ids …
        QTest::addColumn<QList<int>>("seconds"); // … at T0 + this many seconds
        QTest::addColumn<QList<int>>("singles"); // pop-ups alone per batch
        QTest::addColumn<QList<int>>("summed");  // messages in the batch's summary (0: none)

        QTest::newRow("one at a time, slowly") << QList<int>{1, 1, 1, 1, 1} << QList<int>{0, 11, 22, 33, 44}
                                               << QList<int>{1, 1, 1, 1, 1} << QList<int>{0, 0, 0, 0, 0};
        QTest::newRow("a fourth within the window") << QList<int>{1, 1, 1, 1} << QList<int>{0, 1, 2, 3}
                                                    << QList<int>{1, 1, 1, 0} << QList<int>{0, 0, 0, 1};
        QTest::newRow("the window passes")
            << QList<int>{3, 1, 1} << QList<int>{0, 5, 10} << QList<int>{3, 0, 1} << QList<int>{0, 1, 0};
        QTest::newRow("two then a burst")
            << QList<int>{2, 5} << QList<int>{0, 1} << QList<int>{2, 0} << QList<int>{0, 5};
        QTest::newRow("a steady stream: one summary per batch")
            << QList<int>{4, 4, 4} << QList<int>{0, 1, 2} << QList<int>{0, 0, 0} << QList<int>{4, 4, 4};
    }
    void overTime()
    {
        QFETCH(QList<int>, sizes);
        QFETCH(QList<int>, seconds);
        QFETCH(QList<int>, singles);
        QFETCH(QList<int>, summed);

        BurstPolicy policy(3, 10'000);
        qint64 next = 1;
        for (qsizetype i = 0; i < sizes.size(); ++i) {
            const QList<qint64> ids = range(next, next + sizes.at(i) - 1);
            next += sizes.at(i);
            const auto d = policy.decide(batchOf(ids), false, T0.addSecs(seconds.at(i)));
            QCOMPARE(d.singles.size(), singles.at(i));
            QCOMPARE(d.summary ? d.summary->count : 0, summed.at(i));
        }
    }

    // What was shown once is never shown again, in whatever later batch it comes (a resume replays it).
    void noDuplicatesAcrossBatches()
    {
        BurstPolicy policy(3, 10'000);
        QCOMPARE(policy.decide(batchOf({1, 2}), false, T0).singles.size(), 2);
        const auto again = policy.decide(batchOf({1, 2, 3}), false, T0.addSecs(60));
        QCOMPARE(idsOf(again.singles), QList<qint64>{3});
        QVERIFY(!again.summary);
        // Muted ones are seen too: unmuting does not bring them back as pop-ups.
        QVERIFY(policy.decide(batchOf({4}), true, T0.addSecs(120)).singles.isEmpty());
        QVERIFY(policy.decide(batchOf({4}), false, T0.addSecs(180)).singles.isEmpty());
    }

    void summaryText_data()
    {
        QTest::addColumn<int>("count");
        QTest::addColumn<QString>("summary");
        QTest::addColumn<QString>("body");

        QTest::newRow("4") << 4 << u"4 missed notifications"_s << u"Title 1\nTitle 2\nTitle 3\nand 1 more"_s;
        QTest::newRow("12") << 12 << u"12 missed notifications"_s
                            << u"Title 1\nTitle 2\nTitle 3\nand 9 more"_s;
    }
    void summaryText()
    {
        QFETCH(int, count);
        QFETCH(QString, summary);
        QFETCH(QString, body);

        BurstPolicy policy(3, 10'000);
        const auto d = policy.decide(batchOf(range(1, count)), false, T0);
        QVERIFY(d.summary);
        QCOMPARE(d.summary->summary, summary);
        QCOMPARE(d.summary->body, body);
    }

    // The summary is as urgent as the most urgent message in it.
    void summaryPriority_data()
    {
        QTest::addColumn<QList<int>>("priorities");
        QTest::addColumn<int>("expected");
        QTest::newRow("defaults") << QList<int>{0, 0, 0, 0} << 3;
        QTest::newRow("one urgent") << QList<int>{1, 5, 2, 0} << 5;
        QTest::newRow("all low") << QList<int>{1, 2, 1, 2} << 2;
    }
    void summaryPriority()
    {
        QFETCH(QList<int>, priorities);
        QFETCH(int, expected);
        QList<Message> batch;
        for (qsizetype i = 0; i < priorities.size(); ++i)
            batch.append(notification(i + 1, u"user:1"_s, priorities.at(i)));
        BurstPolicy policy(3, 10'000);
        const auto d = policy.decide(batch, false, T0);
        QVERIFY(d.summary);
        QCOMPARE(d.summary->priority, expected);
    }

    // Only notifications pop up: not the events that travel on the same channels.
    void isNotification_data()
    {
        QTest::addColumn<QString>("type");
        QTest::addColumn<QString>("title");
        QTest::addColumn<QString>("text");
        QTest::addColumn<int>("expiresInSeconds"); // 0: never
        QTest::addColumn<bool>("expected");

        QTest::newRow("message") << u"message"_s << u"t"_s << u"x"_s << 0 << true;
        QTest::newRow("title only") << u"message"_s << u"t"_s << QString() << 0 << true;
        QTest::newRow("text only") << u"alert"_s << QString() << u"x"_s << 0 << true;
        QTest::newRow("no text") << u"message"_s << QString() << QString() << 0 << false;
        QTest::newRow("withdrawn") << u"withdrawn"_s << u"t"_s << QString() << 0 << false;
        QTest::newRow("read event") << u"read"_s << QString() << QString() << 0 << false;
        QTest::newRow("settings event") << u"settings"_s << u"t"_s << QString() << 0 << false;
        QTest::newRow("expired") << u"message"_s << u"t"_s << u"x"_s << -1 << false;
        QTest::newRow("not yet expired") << u"message"_s << u"t"_s << u"x"_s << 60 << true;
    }
    void isNotification()
    {
        QFETCH(QString, type);
        QFETCH(QString, title);
        QFETCH(QString, text);
        QFETCH(int, expiresInSeconds);
        QFETCH(bool, expected);
        Message m = notification(1);
        m.type = type;
        m.title = title;
        m.message = text;
        if (expiresInSeconds != 0)
            m.notification.expires = T0.addSecs(expiresInSeconds);
        QCOMPARE(BurstPolicy::isNotification(m, T0), expected);
        BurstPolicy policy;
        QCOMPARE(policy.decide({m}, false, T0).singles.size(), expected ? 1 : 0);
    }
};

QTEST_GUILESS_MAIN(TestBurstPolicy)
#include "tst_burstpolicy.moc"
