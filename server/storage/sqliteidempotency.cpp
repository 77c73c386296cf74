#include "sqliteidempotency.h"

#include "store.h"

#include <QMutexLocker>
#include <QSqlQuery>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// Open mode's publishers share the empty scope; a null QString would bind NULL, which matches nothing.
QString scopeValue(const QString &scope)
{
    return scope.isNull() ? u""_s : scope;
}
} // namespace

SqliteIdempotency::SqliteIdempotency(Store &store, std::chrono::seconds window)
    : m_store(store)
    , m_windowMs(qint64(std::chrono::milliseconds(window).count()))
{}

Result<IdempotencyKeys::Claim, StoreError> SqliteIdempotency::claim(const QString &scope, const QString &key)
{
    using R = Result<Claim, StoreError>;
    // Under the lock from the look-up to the claim: two publishes with one key cannot both find it free.
    QMutexLocker lock(&m_mutex);
    if (m_inFlight.contains({scope, key}))
        return Claim{State::InFlight, {}};
    // Rows past the window until the prune deletes them are free already.
    auto q = m_store.run(u"SELECT id, scheduled, deliver_at_ms FROM idempotency "
                         "WHERE scope = ? AND key = ? AND created_ms >= ?"_s,
                         {scopeValue(scope), key, QDateTime::currentMSecsSinceEpoch() - m_windowMs});
    if (!q)
        return R::failure(q.error());
    QSqlQuery &row = q.value();
    if (row.next()) {
        KeyedOutcome outcome;
        outcome.id = row.value(0).toLongLong();
        outcome.scheduled = row.value(1).toString();
        if (!row.value(2).isNull())
            outcome.deliverAt = QDateTime::fromMSecsSinceEpoch(row.value(2).toLongLong(), Qt::UTC);
        return Claim{State::Done, outcome};
    }
    m_inFlight.insert({scope, key});
    return Claim{State::Claimed, {}};
}

namespace {
constexpr QStringView UpsertSql =
    u"INSERT INTO idempotency (scope, key, created_ms, id, scheduled, deliver_at_ms) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO UPDATE SET created_ms = excluded.created_ms, "
    "id = excluded.id, scheduled = excluded.scheduled, deliver_at_ms = excluded.deliver_at_ms";

QVariantList upsertValues(const QString &scope, const QString &key, const KeyedOutcome &outcome)
{
    return {scopeValue(scope),
            key,
            QDateTime::currentMSecsSinceEpoch(),
            outcome.id,
            outcome.scheduled.isEmpty() ? QVariant() : QVariant(outcome.scheduled),
            outcome.deliverAt.isValid() ? QVariant(outcome.deliverAt.toMSecsSinceEpoch()) : QVariant()};
}
} // namespace

Result<bool, StoreError> SqliteIdempotency::remember(const QString &scope, const QString &key,
                                                     const KeyedOutcome &outcome)
{
    // Written before the key leaves m_inFlight: a retry finds one or the other, never neither.
    auto written = m_store.execute(UpsertSql.toString(), upsertValues(scope, key, outcome));
    release(scope, key);
    if (!written)
        return Result<bool, StoreError>::failure(written.error());
    return true;
}

Result<bool, StoreError> SqliteIdempotency::write(QSqlDatabase &db, const QString &scope, const QString &key,
                                                  const KeyedOutcome &outcome)
{
    QSqlQuery q(db);
    q.prepare(UpsertSql.toString());
    for (const QVariant &v : upsertValues(scope, key, outcome))
        q.addBindValue(v);
    if (!q.exec())
        return Result<bool, StoreError>::failure(m_store.errorFrom(q));
    return true;
}

void SqliteIdempotency::release(const QString &scope, const QString &key)
{
    QMutexLocker lock(&m_mutex);
    m_inFlight.remove({scope, key});
}

Result<qint64, StoreError> SqliteIdempotency::prune()
{
    return m_store.execute(u"DELETE FROM idempotency WHERE created_ms < ?"_s,
                           {QDateTime::currentMSecsSinceEpoch() - m_windowMs});
}

} // namespace Herald
