#pragma once

#include "recordstore.h"

class QSqlDatabase;

namespace Herald {

class Store;

// Seed 004's model records in SQLite: the records table of Store's database (RedisRecords is the cluster's).
// Part of Store: its per-thread connections, its write lock and --max-db-size check, so a record and the
// message announcing it commit in one transaction (Store::insert calls apply()).
class SqliteRecords : public RecordStore
{
public:
    explicit SqliteRecords(Store &store);

    Result<qint64, StoreError> allocateRecordId(const QString &model) override;
    Result<bool, StoreError> writeRecord(const RecordWrite &record) override;
    Result<std::optional<QJsonObject>, StoreError> record(const QString &model, qint64 id) override;
    Result<QList<QJsonObject>, StoreError> records(const QString &model, int limit, int offset,
                                                   const QString &filterField = {},
                                                   const QJsonValue &filterValue = {}) override;
    Result<qint64, StoreError> countRecords(const QString &model, const QString &field,
                                            const QJsonValue &value, bool ignoreCase = false,
                                            qint64 exceptId = 0) override;
    // Nothing to hold: only this process writes the database, and ModelApi's mutex serialises its threads.
    Result<RecordLock, StoreError> lockChanges() override;

    // Writes the change on `db`, inside whatever transaction the caller holds.
    Result<bool, StoreError> apply(QSqlDatabase &db, const RecordWrite &record) const;

private:
    Store &m_store;
};

} // namespace Herald
