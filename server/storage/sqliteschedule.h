#pragma once

#include "schedulestore.h"

class QSqlDatabase;

namespace Herald {

class Store;

// Scheduled publishes of one server: the scheduled table of Store's database (RedisSchedule is the
// cluster's). Part of Store, like SqliteRecords: its connections, write lock and size check, so that
// Store::insert removes an entry in the transaction that stores the message it became (take()).
class SqliteSchedule : public ScheduleStore
{
public:
    explicit SqliteSchedule(Store &store);

    Result<bool, StoreError> add(const ScheduledEntry &entry, const KeyedCommit *keyed = nullptr) override;
    Result<std::optional<ScheduledEntry>, StoreError> entry(const QString &handle) override;
    Result<QList<ScheduledEntry>, StoreError> entries(int offset, int limit) override;
    Result<bool, StoreError> remove(const QString &handle) override;
    // One server has one deliverer: nothing to lease.
    Result<QList<ScheduledEntry>, StoreError> claimDue(qint64 nowMs, int max,
                                                       std::chrono::milliseconds lease) override;
    Result<std::optional<qint64>, StoreError> nextDue() override;

    // Deletes the entry on `db`, inside the caller's transaction: Gone if it is not there (cancelled, or
    // delivered already), and the caller then rolls back.
    Result<bool, StoreError> take(QSqlDatabase &db, const QString &handle) const;

private:
    Store &m_store;
};

} // namespace Herald
