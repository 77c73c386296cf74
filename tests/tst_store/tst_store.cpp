#include "channelname.h"
#include "message.h"
#include "store.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSemaphore>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

using namespace Qt::StringLiterals;
using namespace Herald;

namespace {

using namespace std::chrono_literals;

// The error text of a failed result, for QVERIFY2 (which evaluates its message even on success).
template<class T>
QByteArray why(const Result<T, StoreError> &r)
{
    return r ? QByteArray("ok") : r.error().message.toUtf8();
}

Message makeMessage(qint64 id, const QString &channel,
                    const QDateTime &timestamp = QDateTime::currentDateTimeUtc())
{
    Message m;
    m.id = id;
    m.channel = channel;
    m.type = u"notification"_s;
    m.timestamp = timestamp;
    m.message = u"message %1"_s.arg(id);
    return m;
}

QList<qint64> idsOf(const QList<Message> &messages)
{
    QList<qint64> ids;
    for (const Message &m : messages)
        ids.append(m.id);
    return ids;
}

// Our own connection to herald.db, beside the store's (a unique name, removed when it goes).
class RawDb
{
public:
    explicit RawDb(const QString &path)
        : m_name(u"tst_store-raw-%1"_s.arg(++s_serial))
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, m_name);
        db.setDatabaseName(path);
        m_open = db.open();
    }
    ~RawDb()
    {
        {
            QSqlDatabase db = QSqlDatabase::database(m_name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_name);
    }
    RawDb(const RawDb &) = delete;
    RawDb &operator=(const RawDb &) = delete;

    bool isOpen() const { return m_open; }
    bool exec(const QString &sql)
    {
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        if (!q.exec(sql)) {
            qWarning().noquote() << sql << q.lastError().text();
            return false;
        }
        return true;
    }
    QVariant scalar(const QString &sql)
    {
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        if (!q.exec(sql) || !q.next())
            return {};
        return q.value(0);
    }

private:
    static inline int s_serial = 0;
    QString m_name;
    bool m_open = false;
};

int storeConnectionCount()
{
    int n = 0;
    for (const QString &name : QSqlDatabase::connectionNames()) {
        if (name.startsWith(u"herald-store-"_s))
            ++n;
    }
    return n;
}

} // namespace

class tst_Store : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void channelMatchesPatterns_data();
    void channelMatchesPatterns();

    void openCreatesWalDatabase();
    void reopenKeepsMessages();
    void epochKeptNewPerDatabase();
    void epochAddedToOlderSchema();
    void newerSchemaRefused();
    void unusablePathFails_data();
    void unusablePathFails();
    void notADatabaseFails();

    void messageFieldsRoundTrip();
    void duplicateIdRefused();
    void historyPaging_data();
    void historyPaging();

    void replayMergesChannelsInIdOrder();
    void replayFromTheFutureNotRecovered();
    void replayLimitKeepsNewest();
    void replayNoChannels();

    void pruneByCount();
    void pruneByAge();
    void pruneRulesFirstMatchWins();
    void pruneEverythingStillKnown();
    void pruneRunsOnTimer();

    void readFlags();
    void channelsSummary();

    void isPersistent_data();
    void isPersistent();
    void retentionFor_data();
    void retentionFor();

    void reservedIdsSurviveReopen();
    void maxDatabaseSizeGivesFull();
    void lockedDatabaseUnavailable();
    void threadEndingWithoutRelease();
    void concurrentInsertAndReplay();
    void closeCheckpointsAndRefuses();

private:
    std::unique_ptr<QTemporaryDir> m_dir;

    ServerConfig config() const
    {
        ServerConfig c;
        c.dataDir = m_dir->path();
        // Retention runs when a test calls prune(), not on its own halfway through.
        c.pruneInterval = std::chrono::hours(1);
        return c;
    }
    QString dbPath() const { return m_dir->filePath(u"herald.db"_s); }
};

void tst_Store::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void tst_Store::cleanup()
{
    m_dir.reset();
    // Every store closed (destroyed) removes its connections; a leftover means a leak.
    QCOMPARE(storeConnectionCount(), 0);
}

void tst_Store::channelMatchesPatterns_data()
{
    QTest::addColumn<QString>("pattern");
    QTest::addColumn<QString>("channel");
    QTest::addColumn<bool>("matches");

    QTest::newRow("star matches any") << u"*"_s << u"chat"_s << true;
    QTest::newRow("star matches empty") << u"*"_s << QString() << true;
    QTest::newRow("double star matches empty") << u"**"_s << QString() << true;
    QTest::newRow("empty pattern, empty channel") << QString() << QString() << true;
    QTest::newRow("empty pattern, channel") << QString() << u"chat"_s << false;
    QTest::newRow("prefix, empty channel") << u"user:*"_s << QString() << false;
    QTest::newRow("prefix matches") << u"user:*"_s << u"user:alice"_s << true;
    QTest::newRow("prefix matches bare prefix") << u"user:*"_s << u"user:"_s << true;
    QTest::newRow("prefix without colon") << u"user:*"_s << u"user"_s << false;
    QTest::newRow("prefix elsewhere") << u"user:*"_s << u"xuser:alice"_s << false;
    QTest::newRow("a*b ab") << u"a*b"_s << u"ab"_s << true;
    QTest::newRow("a*b axxb") << u"a*b"_s << u"axxb"_s << true;
    QTest::newRow("a*b backtracks") << u"a*b"_s << u"abab"_s << true;
    QTest::newRow("a*b trailing text") << u"a*b"_s << u"abc"_s << false;
    QTest::newRow("a*b reversed") << u"a*b"_s << u"ba"_s << false;
    QTest::newRow("a*b only a") << u"a*b"_s << u"a"_s << false;
    QTest::newRow("suffix") << u"*.x"_s << u"logs.x"_s << true;
    QTest::newRow("suffix alone") << u"*.x"_s << u".x"_s << true;
    QTest::newRow("suffix repeated") << u"*.x"_s << u"a.xb.x"_s << true;
    QTest::newRow("suffix then more") << u"*.x"_s << u"a.x.y"_s << false;
    QTest::newRow("suffix other") << u"*.x"_s << u"a.y"_s << false;
    QTest::newRow("exact") << u"chat"_s << u"chat"_s << true;
    QTest::newRow("exact longer") << u"chat"_s << u"chat2"_s << false;
    QTest::newRow("exact shorter") << u"chat"_s << u"cha"_s << false;
    QTest::newRow("exact case") << u"chat"_s << u"Chat"_s << false;
    QTest::newRow("exact, empty channel") << u"chat"_s << QString() << false;
}

