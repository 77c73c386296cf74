#include "recordscontract.h"

#include "recordstest.h"

#include <QCoreApplication>
#include <QHash>
#include <QTest>

#include <memory>

using namespace Qt::StringLiterals;
using namespace Herald;
using namespace HeraldTest;

namespace {

// Writes, rewrites and deletes of users and posts, mixed: what answersAfterChanges and countRecords ask
// about. Emails differ in case, one in a non-ASCII letter.
QList<RecordWrite> changes()
{
    return {
        userWrite(1, u"ann@example.com"_s),
        userWrite(2, u"Bob@Example.com"_s),
        userWrite(3, u"cy@example.com"_s),
        postWrite(1, 1),
        postWrite(2, 2),
        postWrite(3, 1, u"Hello"_s),
        userWrite(3, u"BOB2@example.com"_s),
        deleteWrite(u"users"_s, 1),
        postWrite(3, 3, u"Moved"_s),
        userWrite(4, u"ÉLAN@example.com"_s),
        deleteWrite(u"posts"_s, 2),
        postWrite(5, 3, u"Hello"_s),
    };
}

// What changes() leaves: the last write of each record, unless deleted.
QJsonObject latest(const QString &model, qint64 id)
{
    QJsonObject data;
    for (const RecordWrite &w : changes()) {
        if (w.model == model && w.id == id)
            data = w.op == RecordWrite::Op::Delete ? QJsonObject() : w.data;
    }
    return data;
}

QList<QJsonObject> latest(const QString &model, const QList<qint64> &ids)
{
    QList<QJsonObject> out;
    for (qint64 id : ids)
        out.append(latest(model, id));
    return out;
}

} // namespace

tst_RecordsContract::tst_RecordsContract(std::unique_ptr<RecordsBackend> backend)
    : m_backend(std::move(backend))
{}

tst_RecordsContract::~tst_RecordsContract() = default;

std::unique_ptr<OpenRecords> tst_RecordsContract::open()
{
    return m_backend->open();
}

void tst_RecordsContract::initTestCase()
{
    m_backend->initTestCase();
}

void tst_RecordsContract::cleanupTestCase()
{
    m_backend->cleanupTestCase();
}

void tst_RecordsContract::init()
{
    m_backend->init();
}

void tst_RecordsContract::cleanup()
{
    m_backend->cleanup();
}

void tst_RecordsContract::createReadUpdateDelete()
{
    auto opened = open();
    QVERIFY(opened);
    RecordStore &records = opened->records();
    auto id = records.allocateRecordId(u"users"_s);
    QVERIFY2(id, why(id).constData());
    QCOMPARE(*id, 1);
    const RecordWrite ann = userWrite(*id, u"ann@example.com"_s, u"Ann"_s);
    QVERIFY(write(records, ann));
    auto got = records.record(u"users"_s, 1);
    QVERIFY2(got, why(got).constData());
    QVERIFY(got->has_value());
    QCOMPARE(**got, ann.data);

    RecordWrite renamed = ann;
    renamed.data.insert("name"_L1, u"Ann B"_s);
    renamed.data.remove("is_active"_L1);
    QVERIFY(write(records, renamed));
    got = records.record(u"users"_s, 1);
    QVERIFY2(got, why(got).constData());
    QCOMPARE(**got, renamed.data);
    auto list = records.records(u"users"_s, 10, 0);
    QVERIFY2(list, why(list).constData());
    QCOMPARE(*list, QList<QJsonObject>{renamed.data});

    QVERIFY(write(records, deleteWrite(u"users"_s, 1)));
    got = records.record(u"users"_s, 1);
    QVERIFY2(got, why(got).constData());
    QVERIFY(!got->has_value());
    list = records.records(u"users"_s, 10, 0);
    QVERIFY2(list, why(list).constData());
    QVERIFY(list->isEmpty());
    // Deleting what is not there is no error (as in SQL).
    QVERIFY(write(records, deleteWrite(u"users"_s, 1)));
}

