#include "channelname.h"
#include "historytest.h"
#include "message.h"
#include "store.h"
#include "storeconnections.h"

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
using HeraldTest::idsOf;
using HeraldTest::storeConnectionCount;
using HeraldTest::why;

namespace {

using namespace std::chrono_literals;

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

    void deliveredBytesAreStored();
    void duplicateIdRefused();

    void isPersistent_data();
    void isPersistent();
    void retentionFor_data();
    void retentionFor();

    void reservedIdsSurviveReopen();
    void maxDatabaseSizeGivesFull();
    void lockedDatabaseUnavailable();
    void closeCheckpoints();

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
    QCOMPARE(raw.scalar(u"PRAGMA user_version"_s).toInt(), Store::schemaVersion());
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
        // What migrations 4 and 5 added goes too (4 re-creates its table if missing): the file is then what
        // schema 2 made.
        QVERIFY(raw.exec(u"DROP INDEX messages_expires"_s));
        QVERIFY(raw.exec(u"ALTER TABLE messages DROP COLUMN expires_ms"_s));
        QVERIFY(raw.exec(u"ALTER TABLE messages DROP COLUMN superseded_by"_s));
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
    QCOMPARE(raw.scalar(u"PRAGMA user_version"_s).toInt(), Store::schemaVersion());
    QCOMPARE(raw.scalar(u"SELECT value FROM meta WHERE key = 'epoch'"_s).toString(), epoch);
}

void tst_Store::newerSchemaRefused()
{
    const int newer = Store::schemaVersion() + 1;
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

// The other fields round trip in the History contract (tst_historycontract_sqlite); Store alone is handed the
// bytes already encoded for delivery, and those are what it stores.
void tst_Store::deliveredBytesAreStored()
{
    Store store(config());
    QVERIFY2(store.open(), qPrintable(store.errorString()));

    Message encoded = makeMessage(9, u"posts"_s);
    QJsonObject delivered = encoded.toJson();
    delivered.insert(u"model"_s, u"users"_s);
    const QByteArray json = QJsonDocument(delivered).toJson(QJsonDocument::Compact);
    auto r = store.insert(encoded, json);
    QVERIFY2(r, why(r).constData());

    auto page = store.history(u"posts"_s, 0, 0, 10);
    QVERIFY2(page, why(page).constData());
    QCOMPARE(page->messages.size(), 1);
    const Message &gotEncoded = page->messages.at(0);
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
    c.maxDatabaseSize = 160 * 1024; // the empty schema takes about 60 KiB of it (a page per table and index)
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
    QVERIFY2(failure.has_value(), "100 messages of 8 KB fitted in 160 KiB");
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

// That a closed store refuses everything and opens again with its data is the History contract's closeRefuses
// (tst_historycontract_sqlite); here what SQLite adds: close() leaves herald.db whole, the WAL checkpointed.
void tst_Store::closeCheckpoints()
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
    // Store's own calls are refused too.
    auto reserved = store.reserveIds(100);
    QVERIFY(!reserved);
    QCOMPARE(reserved.error().kind, StoreError::Kind::Unavailable);
    QCOMPARE(storeConnectionCount(), 0);

    // herald.db alone holds everything.
    RawDb raw(dbPath());
    QCOMPARE(raw.scalar(u"SELECT COUNT(*) FROM messages"_s).toInt(), 20);
}

QTEST_GUILESS_MAIN(tst_Store)
#include "tst_store.moc"