void tst_Store::channelMatchesPatterns()
{
    QFETCH(QString, pattern);
    QFETCH(QString, channel);
    QFETCH(bool, matches);
    QCOMPARE(channelMatches(pattern, channel), matches);
}

void tst_Store::openCreatesWalDatabase()
{
    Store store(config());
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    QCOMPARE(store.databasePath(), dbPath());
    QVERIFY(QFileInfo::exists(dbPath()));
    QCOMPARE(store.lastStoredId(), 0);

    RawDb raw(dbPath());
    QVERIFY(raw.isOpen());
    QCOMPARE(raw.scalar(u"PRAGMA user_version"_s).toInt(), Store::SchemaVersion);
    QCOMPARE(raw.scalar(u"PRAGMA journal_mode"_s).toString().toLower(), u"wal"_s);
}

void tst_Store::reopenKeepsMessages()
{
    {
        Store store(config());
        QVERIFY2(store.open(), qPrintable(store.errorString()));
        for (qint64 id = 1; id <= 3; ++id) {
            auto r = store.insert(makeMessage(id, u"chat"_s));
            QVERIFY2(r, why(r).constData());
        }
    }
    Store again(config());
    QVERIFY2(again.open(), qPrintable(again.errorString()));
    QCOMPARE(again.lastStoredId(), 3);
    auto page = again.history(u"chat"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(idsOf(page->messages), (QList<qint64>{1, 2, 3}));
    QCOMPARE(page->messages.at(1).message, u"message 2"_s);
}

void tst_Store::epochKeptNewPerDatabase()
{
    QString first;
    {
        Store store(config());
        QVERIFY2(store.open(), qPrintable(store.errorString()));
        first = store.epoch();
        QVERIFY2(QRegularExpression(u"^[0-9a-f]{16}$"_s).match(first).hasMatch(), qPrintable(first));
    }
    {
        Store again(config());
        QVERIFY2(again.open(), qPrintable(again.errorString()));
        QCOMPARE(again.epoch(), first);
    }
    // Another data dir is another history.
    QTemporaryDir other;
    ServerConfig c = config();
    c.dataDir = other.path();
    Store fresh(c);
    QVERIFY2(fresh.open(), qPrintable(fresh.errorString()));
    QVERIFY(!fresh.epoch().isEmpty());
    QVERIFY(fresh.epoch() != first);
}

void tst_Store::epochAddedToOlderSchema()
{
    // A database of schema 2 (before epochs), with a message in it: migrated, it keeps the message and gets
    // an epoch, which it then keeps.
    {
        Store store(config());
        QVERIFY2(store.open(), qPrintable(store.errorString()));
        QVERIFY(store.insert(makeMessage(1, u"chat"_s)));
    }
    {
        RawDb raw(dbPath());
        QVERIFY(raw.exec(u"DELETE FROM meta WHERE key = 'epoch'"_s));
        QVERIFY(raw.exec(u"PRAGMA user_version = 2"_s));
    }
    QString epoch;
    {
        Store store(config());
        QVERIFY2(store.open(), qPrintable(store.errorString()));
        epoch = store.epoch();
        QCOMPARE(epoch.size(), 16);
        QCOMPARE(store.lastStoredId(), 1);
    }
    RawDb raw(dbPath());
    QCOMPARE(raw.scalar(u"PRAGMA user_version"_s).toInt(), Store::SchemaVersion);
    QCOMPARE(raw.scalar(u"SELECT value FROM meta WHERE key = 'epoch'"_s).toString(), epoch);
}

void tst_Store::newerSchemaRefused()
{
    const int newer = Store::SchemaVersion + 1;
    {
        RawDb raw(dbPath());
        QVERIFY(raw.isOpen());
        QVERIFY(raw.exec(u"PRAGMA user_version = %1"_s.arg(newer)));
    }
    Store store(config());
    QVERIFY(!store.open());
    QVERIFY2(store.errorString().contains(u"schema"_s), qPrintable(store.errorString()));
    QVERIFY2(store.errorString().contains(QString::number(newer)), qPrintable(store.errorString()));
    QVERIFY(!store.errorString().contains(u'\n'));

    auto r = store.insert(makeMessage(1, u"chat"_s));
    QVERIFY(!r);
    QCOMPARE(r.error().kind, StoreError::Kind::Unavailable);

    // Left as it was: no downgrade, no tables added.
    RawDb raw(dbPath());
    QCOMPARE(raw.scalar(u"PRAGMA user_version"_s).toInt(), newer);
    QCOMPARE(raw.scalar(u"SELECT COUNT(*) FROM sqlite_master"_s).toInt(), 0);
}

void tst_Store::unusablePathFails_data()
{
    QTest::addColumn<QString>("subPath");
    // Paths under a regular file fail even for root, unlike a chmod.
    QTest::newRow("under a file") << u"afile/data"_s;
    QTest::newRow("missing directory") << u"missing/data"_s;
}

void tst_Store::unusablePathFails()
{
    QFETCH(QString, subPath);
    QFile file(m_dir->filePath(u"afile"_s));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.close();

    ServerConfig c = config();
    c.dataDir = m_dir->filePath(subPath);
    Store store(c);
    QVERIFY(!store.open());
    QVERIFY(!store.errorString().isEmpty());
    QVERIFY2(store.errorString().contains(store.databasePath()), qPrintable(store.errorString()));

    auto r = store.insert(makeMessage(1, u"chat"_s));
    QVERIFY(!r);
    QCOMPARE(r.error().kind, StoreError::Kind::Unavailable);
    auto h = store.history(u"chat"_s, 0, 0, 10);
    QVERIFY(!h);
    QCOMPARE(h.error().kind, StoreError::Kind::Unavailable);
}

void tst_Store::notADatabaseFails()
{
    QFile file(dbPath());
    QVERIFY(file.open(QIODevice::WriteOnly));
    QVERIFY(file.write(QByteArray(8192, 'x')) == 8192);
    file.close();

    Store store(config());
    QVERIFY(!store.open());
    QVERIFY2(store.errorString().contains(store.databasePath()), qPrintable(store.errorString()));
    auto r = store.insert(makeMessage(1, u"chat"_s));
    QVERIFY(!r);
    QCOMPARE(r.error().kind, StoreError::Kind::Unavailable);
    // Not overwritten.
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(file.readAll(), QByteArray(8192, 'x'));
}

void tst_Store::messageFieldsRoundTrip()
{
    Store store(config());
    QVERIFY2(store.open(), qPrintable(store.errorString()));

    Message full = makeMessage(7, u"posts"_s);
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
    Message bare = makeMessage(8, u"posts"_s);
    bare.message = QString();

    // Given the bytes already encoded for delivery, those are what is stored.
    Message encoded = makeMessage(9, u"posts"_s);
    QJsonObject delivered = encoded.toJson();
    delivered.insert(u"model"_s, u"users"_s);
    const QByteArray json = QJsonDocument(delivered).toJson(QJsonDocument::Compact);

    for (const auto &[m, bytes] :
         {std::pair{full, QByteArray()}, std::pair{bare, QByteArray()}, std::pair{encoded, json}}) {
        auto r = store.insert(m, bytes);
        QVERIFY2(r, why(r).constData());
    }

    auto page = store.history(u"posts"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->messages.size(), 3);

    const Message &got = page->messages.at(0);
    QCOMPARE(got.id, full.id);
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
    QVERIFY(gotBare.title.isNull());
    QVERIFY(gotBare.message.isNull());
    QVERIFY(gotBare.sender.isNull());
    QVERIFY(gotBare.data.isUndefined());
    QVERIFY(gotBare.extra.isEmpty());
    QCOMPARE(gotBare.toJson(), bare.toJson());

    const Message &gotEncoded = page->messages.at(2);
    QCOMPARE(gotEncoded.extra.value(u"model"_s).toString(), u"users"_s);
    QCOMPARE(gotEncoded.toJson(), delivered);
}

void tst_Store::duplicateIdRefused()
{
    Store store(config());
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    auto first = store.insert(makeMessage(1, u"chat"_s));
    QVERIFY2(first, why(first).constData());
    Message other = makeMessage(1, u"chat"_s);
    other.message = u"replacement"_s;
    auto second = store.insert(other);
    QVERIFY(!second);
    QCOMPARE(second.error().kind, StoreError::Kind::Unavailable);
    auto page = store.history(u"chat"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->messages.size(), 1);
    QCOMPARE(page->messages.at(0).message, u"message 1"_s);
}

void tst_Store::historyPaging_data()
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

void tst_Store::historyPaging()
{
    QFETCH(qint64, since);
    QFETCH(qint64, before);
    QFETCH(int, limit);
    QFETCH(QList<qint64>, expected);
    QFETCH(bool, hasMore);

    Store store(config());
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    for (qint64 id = 1; id <= 20; ++id) {
        auto r = store.insert(makeMessage(id, id % 2 ? u"chat"_s : u"other"_s));
        QVERIFY2(r, why(r).constData());
    }
    auto page = store.history(u"chat"_s, since, before, limit);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(idsOf(page->messages), expected);
    QCOMPARE(page->read.size(), page->messages.size());
    QCOMPARE(page->hasMore, hasMore);
    for (const Message &m : page->messages)
        QCOMPARE(m.channel, u"chat"_s);
}

void tst_Store::replayMergesChannelsInIdOrder()
{
    Store store(config());
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    const QStringList names = {u"a"_s, u"b"_s, u"c"_s};
    for (qint64 id = 1; id <= 9; ++id) {
        auto r = store.insert(makeMessage(id, names.at((id - 1) % 3)));
        QVERIFY2(r, why(r).constData());
    }

    auto all = store.replay({u"c"_s, u"a"_s}, 0, 9);
    QVERIFY2(all, why(all).constData());
    QCOMPARE(idsOf(all->messages), (QList<qint64>{1, 3, 4, 6, 7, 9}));
    QVERIFY(all->recovered);

    auto after = store.replay({u"a"_s, u"c"_s}, 4, 9);
    QVERIFY2(after, why(after).constData());
    QCOMPARE(idsOf(after->messages), (QList<qint64>{6, 7, 9}));
    QVERIFY(after->recovered);

    auto upToDate = store.replay({u"a"_s, u"b"_s, u"c"_s}, 9, 9);
    QVERIFY2(upToDate, why(upToDate).constData());
    QVERIFY(upToDate->messages.isEmpty());
    QVERIFY(upToDate->recovered);

    auto unknown = store.replay({u"nobody"_s}, 0, 9);
    QVERIFY2(unknown, why(unknown).constData());
    QVERIFY(unknown->messages.isEmpty());
    QVERIFY(unknown->recovered);
}

void tst_Store::replayFromTheFutureNotRecovered()
{
    Store store(config());
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    for (qint64 id = 1; id <= 3; ++id) {
        auto r = store.insert(makeMessage(id, u"a"_s));
        QVERIFY2(r, why(r).constData());
    }
    // The client saw id 10 but this hub has only handed out 3: its history was reset.
    auto r = store.replay({u"a"_s}, 10, 3);
    QVERIFY2(r, why(r).constData());
    QVERIFY(r->messages.isEmpty());
    QVERIFY(!r->recovered);
    QCOMPARE(r->gap, ReplayGap::Reset);
    QCOMPARE(replayGapName(r->gap), u"reset"_s);

    auto atCurrent = store.replay({u"a"_s}, 3, 3);
    QVERIFY2(atCurrent, why(atCurrent).constData());
    QVERIFY(atCurrent->recovered);
    QCOMPARE(atCurrent->gap, ReplayGap::None);
}

void tst_Store::replayLimitKeepsNewest()
{
    ServerConfig c = config();
    c.replayLimit = 3;
    Store store(c);
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    for (qint64 id = 1; id <= 8; ++id) {
        auto r = store.insert(makeMessage(id, id % 2 ? u"a"_s : u"b"_s));
        QVERIFY2(r, why(r).constData());
    }

    auto cut = store.replay({u"a"_s, u"b"_s}, 0, 8);
    QVERIFY2(cut, why(cut).constData());
    QCOMPARE(idsOf(cut->messages), (QList<qint64>{6, 7, 8}));
    QVERIFY(!cut->recovered);
    QCOMPARE(cut->gap, ReplayGap::Limit);

    auto exact = store.replay({u"a"_s, u"b"_s}, 5, 8);
    QVERIFY2(exact, why(exact).constData());
    QCOMPARE(idsOf(exact->messages), (QList<qint64>{6, 7, 8}));
    QVERIFY(exact->recovered);

    auto oneChannel = store.replay({u"a"_s}, 0, 8);
    QVERIFY2(oneChannel, why(oneChannel).constData());
    QCOMPARE(idsOf(oneChannel->messages), (QList<qint64>{3, 5, 7}));
    QVERIFY(!oneChannel->recovered);
    // The same, planned and read in pages (a paced resume): the count, where it starts, then pages in id
    // order.
    auto plan = store.planReplay({u"a"_s, u"b"_s}, 0, 8);
    QVERIFY2(plan, why(plan).constData());
    QCOMPARE(plan->count, qint64(3));
    QCOMPARE(plan->after, qint64(5));
    QCOMPARE(plan->gap, ReplayGap::Limit);
    auto planExact = store.planReplay({u"a"_s, u"b"_s}, 5, 8);
    QVERIFY2(planExact, why(planExact).constData());
    QCOMPARE(planExact->count, qint64(3));
    QCOMPARE(planExact->after, qint64(5));
    QVERIFY(planExact->recovered);
    auto first = store.replayPage({u"a"_s, u"b"_s}, 0, 3, 1 << 20);
    QVERIFY2(first, why(first).constData());
    QCOMPARE(idsOf(first->messages), (QList<qint64>{1, 2, 3}));
    QVERIFY(first->hasMore);
    auto small = store.replayPage({u"a"_s, u"b"_s}, 3, 100, 1); // a byte: one message, at least
    QVERIFY2(small, why(small).constData());
    QCOMPARE(idsOf(small->messages), (QList<qint64>{4}));
    QVERIFY(small->hasMore);
    auto last = store.replayPage({u"a"_s}, 4, 100, 1 << 20);
    QVERIFY2(last, why(last).constData());
    QCOMPARE(idsOf(last->messages), (QList<qint64>{5, 7}));
    QVERIFY(!last->hasMore);
}

void tst_Store::replayNoChannels()
{
    Store store(config());
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    auto r = store.insert(makeMessage(1, u"a"_s));
    QVERIFY2(r, why(r).constData());
    auto replay = store.replay({}, 0, 1);
    QVERIFY2(replay, why(replay).constData());
    QVERIFY(replay->messages.isEmpty());
    QVERIFY(replay->recovered);
}

void tst_Store::pruneByCount()
{
    ServerConfig c = config();
    c.defaultRetention.maxCount = 3;
    c.defaultRetention.maxAge = 0s;
    Store store(c);
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    QSignalSpy spy(&store, &Store::pruned);
    for (qint64 id = 1; id <= 12; ++id) {
        auto r = store.insert(makeMessage(id, id <= 10 ? u"a"_s : u"b"_s));
        QVERIFY2(r, why(r).constData());
    }

    auto deleted = store.prune();
    QVERIFY2(deleted, why(deleted).constData());
    QCOMPARE(*deleted, 7);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toLongLong(), 7);

    auto a = store.history(u"a"_s, 0, 0, 100);
    QVERIFY2(a, why(a).constData());
    QCOMPARE(idsOf(a->messages), (QList<qint64>{8, 9, 10}));
    auto b = store.history(u"b"_s, 0, 0, 100);
    QVERIFY2(b, why(b).constData());
    QCOMPARE(idsOf(b->messages), (QList<qint64>{11, 12}));

    // History after 7 is whole (8, 9, 10); after anything below it, 1..7 are gone.
    for (const auto &[since, covered] :
         {std::pair{qint64(0), false}, std::pair{qint64(6), false}, std::pair{qint64(7), true},
          std::pair{qint64(9), true}, std::pair{qint64(12), true}}) {
        auto r = store.covers(u"a"_s, since);
        QVERIFY2(r, why(r).constData());
        QVERIFY2(*r == covered, qPrintable(u"covers(a, %1)"_s.arg(since)));
    }
    auto bCovered = store.covers(u"b"_s, 0);
    QVERIFY2(bCovered, why(bCovered).constData());
    QVERIFY(*bCovered);

    auto below = store.replay({u"a"_s}, 5, 12);
    QVERIFY2(below, why(below).constData());
    QCOMPARE(idsOf(below->messages), (QList<qint64>{8, 9, 10}));
    QVERIFY(!below->recovered);
    auto mixed = store.replay({u"b"_s, u"a"_s}, 0, 12);
    QVERIFY2(mixed, why(mixed).constData());
    QCOMPARE(idsOf(mixed->messages), (QList<qint64>{8, 9, 10, 11, 12}));
    QVERIFY(!mixed->recovered);
    auto above = store.replay({u"a"_s, u"b"_s}, 7, 12);
    QVERIFY2(above, why(above).constData());
    QCOMPARE(idsOf(above->messages), (QList<qint64>{8, 9, 10, 11, 12}));
    QVERIFY(above->recovered);

    // Nothing more to delete: no signal.
    auto again = store.prune();
    QVERIFY2(again, why(again).constData());
    QCOMPARE(*again, 0);
    QCOMPARE(spy.count(), 1);

    // The pruned point outlives a restart.
    store.close();
    Store reopened(c);
    QVERIFY2(reopened.open(), qPrintable(reopened.errorString()));
    auto stillPruned = reopened.covers(u"a"_s, 6);
    QVERIFY2(stillPruned, why(stillPruned).constData());
    QVERIFY(!*stillPruned);
}