void tst_RecordsContract::notFound()
{
    auto opened = open();
    QVERIFY(opened);
    RecordStore &records = opened->records();
    QVERIFY(write(records, userWrite(1, u"ann@example.com"_s)));
    for (const auto &[model, id] : {std::pair{u"users"_s, qint64(2)}, std::pair{u"posts"_s, qint64(1)},
                                    std::pair{u"nothing"_s, qint64(1)}}) {
        auto got = records.record(model, id);
        QVERIFY2(got, why(got).constData());
        QVERIFY2(!got->has_value(), qPrintable(u"%1 %2"_s.arg(model).arg(id)));
    }
    auto list = records.records(u"nothing"_s, 10, 0);
    QVERIFY2(list, why(list).constData());
    QVERIFY(list->isEmpty());
}

void tst_RecordsContract::idsPerModelNeverReused()
{
    auto opened = open();
    QVERIFY(opened);
    RecordStore &records = opened->records();
    // One sequence per model.
    QCOMPARE(records.allocateRecordId(u"users"_s).value(), 1);
    QCOMPARE(records.allocateRecordId(u"users"_s).value(), 2);
    QCOMPARE(records.allocateRecordId(u"posts"_s).value(), 1);
    QVERIFY(write(records, userWrite(2, u"b@example.com"_s)));
    QVERIFY(write(records, deleteWrite(u"users"_s, 2)));
    QCOMPARE(records.allocateRecordId(u"users"_s).value(), 3);

    // Not after a restart either.
    opened.reset();
    auto again = open();
    QVERIFY(again);
    QCOMPARE(again->records().allocateRecordId(u"users"_s).value(), 4);
    QCOMPARE(again->records().allocateRecordId(u"posts"_s).value(), 2);
}

void tst_RecordsContract::listOrderLimitOffset_data()
{
    QTest::addColumn<int>("limit");
    QTest::addColumn<int>("offset");
    QTest::addColumn<QList<qint64>>("ids");

    QTest::newRow("all") << 100 << 0 << QList<qint64>{1, 2, 3, 4, 5};
    QTest::newRow("no limit") << -1 << 0 << QList<qint64>{1, 2, 3, 4, 5};
    QTest::newRow("first two") << 2 << 0 << QList<qint64>{1, 2};
    QTest::newRow("middle") << 2 << 2 << QList<qint64>{3, 4};
    QTest::newRow("tail") << 10 << 3 << QList<qint64>{4, 5};
    QTest::newRow("past the end") << 10 << 5 << QList<qint64>{};
    QTest::newRow("limit 0") << 0 << 0 << QList<qint64>{};
}

void tst_RecordsContract::listOrderLimitOffset()
{
    QFETCH(int, limit);
    QFETCH(int, offset);
    QFETCH(QList<qint64>, ids);
    auto opened = open();
    QVERIFY(opened);
    // Written out of order, and one rewritten: lists are by id, oldest first, not by write time.
    for (qint64 id : {4, 2, 5, 1, 3})
        QVERIFY(write(opened->records(), userWrite(id, u"u%1@example.com"_s.arg(id))));
    QVERIFY(write(opened->records(), userWrite(2, u"again@example.com"_s)));
    auto list = opened->records().records(u"users"_s, limit, offset);
    QVERIFY2(list, why(list).constData());
    QCOMPARE(idsOf(*list), ids);
}

