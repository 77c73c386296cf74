#include "historycontract.h"

#include "channelname.h"
#include "datarows.h"
#include "historytest.h"
#include "message.h"

#include <QCoreApplication>
#include <QHash>
#include <QJsonArray>
#include <QMutex>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <tuple>
#include <vector>

using namespace Qt::StringLiterals;
using namespace Herald;
using namespace HeraldTest;
using namespace std::chrono_literals;

namespace {

// Both backends are QObjects with the signal pruned(qint64 deleted).
QObject *asObject(History &history)
{
    return dynamic_cast<QObject *>(&history);
}

} // namespace

tst_HistoryContract::tst_HistoryContract(std::unique_ptr<HistoryBackend> backend)
    : m_backend(std::move(backend))
{}

tst_HistoryContract::~tst_HistoryContract() = default;

ServerConfig tst_HistoryContract::config()
{
    ServerConfig c;
    c.pruneInterval = std::chrono::hours(1);
    return c;
}

std::unique_ptr<History> tst_HistoryContract::open(const ServerConfig &config)
{
    return m_backend->open(config);
}

qint64 tst_HistoryContract::store(History &history, const Message &message)
{
    auto r = m_backend->store(history, message);
    if (!r)
        qWarning().noquote() << "storing failed:" << r.error().message;
    return r ? *r : -1;
}

void tst_HistoryContract::initTestCase()
{
    m_backend->initTestCase();
}

void tst_HistoryContract::cleanupTestCase()
{
    m_backend->cleanupTestCase();
}

void tst_HistoryContract::init()
{
    m_backend->init();
}

void tst_HistoryContract::cleanup()
{
    m_backend->cleanup();
}

void tst_HistoryContract::messageFieldsRoundTrip()
{
    auto h = open(config());
    QVERIFY(h);

    Message full = makeMessage(u"posts"_s);
    full.id = 999; // ignored: the id is the history's
    full.type = u"model.created"_s;
    full.title = u"A title \u00e9\u4e2d"_s;
    full.message = u"line one\nline \"two\""_s;
    full.sender = u"alice"_s;
    full.data = QJsonObject{{u"n"_s, 42},
                            {u"f"_s, 1.5},
                            {u"list"_s, QJsonArray{1, u"two"_s, true, QJsonValue()}},
                            {u"nested"_s, QJsonObject{{u"k"_s, u"v"_s}}}};
    full.extra = QJsonObject{{u"model"_s, u"posts"_s}, {u"scope"_s, u"all"_s}};

    // Absent optional fields stay absent (null), not empty strings.
    Message bare = makeMessage(u"posts"_s);
    bare.message = QString();
    // Timestamps are the caller's, to the millisecond.
    bare.timestamp = QDateTime::currentDateTimeUtc().addDays(-3);

    QCOMPARE(store(*h, full), 1);
    QCOMPARE(store(*h, bare), 2);

    auto page = h->history(u"posts"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->messages.size(), 2);
    // A catch-up sends what replayPage reads as it is (Session::queueStored): the message as history reads
    // it, byte for byte, with what frames it.
    auto frames = h->replayPage({u"posts"_s}, 0, 10, 1 << 20);
    QVERIFY2(frames, why(frames).constData());
    QCOMPARE(frames->frames.size(), 2);
    for (int i = 0; i < 2; ++i) {
        const StoredFrame &f = frames->frames.at(i);
        const Message &m = page->messages.at(i);
        QCOMPARE(f.id, m.id);
        QCOMPARE(f.channel, m.channel);
        QCOMPARE(f.type, m.type);
        QCOMPARE(f.json, m.toJsonBytes());
    }

    const Message &got = page->messages.at(0);
    full.id = 1;
    QCOMPARE(got.id, 1);
    QCOMPARE(got.channel, full.channel);
    QCOMPARE(got.type, full.type);
    QCOMPARE(got.timestamp, full.timestamp);
    QCOMPARE(got.title, full.title);
    QCOMPARE(got.message, full.message);
    QCOMPARE(got.sender, full.sender);
    QCOMPARE(got.data, full.data);
    QCOMPARE(got.extra, full.extra);
    QCOMPARE(got.toJson(), full.toJson());

    const Message &gotBare = page->messages.at(1);
    bare.id = 2;
    QVERIFY(gotBare.title.isNull());
    QVERIFY(gotBare.message.isNull());
    QVERIFY(gotBare.sender.isNull());
    QVERIFY(gotBare.data.isUndefined());
    QVERIFY(gotBare.extra.isEmpty());
    QCOMPARE(gotBare.timestamp, bare.timestamp);
    QCOMPARE(gotBare.toJson(), bare.toJson());

    auto channel = h->channelOf(1);
    QVERIFY2(channel, why(channel).constData());
    QCOMPARE(channel->value_or(QString()), u"posts"_s);
    auto none = h->channelOf(3);
    QVERIFY2(none, why(none).constData());
    QVERIFY(!none->has_value());
}

void tst_HistoryContract::historyPaging_data()
{
    QTest::addColumn<qint64>("since");
    QTest::addColumn<qint64>("before");
    QTest::addColumn<int>("limit");
    QTest::addColumn<QList<qint64>>("expected");
    QTest::addColumn<bool>("hasMore");

    // "chat" holds the odd ids 1..19, "other" the even ones.
    QTest::newRow("since 0") << qint64(0) << qint64(0) << 4 << QList<qint64>{1, 3, 5, 7} << true;
    QTest::newRow("since 7") << qint64(7) << qint64(0) << 4 << QList<qint64>{9, 11, 13, 15} << true;
    QTest::newRow("since 8 (other's id)")
        << qint64(8) << qint64(0) << 4 << QList<qint64>{9, 11, 13, 15} << true;
    QTest::newRow("since, exactly limit left")
        << qint64(11) << qint64(0) << 4 << QList<qint64>{13, 15, 17, 19} << false;
    QTest::newRow("since, fewer left") << qint64(15) << qint64(0) << 4 << QList<qint64>{17, 19} << false;
    QTest::newRow("since the last") << qint64(19) << qint64(0) << 4 << QList<qint64>{} << false;
    QTest::newRow("since beats before") << qint64(3) << qint64(9) << 2 << QList<qint64>{5, 7} << true;
    QTest::newRow("newest") << qint64(-1) << qint64(0) << 4 << QList<qint64>{13, 15, 17, 19} << true;
    QTest::newRow("before 13") << qint64(-1) << qint64(13) << 4 << QList<qint64>{5, 7, 9, 11} << true;
    QTest::newRow("before 12 (other's id)")
        << qint64(-1) << qint64(12) << 4 << QList<qint64>{5, 7, 9, 11} << true;
    QTest::newRow("before, exactly limit left")
        << qint64(-1) << qint64(9) << 4 << QList<qint64>{1, 3, 5, 7} << false;
    QTest::newRow("before, fewer left") << qint64(-1) << qint64(5) << 4 << QList<qint64>{1, 3} << false;
    QTest::newRow("before the first") << qint64(-1) << qint64(1) << 4 << QList<qint64>{} << false;
    QTest::newRow("all") << qint64(-1) << qint64(0) << 100 << QList<qint64>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19}
                         << false;
}