void tst_Store::pruneByAge()
{
    ServerConfig c = config();
    c.defaultRetention.maxAge = std::chrono::hours(24 * 7);
    Store store(c);
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    QSignalSpy spy(&store, &Store::pruned);
    const QDateTime now = QDateTime::currentDateTimeUtc();
    const QList<QDateTime> times = {now.addDays(-30), now.addDays(-10), now.addDays(-8), now.addDays(-6),
                                    now.addSecs(-60)};
    for (qsizetype i = 0; i < times.size(); ++i) {
        auto r = store.insert(makeMessage(i + 1, u"a"_s, times.at(i)));
        QVERIFY2(r, why(r).constData());
    }

    auto deleted = store.prune();
    QVERIFY2(deleted, why(deleted).constData());
    QCOMPARE(*deleted, 3);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toLongLong(), 3);

    auto page = store.history(u"a"_s, 0, 0, 100);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(idsOf(page->messages), (QList<qint64>{4, 5}));
    QCOMPARE(page->messages.at(0).timestamp, times.at(3));

    auto old = store.covers(u"a"_s, 1);
    QVERIFY2(old, why(old).constData());
    QVERIFY(!*old);
    auto recent = store.covers(u"a"_s, 3);
    QVERIFY2(recent, why(recent).constData());
    QVERIFY(*recent);
    auto replay = store.replay({u"a"_s}, 0, 5);
    QVERIFY2(replay, why(replay).constData());
    QCOMPARE(idsOf(replay->messages), (QList<qint64>{4, 5}));
    QVERIFY(!replay->recovered);
}

