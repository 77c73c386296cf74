#pragma once

#include "idempotencykeys.h"

#include <QMutex>
#include <QSet>

#include <chrono>
#include <utility>

class QSqlDatabase;

namespace Herald {

class Store;

// Idempotency keys in SQLite: the idempotency table of Store's database (migration 4), one row per key
// answered within the window; Store::prune() deletes older ones. A key in flight is held in memory only: one
// process owns the database, and after a crash nothing is in flight any more.
class SqliteIdempotency : public IdempotencyKeys
{
public:
    SqliteIdempotency(Store &store, std::chrono::seconds window);

    Result<Claim, StoreError> claim(const QString &scope, const QString &key) override;
    Result<bool, StoreError> remember(const QString &scope, const QString &key,
                                      const KeyedOutcome &outcome) override;
    void release(const QString &scope, const QString &key) override;

    // Writes the key's answer on `db`, in the caller's transaction (Store::insert, under its write lock): the
    // answer commits with the message, or neither does. The key stays claimed until release().
    Result<bool, StoreError> write(QSqlDatabase &db, const QString &scope, const QString &key,
                                   const KeyedOutcome &outcome);

    // Deletes the rows older than the window; returns how many.
    Result<qint64, StoreError> prune();

private:
    Store &m_store;
    const qint64 m_windowMs;
    QMutex m_mutex;
    QSet<std::pair<QString, QString>> m_inFlight; // (scope, key)
};

} // namespace Herald