void tst_HistoryContract::historyPaging()
{
    QFETCH(qint64, since);
    QFETCH(qint64, before);
    QFETCH(int, limit);
    QFETCH(QList<qint64>, expected);
    QFETCH(bool, hasMore);

    auto h = open(config());
    QVERIFY(h);
    for (qint64 id = 1; id <= 20; ++id)
        QCOMPARE(store(*h, makeMessage(id % 2 ? u"chat"_s : u"other"_s)), id);
    auto page = h->history(u"chat"_s, since, before, limit);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(idsOf(page->messages), expected);
    QCOMPARE(page->read.size(), page->messages.size());
    QCOMPARE(page->hasMore, hasMore);
    for (const Message &m : page->messages)
        QCOMPARE(m.channel, u"chat"_s);
}

void tst_HistoryContract::replayMergesChannelsInIdOrder()
{
    auto h = open(config());
    QVERIFY(h);
    const QStringList names = {u"a"_s, u"b"_s, u"c"_s};
    for (qint64 id = 1; id <= 9; ++id)
        QCOMPARE(store(*h, makeMessage(names.at((id - 1) % 3))), id);

    auto all = h->replay({u"c"_s, u"a"_s}, 0, 9);
    QVERIFY2(all, why(all).constData());
    QCOMPARE(idsOf(all->messages), (QList<qint64>{1, 3, 4, 6, 7, 9}));
    QVERIFY(all->recovered);

    // A channel named twice is read once.
    auto after = h->replay({u"a"_s, u"c"_s, u"a"_s}, 4, 9);
    QVERIFY2(after, why(after).constData());
    QCOMPARE(idsOf(after->messages), (QList<qint64>{6, 7, 9}));
    QVERIFY(after->recovered);

    auto upToDate = h->replay({u"a"_s, u"b"_s, u"c"_s}, 9, 9);
    QVERIFY2(upToDate, why(upToDate).constData());
    QVERIFY(upToDate->messages.isEmpty());
    QVERIFY(upToDate->recovered);

    auto unknown = h->replay({u"nobody"_s}, 0, 9);
    QVERIFY2(unknown, why(unknown).constData());
    QVERIFY(unknown->messages.isEmpty());
    QVERIFY(unknown->recovered);
}

void tst_HistoryContract::replayFromTheFutureNotRecovered()
{
    auto h = open(config());
    QVERIFY(h);
    for (qint64 id = 1; id <= 3; ++id)
        QCOMPARE(store(*h, makeMessage(u"a"_s)), id);

    // The client saw id 10 but only 3 were handed out: its history was reset.
    auto r = h->replay({u"a"_s}, 10, 3);
    QVERIFY2(r, why(r).constData());
    QVERIFY(r->messages.isEmpty());
    QVERIFY(!r->recovered);
    QCOMPARE(r->gap, ReplayGap::Reset);
    QCOMPARE(replayGapName(r->gap), u"reset"_s);

    auto atCurrent = h->replay({u"a"_s}, 3, 3);
    QVERIFY2(atCurrent, why(atCurrent).constData());
    QVERIFY(atCurrent->messages.isEmpty());
    QVERIFY(atCurrent->recovered);
    QCOMPARE(atCurrent->gap, ReplayGap::None);

    // With no channels at all, the future is still the future.
    auto none = h->replay({}, 4, 3);
    QVERIFY2(none, why(none).constData());
    QVERIFY(!none->recovered);
    QCOMPARE(none->gap, ReplayGap::Reset);

    // Which last id counts (see HistoryBackend::sharedSequence).
    auto generous = h->replay({u"a"_s}, 10, 100);
    QVERIFY2(generous, why(generous).constData());
    QVERIFY(generous->messages.isEmpty());
    auto lagging = h->replay({u"a"_s}, 2, 1);
    QVERIFY2(lagging, why(lagging).constData());
    if (m_backend->sharedSequence()) {
        // The cluster has handed out 3: a node's own idea of the last id (a generous 100) does not matter…
        QCOMPARE(generous->gap, ReplayGap::Reset);
        // …and a node that lags behind the cluster (it has seen only id 1) still resumes a client at 3 or 2.
        auto atThree = h->replay({u"a"_s}, 3, 1);
        QVERIFY2(atThree, why(atThree).constData());
        QVERIFY(atThree->recovered);
        QCOMPARE(idsOf(lagging->messages), (QList<qint64>{3}));
        QVERIFY(lagging->recovered);
        QCOMPARE(lagging->gap, ReplayGap::None);
        auto noChannels = h->replay({}, 4, 100);
        QVERIFY2(noChannels, why(noChannels).constData());
        QVERIFY(!noChannels->recovered);
    } else {
        // The hub's last id is the bound: 10 of 100 is in the past (nothing after it is stored), and 2 is
        // beyond a hub that has handed out 1.
        QVERIFY(generous->recovered);
        QCOMPARE(generous->gap, ReplayGap::None);
        QVERIFY(lagging->messages.isEmpty());
        QCOMPARE(lagging->gap, ReplayGap::Reset);
    }
}

void tst_HistoryContract::replayLimitKeepsNewest()
{
    ServerConfig c = config();
    c.replayLimit = 3;
    auto h = open(c);
    QVERIFY(h);
    for (qint64 id = 1; id <= 8; ++id)
        QCOMPARE(store(*h, makeMessage(id % 2 ? u"a"_s : u"b"_s)), id);

    auto cut = h->replay({u"a"_s, u"b"_s}, 0, 8);
    QVERIFY2(cut, why(cut).constData());
    QCOMPARE(idsOf(cut->messages), (QList<qint64>{6, 7, 8}));
    QVERIFY(!cut->recovered);
    QCOMPARE(cut->gap, ReplayGap::Limit);

    auto exact = h->replay({u"a"_s, u"b"_s}, 5, 8);
    QVERIFY2(exact, why(exact).constData());
    QCOMPARE(idsOf(exact->messages), (QList<qint64>{6, 7, 8}));
    QVERIFY(exact->recovered);

    auto oneChannel = h->replay({u"a"_s}, 0, 8);
    QVERIFY2(oneChannel, why(oneChannel).constData());
    QCOMPARE(idsOf(oneChannel->messages), (QList<qint64>{3, 5, 7}));
    QVERIFY(!oneChannel->recovered);
    // The same, planned and read in pages (a paced resume): the count, where it starts, then pages in id
    // order.
    auto plan = h->planReplay({u"a"_s, u"b"_s}, 0, 8);
    QVERIFY2(plan, why(plan).constData());
    QCOMPARE(plan->count, qint64(3));
    QCOMPARE(plan->after, qint64(5));
    QCOMPARE(plan->gap, ReplayGap::Limit);
    auto planExact = h->planReplay({u"a"_s, u"b"_s}, 5, 8);
    QVERIFY2(planExact, why(planExact).constData());
    QCOMPARE(planExact->count, qint64(3));
    QCOMPARE(planExact->after, qint64(5));
    QVERIFY(planExact->recovered);
    auto first = h->replayPage({u"a"_s, u"b"_s}, 0, 3, 1 << 20);
    QVERIFY2(first, why(first).constData());
    QCOMPARE(idsOf(first->frames), (QList<qint64>{1, 2, 3}));
    QVERIFY(first->hasMore);
    auto small = h->replayPage({u"a"_s, u"b"_s}, 3, 100, 1); // a byte: one message, at least
    QVERIFY2(small, why(small).constData());
    QCOMPARE(idsOf(small->frames), (QList<qint64>{4}));
    QVERIFY(small->hasMore);
    auto last = h->replayPage({u"a"_s}, 4, 100, 1 << 20);
    QVERIFY2(last, why(last).constData());
    QCOMPARE(idsOf(last->frames), (QList<qint64>{5, 7}));
    QVERIFY(!last->hasMore);
}