void tst_Store::pruneRulesFirstMatchWins()
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
    Store store(c);
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    QSignalSpy spy(&store, &Store::pruned);

    qint64 id = 0;
    for (const QString &channel : {u"logs:keep"_s, u"logs:x"_s, u"chat"_s}) {
        for (int i = 0; i < 6; ++i) {
            auto r = store.insert(makeMessage(++id, channel));
            QVERIFY2(r, why(r).constData());
        }
    }
    // Five minutes old: past fast:*'s minute, well within the default (no age limit here).
    const QDateTime fiveMinutesAgo = QDateTime::currentDateTimeUtc().addSecs(-300);
    for (const QString &channel : {u"fast:1"_s, u"other"_s}) {
        auto r = store.insert(makeMessage(++id, channel, fiveMinutesAgo));
        QVERIFY2(r, why(r).constData());
    }
    auto fresh = store.insert(makeMessage(++id, u"fast:1"_s));
    QVERIFY2(fresh, why(fresh).constData());

    auto deleted = store.prune();
    QVERIFY2(deleted, why(deleted).constData());
    QCOMPARE(*deleted, 1 + 5 + 4 + 1);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toLongLong(), 11);

    const QList<std::pair<QString, QList<qint64>>> expected = {
        {u"logs:keep"_s, {2, 3, 4, 5, 6}},
        {u"logs:x"_s, {12}},
        {u"chat"_s, {17, 18}},
        {u"fast:1"_s, {21}},
        {u"other"_s, {20}},
    };
    for (const auto &[channel, ids] : expected) {
        auto page = store.history(channel, 0, 0, 100);
        QVERIFY2(page, why(page).constData());
        QVERIFY2(idsOf(page->messages) == ids, qPrintable(channel));
    }
}