void tst_RecordsContract::filters_data()
{
    QTest::addColumn<QString>("field");
    QTest::addColumn<QJsonValue>("value");
    QTest::addColumn<int>("limit");
    QTest::addColumn<int>("offset");
    QTest::addColumn<QList<qint64>>("ids");

    // user_id is a reference (Redis indexes it); title and published are not.
    QTest::newRow("by author") << u"user_id"_s << QJsonValue(1) << 100 << 0 << QList<qint64>{1, 3, 4};
    QTest::newRow("by author, paged") << u"user_id"_s << QJsonValue(1) << 1 << 1 << QList<qint64>{3};
    QTest::newRow("by author, no limit") << u"user_id"_s << QJsonValue(1) << -1 << 1 << QList<qint64>{3, 4};
    QTest::newRow("other author") << u"user_id"_s << QJsonValue(2) << 100 << 0 << QList<qint64>{2};
    QTest::newRow("nobody's") << u"user_id"_s << QJsonValue(9) << 100 << 0 << QList<qint64>{};
    QTest::newRow("a string is not a number")
        << u"user_id"_s << QJsonValue(u"1"_s) << 100 << 0 << QList<qint64>{};
    QTest::newRow("null matches nothing") << u"user_id"_s << QJsonValue() << 100 << 0 << QList<qint64>{};
    QTest::newRow("unindexed text") << u"title"_s << QJsonValue(u"Same"_s) << 100 << 0 << QList<qint64>{2, 4};
    QTest::newRow("unindexed text, exact case")
        << u"title"_s << QJsonValue(u"same"_s) << 100 << 0 << QList<qint64>{};
    QTest::newRow("unindexed, paged") << u"title"_s << QJsonValue(u"Same"_s) << 1 << 1 << QList<qint64>{4};
    QTest::newRow("unindexed boolean") << u"published"_s << QJsonValue(true) << 100 << 0 << QList<qint64>{3};
}

void tst_RecordsContract::filters()
{
    QFETCH(QString, field);
    QFETCH(QJsonValue, value);
    QFETCH(int, limit);
    QFETCH(int, offset);
    QFETCH(QList<qint64>, ids);
    auto opened = open();
    QVERIFY(opened);
    RecordStore &records = opened->records();
    QVERIFY(write(records, postWrite(1, 1, u"First"_s)));
    QVERIFY(write(records, postWrite(2, 2, u"Same"_s)));
    RecordWrite published = postWrite(3, 1, u"Third"_s);
    published.data.insert("published"_L1, true);
    QVERIFY(write(records, published));
    QVERIFY(write(records, postWrite(4, 1, u"Same"_s)));
    auto list = records.records(u"posts"_s, limit, offset, field, value);
    QVERIFY2(list, why(list).constData());
    QCOMPARE(idsOf(*list), ids);
}

// After changes(): the records, the lists (plain and by author) and the next id, whole.
void tst_RecordsContract::answersAfterChanges()
{
    auto opened = open();
    QVERIFY(opened);
    RecordStore &records = opened->records();
    QCOMPARE(records.allocateRecordId(u"users"_s).value(), 1);
    for (const RecordWrite &w : changes())
        QVERIFY(write(records, w));

    const QList<std::tuple<QString, int, QList<qint64>>> pages = {
        {u"users"_s, 0, {2, 3}}, {u"users"_s, 1, {3, 4}}, {u"users"_s, 3, {}},
        {u"posts"_s, 0, {1, 3}}, {u"posts"_s, 1, {3, 5}}, {u"posts"_s, 3, {}},
    };
    for (const auto &[model, offset, ids] : pages) {
        auto list = records.records(model, 2, offset);
        QVERIFY2(list, why(list).constData());
        // QTest::toString's string is ours to free.
        const std::unique_ptr<char[]> got(QTest::toString(idsOf(*list)));
        QVERIFY2(*list == latest(model, ids),
                 qPrintable(u"%1 from %2: %3"_s.arg(model).arg(offset).arg(QString::fromLatin1(got.get()))));
    }
    for (const auto &[author, ids] :
         {std::pair{qint64(1), QList<qint64>{1}}, std::pair{qint64(2), QList<qint64>{}},
          std::pair{qint64(3), QList<qint64>{3, 5}}}) {
        auto list = records.records(u"posts"_s, 10, 0, u"user_id"_s, author);
        QVERIFY2(list, why(list).constData());
        QVERIFY2(*list == latest(u"posts"_s, ids), qPrintable(u"by author %1"_s.arg(author)));
    }
    for (qint64 id : {1, 2, 3, 4, 5}) {
        auto got = records.record(u"users"_s, id);
        QVERIFY2(got, why(got).constData());
        QCOMPARE(got->value_or(QJsonObject()), latest(u"users"_s, id));
    }
    // Writes with ids of their own do not move the sequence.
    QCOMPARE(records.allocateRecordId(u"users"_s).value(), 2);
}

