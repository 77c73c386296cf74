#include "sqliterecords.h"

#include "store.h"

#include <QJsonDocument>
#include <QMutexLocker>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>

using namespace Qt::StringLiterals;

namespace Herald {

using Error = StoreError;

SqliteRecords::SqliteRecords(Store &store)
    : m_store(store)
{}

Result<bool, StoreError> SqliteRecords::apply(QSqlDatabase &db, const RecordWrite &record) const
{
    QSqlQuery q(db);
    if (record.op == RecordWrite::Op::Delete) {
        q.prepare(u"DELETE FROM records WHERE model = ? AND id = ?"_s);
        q.addBindValue(record.model);
        q.addBindValue(record.id);
    } else {
        q.prepare(u"INSERT INTO records (model, id, data) VALUES (?, ?, ?) "
                  "ON CONFLICT (model, id) DO UPDATE SET data = excluded.data"_s);
        q.addBindValue(record.model);
        q.addBindValue(record.id);
        q.addBindValue(QString::fromUtf8(compactJson(record.data)));
    }
    if (!q.exec())
        return Result<bool, StoreError>::failure(m_store.errorFrom(q));
    return true;
}

Result<bool, StoreError> SqliteRecords::writeRecord(const RecordWrite &record)
{
    QMutexLocker lock(&m_store.m_writeMutex);
    QSqlDatabase db = m_store.connection();
    if (!db.isOpen())
        return m_store.noteWrite(
            Result<bool, StoreError>::failure({Error::Kind::Unavailable, u"the store is closed"_s}));
    if (auto room = m_store.ensureRoom(db); !room)
        return m_store.noteWrite(room);
    return m_store.noteWrite(apply(db, record));
}

Result<qint64, StoreError> SqliteRecords::allocateRecordId(const QString &model)
{
    using R = Result<qint64, StoreError>;
    QMutexLocker lock(&m_store.m_writeMutex);
    QSqlDatabase db = m_store.connection();
    if (!db.isOpen())
        return R::failure({Error::Kind::Unavailable, u"the store is closed"_s});
    // A sequence per model in meta, so a deleted record's id is never handed out again.
    QSqlQuery q(db);
    q.prepare(
        u"INSERT INTO meta (key, value) VALUES (?, (SELECT COALESCE(MAX(id), 0) + 1 FROM records WHERE "
        "model = ?)) ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value"_s);
    q.addBindValue(QString(u"seq:"_s + model));
    q.addBindValue(model);
    if (!q.exec() || !q.next())
        return R::failure(m_store.errorFrom(q));
    return q.value(0).toLongLong();
}

Result<RecordLock, StoreError> SqliteRecords::lockChanges()
{
    return RecordLock();
}

Result<std::optional<QJsonObject>, StoreError> SqliteRecords::record(const QString &model, qint64 id)
{
    return m_store.queryValue(u"SELECT data FROM records WHERE model = ? AND id = ?"_s, {model, id})
        .transform([](const std::optional<QVariant> &data) {
            return data ? std::optional<QJsonObject>(QJsonDocument::fromJson(data->toByteArray()).object())
                        : std::nullopt;
        });
}

Result<QList<QJsonObject>, StoreError> SqliteRecords::records(const QString &model, int limit, int offset,
                                                              const QString &filterField,
                                                              const QJsonValue &filterValue)
{
    using R = Result<QList<QJsonObject>, StoreError>;
    QSqlDatabase db = m_store.connection();
    if (!db.isOpen())
        return R::failure({Error::Kind::Unavailable, u"the store is closed"_s});
    QSqlQuery q(db);
    q.setForwardOnly(true);
    if (filterField.isEmpty()) {
        q.prepare(u"SELECT data FROM records WHERE model = ? ORDER BY id LIMIT ? OFFSET ?"_s);
        q.addBindValue(model);
    } else {
        q.prepare(u"SELECT data FROM records WHERE model = ? AND json_extract(data, ?) = ? "
                  "ORDER BY id LIMIT ? OFFSET ?"_s);
        q.addBindValue(model);
        q.addBindValue(QString(u"$."_s + filterField));
        q.addBindValue(filterValue.toVariant());
    }
    q.addBindValue(limit);
    q.addBindValue(offset);
    if (!q.exec())
        return R::failure(m_store.errorFrom(q));
    QList<QJsonObject> list;
    while (q.next())
        list.append(QJsonDocument::fromJson(q.value(0).toByteArray()).object());
    return list;
}

Result<qint64, StoreError> SqliteRecords::countRecords(const QString &model, const QString &field,
                                                       const QJsonValue &value, bool ignoreCase,
                                                       qint64 exceptId)
{
    return m_store
        .queryValue(ignoreCase ? u"SELECT COUNT(*) FROM records WHERE model = ? AND id <> ? AND "
                                 "lower(json_extract(data, ?)) = lower(?)"_s
                               : u"SELECT COUNT(*) FROM records WHERE model = ? AND id <> ? AND "
                                 "json_extract(data, ?) = ?"_s,
                    {model, exceptId, QString(u"$."_s + field), value.toVariant()})
        .transform([](const std::optional<QVariant> &count) { return count ? count->toLongLong() : 0; });
}

} // namespace Herald