void tst_Store::pruneEverythingStillKnown()
{
    ServerConfig c = config();
    c.defaultRetention.maxAge = std::chrono::hours(1);
    Store store(c);
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    const QDateTime old = QDateTime::currentDateTimeUtc().addDays(-2);
    for (qint64 id = 1; id <= 3; ++id) {
        auto r = store.insert(makeMessage(id, u"gone"_s, old));
        QVERIFY2(r, why(r).constData());
    }
    auto before = store.knows(u"gone"_s);
    QVERIFY2(before, why(before).constData());
    QVERIFY(*before);

    auto deleted = store.prune();
    QVERIFY2(deleted, why(deleted).constData());
    QCOMPARE(*deleted, 3);

    auto page = store.history(u"gone"_s, 0, 0, 100);
    QVERIFY2(page, why(page).constData());
    QVERIFY(page->messages.isEmpty());
    auto known = store.knows(u"gone"_s);
    QVERIFY2(known, why(known).constData());
    QVERIFY(*known);
    auto never = store.knows(u"never"_s);
    QVERIFY2(never, why(never).constData());
    QVERIFY(!*never);
    auto covered = store.covers(u"gone"_s, 0);
    QVERIFY2(covered, why(covered).constData());
    QVERIFY(!*covered);
    auto list = store.channels();
    QVERIFY2(list, why(list).constData());
    QVERIFY(list->isEmpty());
}

void tst_Store::pruneRunsOnTimer()
{
    ServerConfig c = config();
    c.defaultRetention.maxCount = 1;
    c.pruneInterval = 50ms;
    Store store(c);
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    QSignalSpy spy(&store, &Store::pruned);
    for (qint64 id = 1; id <= 3; ++id) {
        auto r = store.insert(makeMessage(id, u"a"_s));
        QVERIFY2(r, why(r).constData());
    }
    QTRY_COMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toLongLong(), 2);
    auto page = store.history(u"a"_s, 0, 0, 100);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(idsOf(page->messages), (QList<qint64>{3}));
}