void tst_HistoryContract::replayNoChannels()
{
    auto h = open(config());
    QVERIFY(h);
    QCOMPARE(store(*h, makeMessage(u"a"_s)), 1);
    auto replay = h->replay({}, 0, 1);
    QVERIFY2(replay, why(replay).constData());
    QVERIFY(replay->messages.isEmpty());
    QVERIFY(replay->recovered);
}

void tst_HistoryContract::countRetention_data()
{
    QTest::addColumn<QString>("channel");
    // A user queue has read marks to delete too.
    QTest::newRow("user queue") << userChannel(u"alice");
    QTest::newRow("other channel") << u"a"_s;
}

void tst_HistoryContract::countRetention()
{
    QFETCH(QString, channel);
    ServerConfig c = config();
    c.defaultRetention.maxCount = 3;
    c.defaultRetention.maxAge = 0s;
    auto h = open(c);
    QVERIFY(h);
    QSignalSpy spy(asObject(*h), SIGNAL(pruned(qint64)));
    QVERIFY(spy.isValid());
    for (qint64 id = 1; id <= 12; ++id)
        QCOMPARE(store(*h, makeMessage(id <= 10 ? channel : u"b"_s)), id);

    // Where the count rule is applied differs (see HistoryBackend::countRetentionOnStore): as each message
    // is stored, or by prune(). After prune() the two agree.
    const bool onStore = m_backend->countRetentionOnStore();
    auto deleted = h->prune();
    QVERIFY2(deleted, why(deleted).constData());
    QCOMPARE(*deleted, onStore ? 0 : 7);
    QCOMPARE(spy.count(), onStore ? 0 : 1);
    if (!onStore)
        QCOMPARE(spy.at(0).at(0).toLongLong(), 7);

    auto a = h->history(channel, 0, 0, 100);
    QVERIFY2(a, why(a).constData());
    QCOMPARE(idsOf(a->messages), (QList<qint64>{8, 9, 10}));
    auto b = h->history(u"b"_s, 0, 0, 100);
    QVERIFY2(b, why(b).constData());
    QCOMPARE(idsOf(b->messages), (QList<qint64>{11, 12}));

    // History after 7 is whole (8, 9, 10); after anything below it, 1..7 are gone.
    for (const auto &[since, covered] :
         {std::pair{qint64(0), false}, std::pair{qint64(6), false}, std::pair{qint64(7), true},
          std::pair{qint64(9), true}, std::pair{qint64(12), true}}) {
        auto r = h->covers(channel, since);
        QVERIFY2(r, why(r).constData());
        QVERIFY2(*r == covered, qPrintable(u"covers(channel, %1)"_s.arg(since)));
    }
    auto bCovered = h->covers(u"b"_s, 0);
    QVERIFY2(bCovered, why(bCovered).constData());
    QVERIFY(*bCovered);

    auto below = h->replay({channel}, 5, 12);
    QVERIFY2(below, why(below).constData());
    QCOMPARE(idsOf(below->messages), (QList<qint64>{8, 9, 10}));
    QVERIFY(!below->recovered);
    QCOMPARE(below->gap, ReplayGap::Expired);
    auto mixed = h->replay({u"b"_s, channel}, 0, 12);
    QVERIFY2(mixed, why(mixed).constData());
    QCOMPARE(idsOf(mixed->messages), (QList<qint64>{8, 9, 10, 11, 12}));
    QVERIFY(!mixed->recovered);
    auto above = h->replay({channel, u"b"_s}, 7, 12);
    QVERIFY2(above, why(above).constData());
    QCOMPARE(idsOf(above->messages), (QList<qint64>{8, 9, 10, 11, 12}));
    QVERIFY(above->recovered);

    // Nothing more to delete: no signal.
    auto again = h->prune();
    QVERIFY2(again, why(again).constData());
    QCOMPARE(*again, 0);
    QCOMPARE(spy.count(), onStore ? 0 : 1);

    // Every trace of a deleted message went with it.
    m_backend->checkEntries(channel, 3, 5);
    if (QTest::currentTestFailed())
        return;
    auto gone = h->channelOf(7);
    QVERIFY2(gone, why(gone).constData());
    QVERIFY(!gone->has_value());
    if (isUserChannel(channel)) {
        auto unread = h->unreadCount(channel);
        QVERIFY2(unread, why(unread).constData());
        QCOMPARE(*unread, 3);
    }

    // The pruned point outlives a restart (for Redis: another node sees it).
    h.reset();
    auto reopened = open(c);
    QVERIFY(reopened);
    auto stillPruned = reopened->covers(channel, 6);
    QVERIFY2(stillPruned, why(stillPruned).constData());
    QVERIFY(!*stillPruned);
}

void tst_HistoryContract::pruneByAge()
{
    ServerConfig c = config();
    c.defaultRetention.maxAge = std::chrono::hours(24 * 7);
    auto h = open(c);
    QVERIFY(h);
    QSignalSpy spy(asObject(*h), SIGNAL(pruned(qint64)));
    QVERIFY(spy.isValid());
    const QDateTime now = QDateTime::currentDateTimeUtc();
    const QList<QDateTime> times = {now.addDays(-30), now.addDays(-10), now.addDays(-8), now.addDays(-6),
                                    now.addSecs(-60)};
    for (qsizetype i = 0; i < times.size(); ++i)
        QCOMPARE(store(*h, makeMessage(u"a"_s, times.at(i))), i + 1);

    auto deleted = h->prune();
    QVERIFY2(deleted, why(deleted).constData());
    QCOMPARE(*deleted, 3);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toLongLong(), 3);

    auto page = h->history(u"a"_s, 0, 0, 100);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(idsOf(page->messages), (QList<qint64>{4, 5}));
    QCOMPARE(page->messages.at(0).timestamp, times.at(3));

    auto old = h->covers(u"a"_s, 1);
    QVERIFY2(old, why(old).constData());
    QVERIFY(!*old);
    auto recent = h->covers(u"a"_s, 3);
    QVERIFY2(recent, why(recent).constData());
    QVERIFY(*recent);
    auto replay = h->replay({u"a"_s}, 0, 5);
    QVERIFY2(replay, why(replay).constData());
    QCOMPARE(idsOf(replay->messages), (QList<qint64>{4, 5}));
    QVERIFY(!replay->recovered);
    m_backend->checkEntries(u"a"_s, 2, 2);
    if (QTest::currentTestFailed())
        return;

    // A message timed before an older one's (clocks of two nodes): everything up to it goes.
    QCOMPARE(store(*h, makeMessage(u"a"_s, now.addDays(-9))), 6);
    deleted = h->prune();
    QVERIFY2(deleted, why(deleted).constData());
    QCOMPARE(*deleted, 3);
    page = h->history(u"a"_s, 0, 0, 100);
    QVERIFY2(page, why(page).constData());
    QVERIFY(page->messages.isEmpty());
}

