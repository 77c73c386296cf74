#pragma once

#include "history.h"
#include "message.h"
#include "result.h"
#include "serverconfig.h"
#include "sqliteidempotency.h"
#include "sqliterecords.h"
#include "sqliteschedule.h"

#include <QDateTime>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QMutex>
#include <QObject>
#include <QSet>
#include <QSqlQuery>
#include <QString>
#include <QStringList>
#include <QVariant>

#include <optional>

class QSqlDatabase;
class QSqlError;
class QTimer;

namespace Herald {

// The message store: SQLite through Qt Sql in --data-dir/herald.db, WAL mode, schema versioned by
// PRAGMA user_version and migrated at start-up. Thread-safe: each thread that calls in gets its own
// connection (Qt Sql connections belong to the thread that opened them); writes are serialised by one mutex,
// readers run beside the writer as WAL allows.
class Store : public QObject, public History
{
    Q_OBJECT

public:
    // The schema's version: the number of migrations in store.cpp's list, which only grows.
    static int schemaVersion();

    explicit Store(const ServerConfig &config, QObject *parent = nullptr);
    ~Store() override;

    // Opens (creating or migrating) the database. On failure returns false with a one-line errorString().
    bool open();
    QString errorString() const { return m_error; }
    // Why the latest write failed (full, locked, I/O), for /healthz; empty once a write succeeds again.
    std::optional<StoreError> writeFailure() const;
    QString databasePath() const { return m_path; }
    // Checkpoints the WAL and closes every connection; later calls fail with Unavailable.
    void close();

    // The id sequence survives restarts: the highest id ever handed out is at most reservedId().
    qint64 lastStoredId() const { return m_initialLastId; }
    Result<bool, StoreError> reserveIds(qint64 upTo);

    bool isPersistent(const QString &channel) const override;
    // Kept in the database (meta 'epoch'): the same across restarts, new with a new data dir.
    QString epoch() const override { return m_epoch; }
    RetentionRule retentionFor(const QString &channel) const;

    // Commits one message (its id already assigned), as `json` when given (the bytes already encoded for
    // delivery), and the record change it announces, if any, in the same transaction. With `scheduled`, the
    // handle of the scheduled publish the message delivers: its entry is deleted in that transaction, and
    // nothing is written (Gone) if it is not there. With `keyed`, the publish's idempotency key: its answer
    // (the message's id) is written in that transaction too. Thread-safe.
    Result<bool, StoreError> insert(const Message &message, const QByteArray &json = {},
                                    const RecordWrite *record = nullptr, const QString &scheduled = {},
                                    const KeyedCommit *keyed = nullptr);
    // Commits several messages in one transaction (a group commit, Hub::flushPipeline): all or none.
    struct Insert
    {
        const Message *message;
        const QByteArray *json;
    };
    Result<bool, StoreError> insertBatch(const QList<Insert> &batch);

    // Model records (seed 004): a table in this database. Lives as long as this object.
    SqliteRecords *records() { return &m_records; }
    // Publishes' idempotency keys (--idempotency-window), in this database. Lives as long as this object.
    SqliteIdempotency *idempotency() { return &m_idempotency; }
    // Scheduled publishes (one server): a table in this database. Lives as long as this object.
    SqliteSchedule *schedule() { return &m_schedule; }

    // Stored messages on these channels with id > since, oldest first, at most limit (the newest limit of
    // them when there are more: recovered is then false).
    Result<Replay, StoreError> replay(const QStringList &channels, qint64 since,
                                      qint64 currentLastId) override;
    Result<Replay, StoreError> planReplay(const QStringList &channels, qint64 since,
                                          qint64 currentLastId) override;
    Result<FramePage, StoreError> replayPage(const QStringList &channels, qint64 after, int maxMessages,
                                             qint64 maxBytes) override;