void tst_Store::readFlags()
{
    Store store(config());
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    const QString alice = userChannel(u"alice");
    for (qint64 id = 1; id <= 3; ++id) {
        auto r = store.insert(makeMessage(id, alice));
        QVERIFY2(r, why(r).constData());
    }
    auto chat = store.insert(makeMessage(4, u"chat"_s));
    QVERIFY2(chat, why(chat).constData());
    auto bob = store.insert(makeMessage(5, userChannel(u"bob")));
    QVERIFY2(bob, why(bob).constData());

    auto unread = store.unreadCount(alice);
    QVERIFY2(unread, why(unread).constData());
    QCOMPARE(*unread, 3);

    QString channel;
    auto marked = store.markRead(2, &channel);
    QVERIFY2(marked, why(marked).constData());
    QVERIFY(*marked);
    QCOMPARE(channel, alice);
    unread = store.unreadCount(alice);
    QVERIFY2(unread, why(unread).constData());
    QCOMPARE(*unread, 2);
    auto page = store.history(alice, 0, 0, 100);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->read, (QList<bool>{false, true, false}));
    auto backward = store.history(alice, -1, 0, 2);
    QVERIFY2(backward, why(backward).constData());
    QCOMPARE(idsOf(backward->messages), (QList<qint64>{2, 3}));
    QCOMPARE(backward->read, (QList<bool>{true, false}));

    // Again: still read, still true.
    marked = store.markRead(2);
    QVERIFY2(marked, why(marked).constData());
    QVERIFY(*marked);

    // Not a user channel's message, or no message at all.
    channel.clear();
    marked = store.markRead(4, &channel);
    QVERIFY2(marked, why(marked).constData());
    QVERIFY(!*marked);
    QVERIFY(channel.isEmpty());
    auto chatPage = store.history(u"chat"_s, 0, 0, 100);
    QVERIFY2(chatPage, why(chatPage).constData());
    QCOMPARE(chatPage->read, (QList<bool>{false}));
    marked = store.markRead(999, &channel);
    QVERIFY2(marked, why(marked).constData());
    QVERIFY(!*marked);
    QVERIFY(channel.isEmpty());

    auto all = store.markAllRead(alice);
    QVERIFY2(all, why(all).constData());
    QCOMPARE(*all, 2);
    unread = store.unreadCount(alice);
    QVERIFY2(unread, why(unread).constData());
    QCOMPARE(*unread, 0);
    page = store.history(alice, 0, 0, 100);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->read, (QList<bool>{true, true, true}));
    all = store.markAllRead(alice);
    QVERIFY2(all, why(all).constData());
    QCOMPARE(*all, 0);

    // Another user's queue is untouched.
    auto bobUnread = store.unreadCount(userChannel(u"bob"));
    QVERIFY2(bobUnread, why(bobUnread).constData());
    QCOMPARE(*bobUnread, 1);
    auto nobody = store.unreadCount(userChannel(u"nobody"));
    QVERIFY2(nobody, why(nobody).constData());
    QCOMPARE(*nobody, 0);
}