void tst_HistoryContract::pruneRulesFirstMatchWins()
{
    ServerConfig c = config();
    c.defaultRetention.maxCount = 2;
    c.defaultRetention.maxAge = 0s;
    c.retentionRules = {
        RetentionRule{u"logs:keep"_s, 5, 0s},
        RetentionRule{u"logs:*"_s, 1, 0s},
        RetentionRule{u"logs:keep"_s, 3, 0s}, // shadowed by the first
        RetentionRule{u"fast:*"_s, 1000, 60s},
    };
    auto h = open(c);
    QVERIFY(h);
    QSignalSpy spy(asObject(*h), SIGNAL(pruned(qint64)));
    QVERIFY(spy.isValid());

    qint64 id = 0;
    for (const QString &channel : {u"logs:keep"_s, u"logs:x"_s, u"chat"_s}) {
        for (int i = 0; i < 6; ++i)
            QCOMPARE(store(*h, makeMessage(channel)), ++id);
    }
    // Five minutes old: past fast:*'s minute, well within the default (no age limit here).
    const QDateTime fiveMinutesAgo = QDateTime::currentDateTimeUtc().addSecs(-300);
    for (const QString &channel : {u"fast:1"_s, u"other"_s})
        QCOMPARE(store(*h, makeMessage(channel, fiveMinutesAgo)), ++id);
    QCOMPARE(store(*h, makeMessage(u"fast:1"_s)), ++id);

    // By count 1 + 5 + 4 on logs:keep, logs:x and chat (already gone where counts apply as messages are
    // stored), and fast:1's old message by age.
    const qint64 expectedDeleted = m_backend->countRetentionOnStore() ? 1 : 1 + 5 + 4 + 1;
    auto deleted = h->prune();
    QVERIFY2(deleted, why(deleted).constData());
    QCOMPARE(*deleted, expectedDeleted);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toLongLong(), expectedDeleted);

    const QList<std::pair<QString, QList<qint64>>> expected = {
        {u"logs:keep"_s, {2, 3, 4, 5, 6}},
        {u"logs:x"_s, {12}},
        {u"chat"_s, {17, 18}},
        {u"fast:1"_s, {21}},
        {u"other"_s, {20}},
    };
    for (const auto &[channel, ids] : expected) {
        auto page = h->history(channel, 0, 0, 100);
        QVERIFY2(page, why(page).constData());
        QVERIFY2(idsOf(page->messages) == ids, qPrintable(channel));
    }
}

void tst_HistoryContract::pruneEverythingStillKnown()
{
    ServerConfig c = config();
    c.defaultRetention.maxAge = std::chrono::hours(1);
    auto h = open(c);
    QVERIFY(h);
    const QDateTime old = QDateTime::currentDateTimeUtc().addDays(-2);
    for (qint64 id = 1; id <= 3; ++id)
        QCOMPARE(store(*h, makeMessage(u"gone"_s, old)), id);
    auto before = h->knows(u"gone"_s);
    QVERIFY2(before, why(before).constData());
    QVERIFY(*before);

    auto deleted = h->prune();
    QVERIFY2(deleted, why(deleted).constData());
    QCOMPARE(*deleted, 3);

    auto page = h->history(u"gone"_s, 0, 0, 100);
    QVERIFY2(page, why(page).constData());
    QVERIFY(page->messages.isEmpty());
    auto known = h->knows(u"gone"_s);
    QVERIFY2(known, why(known).constData());
    QVERIFY(*known);
    auto never = h->knows(u"never"_s);
    QVERIFY2(never, why(never).constData());
    QVERIFY(!*never);
    auto covered = h->covers(u"gone"_s, 0);
    QVERIFY2(covered, why(covered).constData());
    QVERIFY(!*covered);
    auto list = h->channels();
    QVERIFY2(list, why(list).constData());
    QVERIFY(list->isEmpty());
    m_backend->checkEntries(u"gone"_s, 0, 0);
}

void tst_HistoryContract::pruneRunsOnTimer_data()
{
    boolRows("byCount", {{"by age", false}, {"by count", true}});
}

void tst_HistoryContract::pruneRunsOnTimer()
{
    QFETCH(bool, byCount);
    if (byCount && m_backend->countRetentionOnStore())
        QSKIP("count retention is applied as each message is stored (countRetention), not by the timer");
    ServerConfig c = config();
    if (byCount)
        c.defaultRetention.maxCount = 1;
    else
        c.defaultRetention.maxAge = std::chrono::hours(1);
    c.pruneInterval = 50ms;
    auto h = open(c);
    QVERIFY(h);
    QSignalSpy spy(asObject(*h), SIGNAL(pruned(qint64)));
    QVERIFY(spy.isValid());
    const QDateTime now = QDateTime::currentDateTimeUtc();
    for (qint64 id = 1; id <= 3; ++id)
        QCOMPARE(store(*h, makeMessage(u"a"_s, byCount || id == 3 ? now : now.addSecs(-7200))), id);
    QTRY_COMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toLongLong(), 2);
    auto page = h->history(u"a"_s, 0, 0, 100);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(idsOf(page->messages), (QList<qint64>{3}));
}