void tst_RecordsContract::countRecords_data()
{
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QJsonValue>("value");
    QTest::addColumn<bool>("ignoreCase");
    QTest::addColumn<qint64>("except");
    QTest::addColumn<qint64>("count");

    const auto row = [](const char *name, const QString &model, const QString &field, const QJsonValue &value,
                        bool ignoreCase, qint64 except, qint64 count) {
        QTest::newRow(name) << model << field << value << ignoreCase << except << count;
    };
    // After changes(): users 2 (Bob@Example.com), 3 (BOB2@example.com), 4 (ÉLAN@example.com), all named
    // Someone; posts 1 (by 1), 3 (by 3, "Moved"), 5 (by 3, "Hello").
    row("email, any case", u"users"_s, u"email"_s, u"bob@example.com"_s, true, 0, 1);
    row("email, exact case, other", u"users"_s, u"email"_s, u"bob@example.com"_s, false, 0, 0);
    row("email, exact case, same", u"users"_s, u"email"_s, u"Bob@Example.com"_s, false, 0, 1);
    row("email, its own record excepted", u"users"_s, u"email"_s, u"BOB@EXAMPLE.COM"_s, true, 2, 0);
    row("rewritten email, new", u"users"_s, u"email"_s, u"bob2@example.com"_s, true, 0, 1);
    row("rewritten email, old", u"users"_s, u"email"_s, u"cy@example.com"_s, true, 0, 0);
    row("deleted record's email", u"users"_s, u"email"_s, u"ann@example.com"_s, true, 0, 0);
    // SQLite's lower() folds ASCII letters only, and so does Redis.
    row("non-ASCII letter not folded", u"users"_s, u"email"_s, u"élan@example.com"_s, true, 0, 0);
    row("ASCII letters folded", u"users"_s, u"email"_s, u"ÉLAN@EXAMPLE.COM"_s, true, 0, 1);
    row("references", u"posts"_s, u"user_id"_s, 1, false, 0, 1);
    row("moved reference", u"posts"_s, u"user_id"_s, 3, false, 0, 2);
    row("references, one excepted", u"posts"_s, u"user_id"_s, 3, false, 5, 1);
    row("deleted reference", u"posts"_s, u"user_id"_s, 2, false, 0, 0);
    row("text, exact case", u"posts"_s, u"title"_s, u"Hello"_s, false, 0, 1);
    row("text, any case", u"posts"_s, u"title"_s, u"hello"_s, true, 0, 1);
    row("unindexed, one excepted", u"users"_s, u"name"_s, u"Someone"_s, false, 3, 2);
}

void tst_RecordsContract::countRecords()
{
    QFETCH(QString, model);
    QFETCH(QString, field);
    QFETCH(QJsonValue, value);
    QFETCH(bool, ignoreCase);
    QFETCH(qint64, except);
    QFETCH(qint64, count);
    auto opened = open();
    QVERIFY(opened);
    for (const RecordWrite &w : changes())
        QVERIFY(write(opened->records(), w));
    auto counted = opened->records().countRecords(model, field, value, ignoreCase, except);
    QVERIFY2(counted, why(counted).constData());
    QCOMPARE(*counted, count);
}