    // One channel's history: with since, the oldest limit after it; else the newest limit before `before`
    // (0 = no bound). Both oldest first.
    Result<StoredPage, StoreError> history(const QString &channel, qint64 since, qint64 before,
                                           int limit) override;
    // Whether history after `since` on the channel is complete (retention has not deleted any of it).
    Result<bool, StoreError> covers(const QString &channel, qint64 since) override;
    Result<qint64, StoreError> unreadCount(const QString &channel) override;
    // The channel a stored message is on, if it is stored.
    Result<std::optional<QString>, StoreError> channelOf(qint64 id) override;
    Result<qint64, StoreError> markAllRead(const QString &channel) override;
    Result<qint64, StoreError> markReadUpTo(const QString &channel, qint64 upTo) override;
    Result<QList<qint64>, StoreError> setRead(const QString &channel, const QList<qint64> &ids,
                                              bool read) override;
    Result<QList<qint64>, StoreError> removeFromQueue(const QString &channel,
                                                      const QList<qint64> &ids) override;
    Result<QByteArray, StoreError> userSettings(const QString &userId) override;
    Result<bool, StoreError> saveUserSettings(const QString &userId, const QByteArray &json) override;
    Result<QList<StoredChannel>, StoreError> channels() override;
    Result<QList<StoredChannel>, StoreError> channels(const QString &after, int limit) override;
    // True if the channel has, or had, stored messages.
    Result<bool, StoreError> knows(const QString &channel) override;
    Result<std::optional<ChainHead>, StoreError> chainHead(qint64 id) override;

    // Applies retention now; returns how many messages were deleted. Also runs on a timer.
    Result<qint64, StoreError> prune() override;

    // Drops the calling thread's connection (worker threads call this before they end).
    void releaseThreadConnection();

Q_SIGNALS:
    void pruned(qint64 deleted);

protected:
    Result<bool, StoreError> markStoredRead(qint64 id, const QString &channel) override;

private:
    // Its records share the connections, the write lock and the size check.
    friend class SqliteRecords;
    friend class SqliteIdempotency;
    friend class SqliteSchedule;

    // The calling thread's connection, opened on first use; invalid (and not kept) if it cannot be opened.
    QSqlDatabase connection(QString *error = nullptr);
    bool openConnection(QSqlDatabase &db, QString *error);
    bool migrate(QSqlDatabase &db);
    // The first column of a query's first row (nullopt when there is none), on the calling thread's
    // connection: what the single-value reads (counts, lookups, flags) of Store and SqliteRecords share.
    Result<std::optional<QVariant>, StoreError> queryValue(const QString &sql, const QVariantList &values);
    // Prepares, binds and runs one statement on the calling thread's connection: what queryValue and execute
    // share.
    Result<QSqlQuery, StoreError> run(const QString &sql, const QVariantList &values);
    // One statement under the write lock; returns the rows it changed.
    Result<qint64, StoreError> execute(const QString &sql, const QVariantList &values);
    // What setRead and removeFromQueue share: which of `ids` are on the user queue `channel` (in the given
    // order), after running `change` on them, a statement ending in "channel = ? AND id IN (%1)" whose
    // values before the channel are `values`.
    Result<QList<qint64>, StoreError> changeQueued(const QString &channel, const QList<qint64> &ids,
                                                   const QString &change, QVariantList values);
    StoreError errorFrom(const QSqlQuery &query) const;
    StoreError errorFrom(const QSqlError &error) const;
    // Binds one message to a prepared InsertMessageSql and runs it.
    static bool execInsert(QSqlQuery &query, const Message &message, const QByteArray &json);
    // After execInsert, in its transaction: marks the message it replaces or withdraws superseded (Stale if
    // another update came first).
    Result<bool, StoreError> supersede(QSqlDatabase &db, const Message &message);
    // Under m_writeMutex, before a write: with --max-db-size, herald.db and its WAL together stay within it.
    Result<bool, StoreError> ensureRoom(QSqlDatabase &db);
    Result<bool, StoreError> noteWrite(Result<bool, StoreError> outcome);
    Result<qint64, StoreError> pruneChannel(QSqlDatabase &db, const QString &channel,
                                            const RetentionRule &rule, qint64 nowMs);

    const ServerConfig m_config;
    QString m_path;
    QString m_error;
    QString m_prefix; // unique per Store: tests run many servers in one process
    qint64 m_initialLastId = 0;
    QString m_epoch; // set by open(), then only read
    QMutex m_writeMutex;
    mutable QMutex m_connectionsMutex;
    QSet<QString> m_connections;
    bool m_closed = true;
    QTimer *m_pruneTimer = nullptr;
    qint64 m_walBudget = 0; // bytes of --max-db-size kept for the WAL
    mutable QMutex m_failureMutex;
    std::optional<StoreError> m_writeFailure;
    SqliteRecords m_records{*this};
    SqliteIdempotency m_idempotency{*this, m_config.idempotencyWindow};
    SqliteSchedule m_schedule{*this};
};

} // namespace Herald