void tst_HistoryContract::readFlags()
{
    auto h = open(config());
    QVERIFY(h);
    const QString alice = userChannel(u"alice");
    for (qint64 id = 1; id <= 3; ++id)
        QCOMPARE(store(*h, makeMessage(alice)), id);
    QCOMPARE(store(*h, makeMessage(u"chat"_s)), 4);
    QCOMPARE(store(*h, makeMessage(userChannel(u"bob"))), 5);

    auto unread = h->unreadCount(alice);
    QVERIFY2(unread, why(unread).constData());
    QCOMPARE(*unread, 3);

    QString channel;
    auto marked = h->markRead(2, &channel);
    QVERIFY2(marked, why(marked).constData());
    QVERIFY(*marked);
    QCOMPARE(channel, alice);
    unread = h->unreadCount(alice);
    QVERIFY2(unread, why(unread).constData());
    QCOMPARE(*unread, 2);
    auto page = h->history(alice, 0, 0, 100);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->read, (QList<bool>{false, true, false}));
    auto backward = h->history(alice, -1, 0, 2);
    QVERIFY2(backward, why(backward).constData());
    QCOMPARE(idsOf(backward->messages), (QList<qint64>{2, 3}));
    QCOMPARE(backward->read, (QList<bool>{true, false}));

    // Again: still read, still true.
    marked = h->markRead(2);
    QVERIFY2(marked, why(marked).constData());
    QVERIFY(*marked);

    // Not a user channel's message, or no message at all.
    channel.clear();
    marked = h->markRead(4, &channel);
    QVERIFY2(marked, why(marked).constData());
    QVERIFY(!*marked);
    QVERIFY(channel.isEmpty());
    auto chatPage = h->history(u"chat"_s, 0, 0, 100);
    QVERIFY2(chatPage, why(chatPage).constData());
    QCOMPARE(chatPage->read, (QList<bool>{false}));
    marked = h->markRead(999, &channel);
    QVERIFY2(marked, why(marked).constData());
    QVERIFY(!*marked);
    QVERIFY(channel.isEmpty());
    auto chatAll = h->markAllRead(u"chat"_s);
    QVERIFY2(chatAll, why(chatAll).constData());
    QCOMPARE(*chatAll, 0);

    auto all = h->markAllRead(alice);
    QVERIFY2(all, why(all).constData());
    QCOMPARE(*all, 2);
    unread = h->unreadCount(alice);
    QVERIFY2(unread, why(unread).constData());
    QCOMPARE(*unread, 0);
    page = h->history(alice, 0, 0, 100);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->read, (QList<bool>{true, true, true}));
    all = h->markAllRead(alice);
    QVERIFY2(all, why(all).constData());
    QCOMPARE(*all, 0);

    // A new message is unread again.
    QCOMPARE(store(*h, makeMessage(alice)), 6);
    unread = h->unreadCount(alice);
    QVERIFY2(unread, why(unread).constData());
    QCOMPARE(*unread, 1);

    // Another user's queue is untouched.
    auto bobUnread = h->unreadCount(userChannel(u"bob"));
    QVERIFY2(bobUnread, why(bobUnread).constData());
    QCOMPARE(*bobUnread, 1);
    auto nobody = h->unreadCount(userChannel(u"nobody"));
    QVERIFY2(nobody, why(nobody).constData());
    QCOMPARE(*nobody, 0);
}

namespace {
// The ids of every read the listings offer: history newest (no since), history since 0, replay since 0, a
// replay plan's count and its pages. Each is checked against what it must show.
struct Listings
{
    QList<qint64> newest;
    QList<qint64> since;
    QList<qint64> replay;
    qint64 planned = -1;
    QList<qint64> pages;
    qint64 unread = -1;
};

Listings listings(History &h, const QStringList &channels, qint64 lastId)
{
    Listings out;
    auto newest = h.history(channels.first(), -1, 0, 100);
    auto since = h.history(channels.first(), 0, 0, 100);
    auto replay = h.replay(channels, 0, lastId);
    auto plan = h.planReplay(channels, 0, lastId);
    auto unread = h.unreadCount(channels.first());
    if (!newest || !since || !replay || !plan || !unread) {
        qWarning("a listing failed");
        return out;
    }
    out.newest = idsOf(newest->messages);
    out.since = idsOf(since->messages);
    out.replay = idsOf(replay->messages);
    out.planned = plan->count;
    out.unread = *unread;
    qint64 after = plan->after;
    for (int page = 0; page < 100; ++page) {
        auto p = h.replayPage(channels, after, 1, 1 << 20); // one a page: the paging itself is tested too
        if (!p || p->frames.isEmpty())
            break;
        out.pages += idsOf(p->frames);
        after = p->frames.last().id;
    }
    return out;
}

std::optional<ChainHead> headOf(History &h, qint64 id)
{
    auto head = h.chainHead(id);
    if (!head) {
        qWarning().noquote() << "chainHead failed:" << head.error().message;
        return std::nullopt;
    }
    return *head;
}

// `chain`: the chain's first id, as Publisher sets it on an update (0: none, as an older server stored it).
Message replacing(const QString &channel, qint64 replaces, qint64 chain = 0)
{
    Message m = makeMessage(channel);
    m.notification.replaces = replaces;
    m.notification.chain = chain;
    return m;
}

Message withdrawing(const QString &channel, qint64 withdraws)
{
    Message m;
    m.channel = channel;
    m.type = History::WithdrawnType.toString();
    m.timestamp = QDateTime::currentDateTimeUtc();
    m.notification.withdraws = withdraws;
    return m;
}
} // namespace

void tst_HistoryContract::expiredHidden()
{
    // docs/protocol.md, "Expiry": an expired message is not listed, replayed, counted unread, nor the head of
    // a chain; prune deletes it without recording a gap.
    auto h = open(config());
    QVERIFY(h);
    const QString alice = userChannel(u"alice");
    const QDateTime now = QDateTime::currentDateTimeUtc();
    Message expired = makeMessage(alice);
    expired.notification.expires = now.addSecs(-1);
    Message later = makeMessage(alice);
    later.notification.expires = now.addSecs(3600);
    Message otherExpired = makeMessage(u"a"_s);
    otherExpired.notification.expires = now.addMSecs(-1);
    QCOMPARE(store(*h, expired), 1);
    QCOMPARE(store(*h, later), 2);
    QCOMPARE(store(*h, makeMessage(alice)), 3);
    QCOMPARE(store(*h, otherExpired), 4);

    const Listings l = listings(*h, {alice, u"a"_s}, 4);
    QCOMPARE(l.newest, (QList<qint64>{2, 3}));
    QCOMPARE(l.since, (QList<qint64>{2, 3}));
    QCOMPARE(l.replay, (QList<qint64>{2, 3}));
    QCOMPARE(l.planned, 2);
    QCOMPARE(l.pages, (QList<qint64>{2, 3}));
    QCOMPARE(l.unread, 2);
    QVERIFY(!headOf(*h, 1));
    QVERIFY(!headOf(*h, 4));
    QCOMPARE(headOf(*h, 2)->id, 2);
    QCOMPARE(headOf(*h, 2)->channel, alice);

    auto pruned = h->prune();
    QVERIFY2(pruned, why(pruned).constData());
    // What is left is the same, and complete: expiry is not a gap.
    const Listings after = listings(*h, {alice, u"a"_s}, 4);
    QCOMPARE(after.replay, (QList<qint64>{2, 3}));
    auto replay = h->replay({alice, u"a"_s}, 0, 4);
    QVERIFY2(replay, why(replay).constData());
    QVERIFY(replay->recovered);
    auto covered = h->covers(alice, 0);
    QVERIFY2(covered, why(covered).constData());
    QVERIFY(*covered);
}

void tst_HistoryContract::supersededHidden_data()
{
    QTest::addColumn<QString>("channel");
    QTest::newRow("user queue") << userChannel(u"alice");
    QTest::newRow("other channel") << u"a"_s;
}