void tst_Store::channelsSummary()
{
    Store store(config());
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    const QDateTime base = QDateTime::currentDateTimeUtc().addSecs(-3600);
    const QList<std::pair<qint64, QString>> rows = {{1, u"a"_s}, {2, u"b"_s}, {3, u"a"_s}, {4, u"b"_s},
                                                    {5, u"b"_s}, {6, u"c"_s}, {7, u"a"_s}};
    for (const auto &[id, channel] : rows) {
        auto r = store.insert(makeMessage(id, channel, base.addSecs(id * 10)));
        QVERIFY2(r, why(r).constData());
    }
    auto list = store.channels();
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

void tst_Store::isPersistent_data()
{
    QTest::addColumn<bool>("defaults");
    QTest::addColumn<QStringList>("ephemeral");
    QTest::addColumn<QString>("channel");
    QTest::addColumn<bool>("persistent");

    QTest::newRow("default: client") << true << QStringList() << u"client:abc"_s << false;
    QTest::newRow("default: bare client prefix") << true << QStringList() << u"client:"_s << false;
    QTest::newRow("default: user") << true << QStringList() << u"user:alice"_s << true;
    QTest::newRow("default: chat") << true << QStringList() << u"chat"_s << true;
    QTest::newRow("default: clients") << true << QStringList() << u"clients"_s << true;
    QTest::newRow("default: user named client") << true << QStringList() << u"user:client:x"_s << true;

    const QStringList custom = {u"tmp.*"_s, u"*.volatile"_s, u"exact"_s};
    QTest::newRow("custom: prefix") << false << custom << u"tmp.1"_s << false;
    QTest::newRow("custom: suffix") << false << custom << u"sensor.volatile"_s << false;
    QTest::newRow("custom: exact") << false << custom << u"exact"_s << false;
    QTest::newRow("custom: exact longer") << false << custom << u"exactly"_s << true;
    QTest::newRow("custom: other") << false << custom << u"chat"_s << true;
    QTest::newRow("custom replaces client:*") << false << custom << u"client:abc"_s << true;
    QTest::newRow("nothing ephemeral") << false << QStringList() << u"client:abc"_s << true;
    QTest::newRow("everything ephemeral") << false << QStringList{u"*"_s} << u"chat"_s << false;
}

void tst_Store::isPersistent()
{
    QFETCH(bool, defaults);
    QFETCH(QStringList, ephemeral);
    QFETCH(QString, channel);
    QFETCH(bool, persistent);

    ServerConfig c = config();
    if (!defaults)
        c.ephemeralChannels = ephemeral;
    Store store(c);
    QCOMPARE(store.isPersistent(channel), persistent);
}

void tst_Store::retentionFor_data()
{
    QTest::addColumn<QString>("channel");
    QTest::addColumn<QString>("pattern");
    QTest::addColumn<int>("maxCount");
    QTest::addColumn<qint64>("maxAgeSeconds");

    // Rules (see retentionFor()): logs:keep 5/0, logs:* 1/60, *.tmp 2/10, logs:keep 9/9; default 100/3600.
    QTest::newRow("exact rule first") << u"logs:keep"_s << u"logs:keep"_s << 5 << qint64(0);
    QTest::newRow("prefix rule") << u"logs:x"_s << u"logs:*"_s << 1 << qint64(60);
    QTest::newRow("suffix rule") << u"a.tmp"_s << u"*.tmp"_s << 2 << qint64(10);
    QTest::newRow("two match, first wins") << u"logs:a.tmp"_s << u"logs:*"_s << 1 << qint64(60);
    QTest::newRow("default") << u"chat"_s << QString() << 100 << qint64(3600);
    QTest::newRow("near miss is default") << u"logs"_s << QString() << 100 << qint64(3600);
}

void tst_Store::retentionFor()
{
    QFETCH(QString, channel);
    QFETCH(QString, pattern);
    QFETCH(int, maxCount);
    QFETCH(qint64, maxAgeSeconds);

    ServerConfig c = config();
    c.defaultRetention = RetentionRule{QString(), 100, 3600s};
    c.retentionRules = {RetentionRule{u"logs:keep"_s, 5, 0s}, RetentionRule{u"logs:*"_s, 1, 60s},
                        RetentionRule{u"*.tmp"_s, 2, 10s}, RetentionRule{u"logs:keep"_s, 9, 9s}};
    Store store(c);
    const RetentionRule rule = store.retentionFor(channel);
    QCOMPARE(rule.pattern, pattern);
    QCOMPARE(rule.maxCount, maxCount);
    QCOMPARE(qint64(rule.maxAge.count()), maxAgeSeconds);
}

void tst_Store::reservedIdsSurviveReopen()
{
    {
        Store store(config());
        QVERIFY2(store.open(), qPrintable(store.errorString()));
        QCOMPARE(store.lastStoredId(), 0);
        for (qint64 id = 1; id <= 3; ++id) {
            auto r = store.insert(makeMessage(id, u"a"_s));
            QVERIFY2(r, why(r).constData());
        }
        auto reserved = store.reserveIds(5000);
        QVERIFY2(reserved, why(reserved).constData());
    }
    {
        Store store(config());
        QVERIFY2(store.open(), qPrintable(store.errorString()));
        QCOMPARE(store.lastStoredId(), 5000);
        // Stored above the reservation (the reservation was not renewed in time).
        for (qint64 id : {5001, 7000}) {
            auto r = store.insert(makeMessage(id, u"a"_s));
            QVERIFY2(r, why(r).constData());
        }
    }
    {
        Store store(config());
        QVERIFY2(store.open(), qPrintable(store.errorString()));
        QCOMPARE(store.lastStoredId(), 7000);
        auto reserved = store.reserveIds(9000);
        QVERIFY2(reserved, why(reserved).constData());
    }
    Store store(config());
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    QCOMPARE(store.lastStoredId(), 9000);
}

void tst_Store::maxDatabaseSizeGivesFull()
{
    ServerConfig c = config();
    c.maxDatabaseSize = 64 * 1024;
    Store store(c);
    QVERIFY2(store.open(), qPrintable(store.errorString()));

    QList<Message> stored;
    std::optional<StoreError> failure;
    for (qint64 id = 1; id <= 100 && !failure; ++id) {
        Message m = makeMessage(id, u"big"_s);
        m.message = QString(8000, QChar(char16_t(u'a' + id % 26)));
        auto r = store.insert(m);
        if (r)
            stored.append(m);
        else
            failure = r.error();
    }
    QVERIFY2(failure.has_value(), "100 messages of 8 KB fitted in 64 KiB");
    QCOMPARE(failure->kind, StoreError::Kind::Full);
    QVERIFY(!stored.isEmpty());

    auto page = store.history(u"big"_s, 0, 0, 1000);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->messages.size(), stored.size());
    for (qsizetype i = 0; i < stored.size(); ++i)
        QCOMPARE(page->messages.at(i).toJson(), stored.at(i).toJson());

    // Still full on the next try, and still no crash.
    Message another = makeMessage(1000, u"big"_s);
    another.message = QString(8000, u'z');
    auto r = store.insert(another);
    QVERIFY(!r);
    QCOMPARE(r.error().kind, StoreError::Kind::Full);
}