void tst_RecordsContract::indexFollowsUpdatesAndDeletes()
{
    auto opened = open();
    QVERIFY(opened);
    RecordStore &records = opened->records();
    auto count = [&](const QString &email) {
        return records.countRecords(u"users"_s, u"email"_s, email, true).value();
    };
    QVERIFY(write(records, userWrite(1, u"old@example.com"_s)));
    QCOMPARE(count(u"old@example.com"_s), 1);
    QVERIFY(write(records, userWrite(1, u"New@example.com"_s)));
    QCOMPARE(count(u"old@example.com"_s), 0);
    QCOMPARE(count(u"new@example.com"_s), 1);
    m_backend->checkEmailIndex(1);
    if (QTest::currentTestFailed())
        return;
    // The address freed by the change can be taken by another user.
    QVERIFY(write(records, userWrite(2, u"old@example.com"_s)));
    QCOMPARE(count(u"old@example.com"_s), 1);
    QVERIFY(write(records, deleteWrite(u"users"_s, 1)));
    QCOMPARE(count(u"new@example.com"_s), 0);
    m_backend->checkEmailIndex(1);
}

// What ModelApi asks before deleting a user: the posts that refer to it.
void tst_RecordsContract::referencesCountedForDelete()
{
    auto opened = open();
    QVERIFY(opened);
    RecordStore &records = opened->records();
    QVERIFY(write(records, userWrite(1, u"ann@example.com"_s)));
    QVERIFY(write(records, userWrite(2, u"bob@example.com"_s)));
    QVERIFY(write(records, postWrite(1, 1)));
    QVERIFY(write(records, postWrite(2, 1)));
    auto refs = [&](qint64 user) {
        return records.countRecords(u"posts"_s, u"user_id"_s, QJsonValue(user)).value();
    };
    QCOMPARE(refs(1), 2);
    QCOMPARE(refs(2), 0);
    // A post moved to another author moves its reference.
    QVERIFY(write(records, postWrite(2, 2)));
    QCOMPARE(refs(1), 1);
    QCOMPARE(refs(2), 1);
    QVERIFY(write(records, deleteWrite(u"posts"_s, 1)));
    QCOMPARE(refs(1), 0);
}

void tst_RecordsContract::closedRefuses()
{
    auto opened = open();
    QVERIFY(opened);
    QVERIFY(write(opened->records(), userWrite(1, u"ann@example.com"_s)));
    opened->close();
    RecordStore &records = opened->records();
    QCOMPARE(records.record(u"users"_s, 1).error().kind, StoreError::Kind::Unavailable);
    QCOMPARE(records.records(u"users"_s, 10, 0).error().kind, StoreError::Kind::Unavailable);
    QCOMPARE(records.countRecords(u"users"_s, u"email"_s, u"ann@example.com"_s, true).error().kind,
             StoreError::Kind::Unavailable);
    QCOMPARE(records.allocateRecordId(u"users"_s).error().kind, StoreError::Kind::Unavailable);
    QCOMPARE(records.writeRecord(userWrite(2, u"b@example.com"_s)).error().kind,
             StoreError::Kind::Unavailable);
    // The lock differs on purpose (RecordsBackend::sharedLock).
    auto lock = records.lockChanges();
    if (m_backend->sharedLock()) {
        QVERIFY(!lock);
        QCOMPARE(lock.error().kind, StoreError::Kind::Unavailable);
    } else {
        QVERIFY2(lock, why(lock).constData());
        QVERIFY(lock->token().isEmpty());
    }

    // Opened again, the data is where it was.
    opened.reset();
    auto again = open();
    QVERIFY(again);
    auto got = again->records().record(u"users"_s, 1);
    QVERIFY2(got, why(got).constData());
    QCOMPARE(got->value_or(QJsonObject()), userWrite(1, u"ann@example.com"_s).data);
}

int runRecordsContract(std::unique_ptr<RecordsBackend> backend, int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    tst_RecordsContract test(std::move(backend));
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}