void tst_HistoryContract::supersededHidden()
{
    // docs/protocol.md, "Updates and withdrawals": 40% -> 80% -> done shows only "done", from any id of
    // the chain; an update of a message that is no longer the chain's latest is refused with nothing done.
    QFETCH(QString, channel);
    auto h = open(config());
    QVERIFY(h);
    QCOMPARE(store(*h, makeMessage(channel)), 1);
    // A message nothing replaced is the first of its own chain.
    QCOMPARE(headOf(*h, 1)->chain, 1);
    QCOMPARE(store(*h, replacing(channel, 1, 1)), 2);
    QCOMPARE(store(*h, makeMessage(channel)), 3);
    QCOMPARE(store(*h, replacing(channel, 2, 1)), 4);

    const Listings l = listings(*h, {channel}, 4);
    QCOMPARE(l.newest, (QList<qint64>{3, 4}));
    QCOMPARE(l.since, (QList<qint64>{3, 4}));
    QCOMPARE(l.replay, (QList<qint64>{3, 4}));
    QCOMPARE(l.planned, 2);
    QCOMPARE(l.pages, (QList<qint64>{3, 4}));
    if (isUserChannel(channel))
        QCOMPARE(l.unread, 2);
    for (qint64 id : {1, 2, 4}) {
        const auto head = headOf(*h, id);
        QVERIFY2(head, qPrintable(QString::number(id)));
        QCOMPARE(head->id, 4);
        QCOMPARE(head->channel, channel);
        // The head's stored chain: the first id, whichever id of the chain was named.
        QCOMPARE(head->chain, 1);
    }
    QCOMPARE(headOf(*h, 3)->id, 3);
    QCOMPARE(headOf(*h, 3)->chain, 3);
    QVERIFY(!headOf(*h, 99));

    // A concurrent update that resolved the chain before 4 was stored: refused, nothing stored.
    auto stale = m_backend->store(*h, replacing(channel, 2));
    QVERIFY(!stale);
    QCOMPARE(stale.error().kind, StoreError::Kind::Stale);
    const Listings same = listings(*h, {channel}, 10);
    QCOMPARE(same.newest, (QList<qint64>{3, 4}));
    QCOMPARE(same.replay, (QList<qint64>{3, 4}));
}

// --history-size counts the messages a listing shows: an update chain takes one place however long it is,
// and a withdrawn event none, on both backends (each applies the rule at its own time: see countRetention).
// The stores never exceed the count of shown messages before 7 and 10, so both delete the same.
void tst_HistoryContract::countRetentionCountsShown()
{
    ServerConfig c = config();
    c.defaultRetention.maxCount = 3;
    c.defaultRetention.maxAge = 0s;
    auto h = open(c);
    QVERIFY(h);
    const QString a = u"a"_s;
    for (qint64 id = 1; id <= 3; ++id)
        QCOMPARE(store(*h, makeMessage(a)), id);
    QCOMPARE(store(*h, replacing(a, 3, 3)), 4);
    QCOMPARE(store(*h, replacing(a, 4, 3)), 5);
    QCOMPARE(store(*h, replacing(a, 5, 3)), 6); // shown: 1, 2, 6 (six rows)
    auto none = h->prune();
    QVERIFY2(none, why(none).constData());
    QCOMPARE(listings(*h, {a}, 6).newest, (QList<qint64>{1, 2, 6}));

    QCOMPARE(store(*h, makeMessage(a)), 7); // shown: 1, 2, 6, 7: 1 goes
    QCOMPARE(store(*h, withdrawing(a, 6)), 8);
    QCOMPARE(store(*h, makeMessage(a)), 9);
    QCOMPARE(store(*h, makeMessage(a)), 10); // shown: 2, 7, 9, 10: 2 goes
    auto deleted = h->prune();
    QVERIFY2(deleted, why(deleted).constData());
    const Listings l = listings(*h, {a}, 10);
    QCOMPARE(l.newest, (QList<qint64>{7, 9, 10}));
    QCOMPARE(l.replay, (QList<qint64>{7, 8, 9, 10}));
    // GET /api/channels says so too.
    auto summary = h->channels();
    QVERIFY2(summary, why(summary).constData());
    QCOMPARE(summary->size(), 1);
    QCOMPARE(summary->constFirst().messages, qint64(3));
    auto covered = h->covers(a, 2);
    QVERIFY2(covered, why(covered).constData());
    QVERIFY(*covered);
    auto cut = h->covers(a, 1);
    QVERIFY2(cut, why(cut).constData());
    QVERIFY(!*cut);
}

void tst_HistoryContract::withdrawnHidden()
{
    // A withdrawn chain is gone from every listing and count; its "withdrawn" event shows only to reads with
    // since, and the chain resolves to nothing.
    auto h = open(config());
    QVERIFY(h);
    const QString alice = userChannel(u"alice");
    QCOMPARE(store(*h, makeMessage(alice)), 1);
    QCOMPARE(store(*h, replacing(alice, 1)), 2);
    QCOMPARE(store(*h, withdrawing(alice, 2)), 3);
    QCOMPARE(store(*h, makeMessage(alice)), 4);

    const Listings l = listings(*h, {alice}, 4);
    QCOMPARE(l.newest, (QList<qint64>{4}));
    QCOMPARE(l.since, (QList<qint64>{3, 4}));
    QCOMPARE(l.replay, (QList<qint64>{3, 4}));
    QCOMPARE(l.planned, 2);
    QCOMPARE(l.pages, (QList<qint64>{3, 4}));
    QCOMPARE(l.unread, 1);
    auto since = h->history(alice, 0, 0, 100);
    QVERIFY2(since, why(since).constData());
    QCOMPARE(since->read, (QList<bool>{true, false})); // the event is never unread
    auto replay = h->replay({alice}, 0, 4);
    QVERIFY2(replay, why(replay).constData());
    QCOMPARE(replay->messages.first().type, u"withdrawn"_s);
    QCOMPARE(replay->messages.first().notification.withdraws, 2);
    QVERIFY(!headOf(*h, 1));
    QVERIFY(!headOf(*h, 2));
    QVERIFY(!headOf(*h, 3));

    auto again = m_backend->store(*h, withdrawing(alice, 2));
    QVERIFY(!again);
    QCOMPARE(again.error().kind, StoreError::Kind::Stale);
    auto all = h->markAllRead(alice);
    QVERIFY2(all, why(all).constData());
    auto unread = h->unreadCount(alice);
    QVERIFY2(unread, why(unread).constData());
    QCOMPARE(*unread, 0);
}