void tst_Store::lockedDatabaseUnavailable()
{
    ServerConfig c = config();
    c.storeBusyTimeout = 200ms;
    Store store(c);
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    auto first = store.insert(makeMessage(1, u"a"_s));
    QVERIFY2(first, why(first).constData());

    RawDb raw(dbPath());
    QVERIFY(raw.isOpen());
    QVERIFY(raw.exec(u"BEGIN EXCLUSIVE"_s));
    QVERIFY(raw.exec(u"INSERT INTO meta (key, value) VALUES ('tst_store', 'locked')"_s));

    QElapsedTimer timer;
    timer.start();
    auto locked = store.insert(makeMessage(2, u"a"_s));
    const qint64 elapsed = timer.elapsed();
    QVERIFY(!locked);
    QCOMPARE(locked.error().kind, StoreError::Kind::Unavailable);
    QVERIFY(!locked.error().message.isEmpty());
    // Generous: the point is that it gives up after the busy timeout instead of hanging.
    QVERIFY2(elapsed < 10000, qPrintable(u"%1 ms"_s.arg(elapsed)));

    // WAL: readers are not blocked by the writer.
    auto page = store.history(u"a"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(idsOf(page->messages), (QList<qint64>{1}));

    // A thread whose first call (opening its connection) comes while the lock is held must still work
    // once the lock is gone.
    QSemaphore triedLocked;
    QSemaphore committed;
    std::optional<StoreError> threadLocked;
    QByteArray threadAfter = "not run";
    std::unique_ptr<QThread> worker(QThread::create([&] {
        auto r = store.insert(makeMessage(3, u"a"_s));
        if (!r)
            threadLocked = r.error();
        triedLocked.release();
        committed.acquire();
        threadAfter = why(store.insert(makeMessage(3, u"a"_s)));
        store.releaseThreadConnection();
    }));
    worker->start();
    triedLocked.acquire();

    QVERIFY(raw.exec(u"COMMIT"_s));
    committed.release();
    worker->wait();
    QVERIFY(threadLocked.has_value());
    QCOMPARE(threadLocked->kind, StoreError::Kind::Unavailable);
    QCOMPARE(threadAfter, QByteArray("ok"));

    auto after = store.insert(makeMessage(2, u"a"_s));
    QVERIFY2(after, why(after).constData());
    page = store.history(u"a"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(idsOf(page->messages), (QList<qint64>{1, 2, 3}));
}

void tst_Store::threadEndingWithoutRelease()
{
    Store store(config());
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    // Threads that end without releaseThreadConnection(); a later one may reuse an address, and so the
    // connection name. Each must still get a working connection, and close() must clean up after all.
    QList<QByteArray> results;
    for (qint64 id = 1; id <= 5; ++id) {
        QByteArray result = "not run";
        std::unique_ptr<QThread> t(
            QThread::create([&store, &result, id] { result = why(store.insert(makeMessage(id, u"a"_s))); }));
        t->start();
        t->wait();
        results.append(result);
    }
    QCOMPARE(results, QList<QByteArray>(5, "ok"));
    auto page = store.history(u"a"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(idsOf(page->messages), (QList<qint64>{1, 2, 3, 4, 5}));
    store.close();
    QCOMPARE(storeConnectionCount(), 0);
}

void tst_Store::concurrentInsertAndReplay()
{
    constexpr int Writers = 4;
    constexpr int PerWriter = 200;
    constexpr qint64 Total = Writers * PerWriter;
    const QStringList channels = {u"load.0"_s, u"load.1"_s};

    Store store(config());
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    QCOMPARE(storeConnectionCount(), 1);

    std::atomic<int> insertFailures{0};
    std::atomic<int> replayFailures{0};
    std::atomic<int> unordered{0};
    std::atomic<int> replays{0};
    std::atomic<bool> writersDone{false};

    std::vector<std::unique_ptr<QThread>> writers;
    for (int t = 0; t < Writers; ++t) {
        writers.emplace_back(QThread::create([&store, &insertFailures, &channels, t] {
            for (int i = 0; i < PerWriter; ++i) {
                // Distinct ids, interleaved between the threads.
                const qint64 id = qint64(i) * Writers + t + 1;
                if (!store.insert(makeMessage(id, channels.at(t % 2))))
                    ++insertFailures;
            }
            store.releaseThreadConnection();
        }));
    }
    std::unique_ptr<QThread> reader(QThread::create([&] {
        do {
            auto r = store.replay(channels, 0, Total);
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
        store.releaseThreadConnection();
    }));

    reader->start();
    for (auto &w : writers)
        w->start();
    for (auto &w : writers)
        w->wait();
    writersDone = true;
    reader->wait();

    QCOMPARE(insertFailures.load(), 0);
    QCOMPARE(replayFailures.load(), 0);
    QCOMPARE(unordered.load(), 0);
    QVERIFY(replays.load() > 0);
    // The threads' connections are gone; the one open() made on this thread remains.
    QCOMPARE(storeConnectionCount(), 1);

    auto all = store.replay(channels, 0, Total);
    QVERIFY2(all, why(all).constData());
    QVERIFY(all->recovered);
    QList<qint64> expected;
    for (qint64 id = 1; id <= Total; ++id)
        expected.append(id);
    QCOMPARE(idsOf(all->messages), expected);
    for (const Message &m : all->messages)
        QCOMPARE(m.channel, channels.at(((m.id - 1) % Writers) % 2));

    auto list = store.channels();
    QVERIFY2(list, why(list).constData());
    QCOMPARE(list->size(), 2);
    for (const StoredChannel &c : *list)
        QCOMPARE(c.messages, Total / 2);

    store.close();
    QCOMPARE(storeConnectionCount(), 0);
}

void tst_Store::closeCheckpointsAndRefuses()
{
    Store store(config());
    QVERIFY2(store.open(), qPrintable(store.errorString()));
    for (qint64 id = 1; id <= 20; ++id) {
        auto r = store.insert(makeMessage(id, u"a"_s));
        QVERIFY2(r, why(r).constData());
    }
    const QString wal = dbPath() + u"-wal"_s;
    QVERIFY2(QFileInfo(wal).size() > 0, "the test needs the inserts to be in the WAL before close()");

    {
        // Another (idle) connection stays open, so SQLite's own checkpoint-on-last-close does not happen:
        // only close()'s explicit checkpoint can empty the WAL.
        RawDb other(dbPath());
        QVERIFY(other.isOpen());
        // (It must have read once: SQLite only opens the file, and takes its share of the WAL, then.)
        QCOMPARE(other.scalar(u"SELECT COUNT(*) FROM messages"_s).toInt(), 20);
        store.close();
        QVERIFY2(!QFileInfo::exists(wal) || QFileInfo(wal).size() == 0,
                 qPrintable(u"%1 bytes left in the WAL"_s.arg(QFileInfo(wal).size())));
    }

    auto r = store.insert(makeMessage(21, u"a"_s));
    QVERIFY(!r);
    QCOMPARE(r.error().kind, StoreError::Kind::Unavailable);
    auto page = store.history(u"a"_s, 0, 0, 100);
    QVERIFY(!page);
    QCOMPARE(page.error().kind, StoreError::Kind::Unavailable);
    auto replay = store.replay({u"a"_s}, 0, 20);
    QVERIFY(!replay);
    QCOMPARE(replay.error().kind, StoreError::Kind::Unavailable);
    auto pruned = store.prune();
    QVERIFY(!pruned);
    auto reserved = store.reserveIds(100);
    QVERIFY(!reserved);
    QCOMPARE(reserved.error().kind, StoreError::Kind::Unavailable);
    store.close(); // twice is harmless
    QCOMPARE(storeConnectionCount(), 0);

    // herald.db alone holds everything.
    RawDb raw(dbPath());
    QCOMPARE(raw.scalar(u"SELECT COUNT(*) FROM messages"_s).toInt(), 20);
}

QTEST_GUILESS_MAIN(tst_Store)
#include "tst_store.moc"
