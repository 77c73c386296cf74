#include "sqliteschedule.h"

#include "store.h"

#include <QMutexLocker>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>

using namespace Qt::StringLiterals;

namespace Herald {

using Error = StoreError;

SqliteSchedule::SqliteSchedule(Store &store)
    : m_store(store)
{}

Result<bool, StoreError> SqliteSchedule::add(const ScheduledEntry &entry, const KeyedCommit *keyed)
{
    const bool transaction = keyed && !keyed->key.isEmpty();
    QMutexLocker lock(&m_store.m_writeMutex);
    QSqlDatabase db = m_store.connection();
    if (!db.isOpen())
        return m_store.noteWrite(
            Result<bool, StoreError>::failure({Error::Kind::Unavailable, u"the store is closed"_s}));
    if (auto room = m_store.ensureRoom(db); !room)
        return m_store.noteWrite(room);
    if (transaction)
        db.transaction();
    auto fail = [&](const StoreError &e) {
        if (transaction)
            db.rollback();
        return m_store.noteWrite(Result<bool, StoreError>::failure(e));
    };
    QSqlQuery q(db);
    q.prepare(u"INSERT INTO scheduled (handle, due_ms, channel, entry) VALUES (?, ?, ?, ?)"_s);
    q.addBindValue(entry.handle);
    q.addBindValue(entry.at.toMSecsSinceEpoch());
    q.addBindValue(entry.message.channel);
    q.addBindValue(QString::fromUtf8(entry.encode()));
    if (!q.exec())
        return fail(m_store.errorFrom(q));
    if (transaction) {
        // The key's answer commits with the entry (Store::insert does the same for a message).
        if (auto written = m_store.m_idempotency.write(db, keyed->scope, keyed->key,
                                                       KeyedOutcome{0, entry.handle, entry.at});
            !written)
            return fail(written.error());
        if (!db.commit())
            return fail(m_store.errorFrom(db.lastError()));
    }
    return m_store.noteWrite(true);
}

Result<std::optional<ScheduledEntry>, StoreError> SqliteSchedule::entry(const QString &handle)
{
    return m_store.queryValue(u"SELECT entry FROM scheduled WHERE handle = ?"_s, {handle})
        .transform([](const std::optional<QVariant> &v) {
            return v ? ScheduledEntry::decode(v->toByteArray()) : std::nullopt;
        });
}

Result<QList<ScheduledEntry>, StoreError> SqliteSchedule::entries(int offset, int limit)
{
    using R = Result<QList<ScheduledEntry>, StoreError>;
    auto q = m_store.run(u"SELECT entry FROM scheduled ORDER BY due_ms, handle LIMIT ? OFFSET ?"_s,
                         {limit, offset});
    if (!q)
        return R::failure(q.error());
    QSqlQuery rows = std::move(q).value();
    QList<ScheduledEntry> list;
    while (rows.next()) {
        if (auto e = ScheduledEntry::decode(rows.value(0).toByteArray()))
            list.append(std::move(*e));
    }
    return list;
}

Result<bool, StoreError> SqliteSchedule::remove(const QString &handle)
{
    return m_store.execute(u"DELETE FROM scheduled WHERE handle = ?"_s, {handle}).transform([](qint64 n) {
        return n > 0;
    });
}

Result<QList<ScheduledEntry>, StoreError> SqliteSchedule::claimDue(qint64 nowMs, int max,
                                                                   std::chrono::milliseconds)
{
    using R = Result<QList<ScheduledEntry>, StoreError>;
    auto q = m_store.run(u"SELECT handle, entry FROM scheduled WHERE due_ms <= ? ORDER BY due_ms, handle "
                         "LIMIT ?"_s,
                         {nowMs, max});
    if (!q)
        return R::failure(q.error());
    QSqlQuery rows = std::move(q).value();
    QList<ScheduledEntry> list;
    QStringList unreadable;
    while (rows.next()) {
        if (auto e = ScheduledEntry::decode(rows.value(1).toByteArray()))
            list.append(std::move(*e));
        else
            unreadable.append(rows.value(0).toString());
    }
    rows.finish();
    // A row that does not decode would be due for ever: it goes (it cannot have come from this server).
    for (const QString &h : std::as_const(unreadable))
        remove(h);
    return list;
}

Result<std::optional<qint64>, StoreError> SqliteSchedule::nextDue()
{
    return m_store.queryValue(u"SELECT MIN(due_ms) FROM scheduled"_s, {})
        .transform([](const std::optional<QVariant> &v) {
            return v && !v->isNull() ? std::optional<qint64>(v->toLongLong()) : std::nullopt;
        });
}

Result<bool, StoreError> SqliteSchedule::take(QSqlDatabase &db, const QString &handle) const
{
    QSqlQuery q(db);
    q.prepare(u"DELETE FROM scheduled WHERE handle = ?"_s);
    q.addBindValue(handle);
    if (!q.exec())
        return Result<bool, StoreError>::failure(m_store.errorFrom(q));
    if (q.numRowsAffected() < 1)
        return Result<bool, StoreError>::failure(
            {Error::Kind::Gone, u"scheduled publish %1 was cancelled or delivered already"_s.arg(handle)});
    return true;
}

} // namespace Herald