void tst_HistoryContract::readListsUnreadAndDelete()
{
    auto h = open(config());
    QVERIFY(h);
    const QString alice = userChannel(u"alice");
    for (qint64 id = 1; id <= 4; ++id)
        QCOMPARE(store(*h, makeMessage(alice)), id);
    QCOMPARE(store(*h, makeMessage(userChannel(u"bob"))), 5);
    QCOMPARE(store(*h, makeMessage(u"chat"_s)), 6);

    // Only alice's stored messages are marked, and reported in the order given, once each.
    auto marked = h->setRead(alice, {3, 5, 1, 999, 6, 3}, true);
    QVERIFY2(marked, why(marked).constData());
    QCOMPARE(*marked, (QList<qint64>{3, 1}));
    auto page = h->history(alice, 0, 0, 100);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->read, (QList<bool>{true, false, true, false}));
    auto unread = h->unreadCount(alice);
    QVERIFY2(unread, why(unread).constData());
    QCOMPARE(*unread, 2);
    auto bob = h->history(userChannel(u"bob"), 0, 0, 100);
    QVERIFY2(bob, why(bob).constData());
    QCOMPARE(bob->read, (QList<bool>{false}));

    // Marked again: still reported (the state asked for holds), nothing changes.
    marked = h->setRead(alice, {1}, true);
    QVERIFY2(marked, why(marked).constData());
    QCOMPARE(*marked, (QList<qint64>{1}));
    unread = h->unreadCount(alice);
    QCOMPARE(*unread, 2);

    // Unread again.
    marked = h->setRead(alice, {1, 2}, false);
    QVERIFY2(marked, why(marked).constData());
    QCOMPARE(*marked, (QList<qint64>{1, 2}));
    page = h->history(alice, 0, 0, 100);
    QCOMPARE(page->read, (QList<bool>{false, false, true, false}));
    unread = h->unreadCount(alice);
    QCOMPARE(*unread, 3);

    // Not a user queue, or nothing asked: nothing.
    marked = h->setRead(u"chat"_s, {6}, true);
    QVERIFY2(marked, why(marked).constData());
    QVERIFY(marked->isEmpty());
    marked = h->setRead(alice, {}, true);
    QVERIFY2(marked, why(marked).constData());
    QVERIFY(marked->isEmpty());

    // Deleted: gone from the queue, its count, its owner lookup and a replay; others stay.
    auto removed = h->removeFromQueue(alice, {2, 5, 4, 2});
    QVERIFY2(removed, why(removed).constData());
    QCOMPARE(*removed, (QList<qint64>{2, 4}));
    page = h->history(alice, 0, 0, 100);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(idsOf(page->messages), (QList<qint64>{1, 3}));
    QCOMPARE(page->read, (QList<bool>{false, true}));
    unread = h->unreadCount(alice);
    QCOMPARE(*unread, 1);
    auto owner = h->channelOf(2);
    QVERIFY2(owner, why(owner).constData());
    QVERIFY(!owner->has_value());
    auto replay = h->replay({alice, userChannel(u"bob")}, 0, 6);
    QVERIFY2(replay, why(replay).constData());
    QCOMPARE(idsOf(replay->messages), (QList<qint64>{1, 3, 5}));
    QVERIFY(replay->recovered);
    // Deleted once: a second time finds nothing, and a mark does not bring it back.
    removed = h->removeFromQueue(alice, {2});
    QVERIFY2(removed, why(removed).constData());
    QVERIFY(removed->isEmpty());
    marked = h->setRead(alice, {2}, false);
    QVERIFY2(marked, why(marked).constData());
    QVERIFY(marked->isEmpty());
    unread = h->unreadCount(alice);
    QCOMPARE(*unread, 1);
    removed = h->removeFromQueue(u"chat"_s, {6});
    QVERIFY2(removed, why(removed).constData());
    QVERIFY(removed->isEmpty());
    // Nothing of 2 and 4 is left behind in the backend's keys (all unread again, so the unread index counts
    // both that remain).
    marked = h->setRead(alice, {3}, false);
    QVERIFY2(marked, why(marked).constData());
    m_backend->checkEntries(alice, 2, 4);
}

void tst_HistoryContract::markReadUpTo()
{
    auto h = open(config());
    QVERIFY(h);
    const QString alice = userChannel(u"alice");
    for (qint64 id = 1; id <= 5; ++id)
        QCOMPARE(store(*h, makeMessage(id == 3 ? userChannel(u"bob") : alice)), id);
    auto marked = h->markReadUpTo(alice, 4);
    QVERIFY2(marked, why(marked).constData());
    QCOMPARE(*marked, 3); // 1, 2 and 4
    auto page = h->history(alice, 0, 0, 100);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->read, (QList<bool>{true, true, true, false}));
    auto unread = h->unreadCount(alice);
    QCOMPARE(*unread, 1);
    auto bob = h->unreadCount(userChannel(u"bob"));
    QCOMPARE(*bob, 1);
    marked = h->markReadUpTo(alice, 4);
    QVERIFY2(marked, why(marked).constData());
    QCOMPARE(*marked, 0);
    marked = h->markReadUpTo(u"chat"_s, 100);
    QVERIFY2(marked, why(marked).constData());
    QCOMPARE(*marked, 0);
}

void tst_HistoryContract::userSettingsKept()
{
    {
        auto h = open(config());
        QVERIFY(h);
        auto none = h->userSettings(u"alice"_s);
        QVERIFY2(none, why(none).constData());
        QVERIFY(none->isEmpty());
        const QByteArray first = R"({"min_priority":3,"quiet_hours":null})";
        const QByteArray second = R"({"min_priority":4,"quiet_hours":{"start":"22:00"}})";
        auto saved = h->saveUserSettings(u"alice"_s, first);
        QVERIFY2(saved, why(saved).constData());
        saved = h->saveUserSettings(u"alice"_s, second);
        QVERIFY2(saved, why(saved).constData());
        saved = h->saveUserSettings(u"bob"_s, first);
        QVERIFY2(saved, why(saved).constData());
        m_backend->close(*h);
    }
    // Kept across a restart, per user.
    auto h = open(config());
    QVERIFY(h);
    auto alice = h->userSettings(u"alice"_s);
    QVERIFY2(alice, why(alice).constData());
    QCOMPARE(*alice, QByteArray(R"({"min_priority":4,"quiet_hours":{"start":"22:00"}})"));
    auto bob = h->userSettings(u"bob"_s);
    QVERIFY2(bob, why(bob).constData());
    QCOMPARE(*bob, QByteArray(R"({"min_priority":3,"quiet_hours":null})"));
}

void tst_HistoryContract::channelsSummary()
{
    auto h = open(config());
    QVERIFY(h);
    const QDateTime base = QDateTime::currentDateTimeUtc().addSecs(-3600);
    const QList<std::pair<qint64, QString>> rows = {{1, u"a"_s}, {2, u"b"_s}, {3, u"a"_s}, {4, u"b"_s},
                                                    {5, u"b"_s}, {6, u"c"_s}, {7, u"a"_s}};
    for (const auto &[id, channel] : rows)
        QCOMPARE(store(*h, makeMessage(channel, base.addSecs(id * 10))), id);

    auto list = h->channels();
    QVERIFY2(list, why(list).constData());
    QCOMPARE(list->size(), 3);
    QHash<QString, StoredChannel> byName;
    for (const StoredChannel &c : *list)
        byName.insert(c.name, c);
    const QList<std::tuple<QString, qint64, qint64>> expected = {
        {u"a"_s, 3, 7}, {u"b"_s, 3, 5}, {u"c"_s, 1, 6}};
    for (const auto &[name, count, lastId] : expected) {
        QVERIFY2(byName.contains(name), qPrintable(name));
        const StoredChannel c = byName.value(name);
        QCOMPARE(c.messages, count);
        QCOMPARE(c.lastId, lastId);
        QCOMPARE(c.lastMessageAt, base.addSecs(lastId * 10));
    }
}

// One page of /api/channels: stored channels after a cursor, in name order, with their counts.
void tst_HistoryContract::channelsArePaged()
{
    auto h = open(config());
    QVERIFY(h);
    QStringList names;
    for (int i = 0; i < 25; ++i)
        names.append(u"ch.%1"_s.arg((i * 7) % 25, 2, 10, QChar(u'0')));
    for (const QString &n : std::as_const(names))
        QVERIFY(store(*h, makeMessage(n)) > 0);
    QCOMPARE(store(*h, makeMessage(u"ch.03"_s)), 26); // two messages on one
    names.sort();
    QStringList seen;
    QString after;
    for (int pages = 0; pages < 10; ++pages) {
        auto page = h->channels(after, 10);
        QVERIFY2(page, why(page).constData());
        QVERIFY(page->size() <= 10);
        for (const StoredChannel &c : std::as_const(*page)) {
            seen.append(c.name);
            QCOMPARE(c.messages, c.name == u"ch.03"_s ? 2 : 1);
        }
        if (page->size() < 10)
            break;
        after = page->last().name;
    }
    QCOMPARE(seen, names);
    auto all = h->channels();
    QVERIFY2(all, why(all).constData());
    QCOMPARE(all->size(), 25);
}

void tst_HistoryContract::threadEndingWithoutRelease()
{
    auto h = open(config());
    QVERIFY(h);
    // Threads that end without releasing their connection; a later one may reuse an address or a thread id,
    // and so a connection's name. Each must still get a working connection, and close() must clean up after
    // all.
    QList<QByteArray> results;
    for (int i = 0; i < 5; ++i) {
        QByteArray result = "not run";
        std::unique_ptr<QThread> t(QThread::create(
            [this, &h, &result] { result = why(m_backend->store(*h, makeMessage(u"a"_s))); }));
        t->start();
        t->wait();
        results.append(result);
    }
    QCOMPARE(results, QList<QByteArray>(5, "ok"));
    QVERIFY(m_backend->connectionCount(*h) >= 2);
    auto page = h->history(u"a"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(idsOf(page->messages), range(1, 5));
    m_backend->close(*h);
    QCOMPARE(m_backend->connectionCount(*h), 0);
}

void tst_HistoryContract::concurrentStoresAndReplays()
{
    constexpr int Writers = 4;
    constexpr int PerWriter = 200;
    constexpr qint64 Total = Writers * PerWriter;
    const QStringList channels = {u"load.0"_s, u"load.1"_s};

    auto h = open(config());
    QVERIFY(h);
    QCOMPARE(m_backend->connectionCount(*h), 1);
    m_backend->watchDeliveries(*h);
    if (QTest::currentTestFailed())
        return;

    // The channel each id was stored on, as its writer was told.
    QMutex mutex;
    QHash<qint64, QString> sent;
    std::atomic<int> failures{0};
    std::atomic<int> replayFailures{0};
    std::atomic<int> unordered{0};
    std::atomic<int> replays{0};
    std::atomic<bool> writersDone{false};

    std::vector<std::unique_ptr<QThread>> writers;
    for (int t = 0; t < Writers; ++t) {
        writers.emplace_back(QThread::create([&, t] {
            const QString channel = channels.at(t % 2);
            for (int i = 0; i < PerWriter; ++i) {
                Message m = makeMessage(channel);
                m.message = u"writer %1 #%2"_s.arg(t).arg(i);
                auto id = m_backend->store(*h, m);
                QMutexLocker lock(&mutex);
                if (!id || sent.contains(*id))
                    ++failures;
                else
                    sent.insert(*id, channel);
            }
            m_backend->releaseThreadConnection(*h);
        }));
    }
    std::unique_ptr<QThread> reader(QThread::create([&] {
        do {
            auto r = h->replay(channels, 0, Total);
            if (!r) {
                ++replayFailures;
                continue;
            }
            const QList<qint64> ids = idsOf(r->messages);
            if (!std::is_sorted(ids.begin(), ids.end()) ||
                std::adjacent_find(ids.begin(), ids.end()) != ids.end())
                ++unordered;
            ++replays;
        } while (!writersDone.load());
        m_backend->releaseThreadConnection(*h);
    }));

    reader->start();
    for (auto &w : writers)
        w->start();
    for (auto &w : writers)
        w->wait();
    writersDone = true;
    reader->wait();

    QCOMPARE(failures.load(), 0);
    QCOMPARE(replayFailures.load(), 0);
    QCOMPARE(unordered.load(), 0);
    QVERIFY(replays.load() > 0);
    // Each thread had a connection of its own and gave it back; the one open() made remains.
    QCOMPARE(m_backend->connectionCount(*h), 1);

    // Unique and gap-free: exactly 1..Total, each on its writer's channel.
    QList<qint64> ids = sent.keys();
    std::sort(ids.begin(), ids.end());
    QCOMPARE(ids, range(1, Total));
    auto all = h->replay(channels, 0, Total);
    QVERIFY2(all, why(all).constData());
    QVERIFY(all->recovered);
    QCOMPARE(idsOf(all->messages), range(1, Total));
    for (const Message &m : all->messages)
        QCOMPARE(m.channel, sent.value(m.id));
    m_backend->checkDeliveries(all->messages);
    if (QTest::currentTestFailed())
        return;

    auto list = h->channels();
    QVERIFY2(list, why(list).constData());
    QCOMPARE(list->size(), 2);
    for (const StoredChannel &c : *list)
        QCOMPARE(c.messages, Total / 2);

    m_backend->close(*h);
    QCOMPARE(m_backend->connectionCount(*h), 0);
}

void tst_HistoryContract::closeRefuses()
{
    auto h = open(config());
    QVERIFY(h);
    for (qint64 id = 1; id <= 3; ++id)
        QCOMPARE(store(*h, makeMessage(u"a"_s)), id);
    m_backend->close(*h);
    QCOMPARE(m_backend->connectionCount(*h), 0);

    auto r = m_backend->store(*h, makeMessage(u"a"_s));
    QVERIFY(!r);
    QCOMPARE(r.error().kind, StoreError::Kind::Unavailable);
    auto page = h->history(u"a"_s, 0, 0, 100);
    QVERIFY(!page);
    QCOMPARE(page.error().kind, StoreError::Kind::Unavailable);
    auto replay = h->replay({u"a"_s}, 0, 3);
    QVERIFY(!replay);
    QCOMPARE(replay.error().kind, StoreError::Kind::Unavailable);
    QVERIFY(!h->prune());
    m_backend->close(*h); // twice is harmless
    QCOMPARE(m_backend->connectionCount(*h), 0);

    // Opened again, the data is where it was.
    h.reset();
    auto again = open(config());
    QVERIFY(again);
    auto all = again->history(u"a"_s, 0, 0, 100);
    QVERIFY2(all, why(all).constData());
    QCOMPARE(idsOf(all->messages), range(1, 3));
}

int runHistoryContract(std::unique_ptr<HistoryBackend> backend, int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    tst_HistoryContract test(std::move(backend));
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}
