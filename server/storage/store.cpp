#include "store.h"

#include "channelname.h"
#include "logging.h"
#include "pagelimit.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QSqlDatabase>
#include <QSqlDriver>
#include <QSqlError>
#include <QSqlQuery>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <atomic>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
using Error = StoreError;

// One message row: Store::insert and Store::insertBatch bind it with Store::execInsert().
constexpr QStringView InsertMessageSql =
    u"INSERT INTO messages (id, channel, type, created_ms, payload, expires_ms) VALUES (?, ?, ?, ?, ?, ?)";

// The one message a publish supersedes (replaces, or withdraws), marked in the publish's transaction. Only
// if it is still its chain's latest and not expired: else a concurrent update came first (StoreError::Stale).
constexpr QStringView SupersedeSql =
    u"UPDATE messages SET superseded_by = ? WHERE id = ? AND channel = ? AND "
    "superseded_by IS NULL AND (expires_ms IS NULL OR expires_ms > ?)";

// What every listing hides (History::WithdrawnType): superseded and expired rows; bind the time (ms).
constexpr QStringView Visible = u"superseded_by IS NULL AND (expires_ms IS NULL OR expires_ms > ?)";
// And listings without since also "withdrawn" events.
constexpr QStringView Shown =
    u"superseded_by IS NULL AND (expires_ms IS NULL OR expires_ms > ?) AND type <> 'withdrawn'";

// A channel's `stored` in the listings: what a listing shows, as retention counts it (pruneChannel).
const QString ShownCount = u"SUM(CASE WHEN %1 THEN 1 ELSE 0 END)"_s.arg(Shown);

// The message a publish supersedes, 0 for none.
qint64 supersededBy(const Message &message)
{
    return message.notification.replaces ? message.notification.replaces : message.notification.withdraws;
}

qint64 nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

// The epoch: 8 random bytes in hex, written only if there is none (a copy of herald.db keeps its epoch).
constexpr QStringView EnsureEpochSql =
    u"INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', lower(hex(randomblob(8))))";

// Schema migrations, one list of statements per version, applied in order at start-up. Append only: a
// released version's statements never change.
const QList<QStringList> &migrations()
{
    static const QList<QStringList> list = {
        // 1: messages with their encoded JSON, per-channel retention state, key/value metadata.
        {u"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"_s,
         u"CREATE TABLE messages (id INTEGER PRIMARY KEY, channel TEXT NOT NULL, type TEXT NOT NULL, "
         "created_ms INTEGER NOT NULL, payload TEXT NOT NULL, read_ms INTEGER)"_s,
         u"CREATE INDEX messages_channel_id ON messages (channel, id)"_s,
         u"CREATE TABLE channels (name TEXT PRIMARY KEY, pruned_up_to INTEGER NOT NULL DEFAULT 0)"_s},
        // 2: model records (seed 004's users, posts, …), one table for every model: a new model needs no
        // migration. data is the record's JSON; unique fields are checked against json_extract().
        {u"CREATE TABLE records (model TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL, "
         "PRIMARY KEY (model, id))"_s},
        // 3: the history's epoch (History::epoch), made once with the database. An older database gets one
        // now: its clients cannot have seen another, so nothing they hold is invalidated.
        {EnsureEpochSql.toString()},
        // 4: publishes' idempotency keys (SqliteIdempotency): a key's answer, kept for --idempotency-window.
        // IF NOT EXISTS: a database set back to an older user_version by hand (tst_store) runs it again.
        {u"CREATE TABLE IF NOT EXISTS idempotency (scope TEXT NOT NULL, key TEXT NOT NULL, created_ms "
         u"INTEGER NOT NULL, "
         "id INTEGER NOT NULL, scheduled TEXT, deliver_at_ms INTEGER, PRIMARY KEY (scope, key))"_s,
         u"CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created_ms)"_s},
        // 5: expiry and updates (docs/protocol.md, "Expiry", "Updates and withdrawals"): when a message
        // expires (ms, NULL = never), and the message that superseded it (an update or a withdrawn event).
        // Both stay NULL for plain messages; the listings' index is (channel, id), these are filters on it.
        {u"ALTER TABLE messages ADD COLUMN expires_ms INTEGER"_s,
         u"ALTER TABLE messages ADD COLUMN superseded_by INTEGER"_s,
         // prune's scan for expired rows; partial, so a plain message adds no index entry.
         u"CREATE INDEX messages_expires ON messages (expires_ms) WHERE expires_ms IS NOT NULL"_s},
        // 6: each user's settings, the JSON
        // object PUT /api/users/{id}/settings saved (quiet hours, minimum priority). IF NOT EXISTS: a
        // database set back to an older user_version (tst_store does) still has the table.
        {u"CREATE TABLE IF NOT EXISTS user_settings (user_id TEXT PRIMARY KEY, settings TEXT NOT NULL)"_s},
        // 7: scheduled publishes (issue 20), waiting for their time; due_ms orders them (SqliteSchedule). IF
        // NOT EXISTS: a database whose user_version was set back (by hand, or tst_store) has the table
        // already.
        {u"CREATE TABLE IF NOT EXISTS scheduled (handle TEXT PRIMARY KEY, due_ms INTEGER NOT NULL, "
         "channel TEXT NOT NULL, entry TEXT NOT NULL)"_s,
         u"CREATE INDEX IF NOT EXISTS scheduled_due ON scheduled (due_ms)"_s},
    };
    return list;
}

QString placeholders(qsizetype n)
{
    QString s;
    s.reserve(n * 2);
    for (qsizetype i = 0; i < n; ++i)
        s += i ? u",?"_s : u"?"_s;
    return s;
}

std::optional<Message> messageFromRow(const QSqlQuery &q, int payloadColumn)
{
    const QJsonObject o = QJsonDocument::fromJson(q.value(payloadColumn).toByteArray()).object();
    auto m = Message::fromJson(o);
    if (!m) {
        qCWarning(lcStore) << "skipping an unreadable stored message" << q.value(0).toLongLong();
        return std::nullopt;
    }
    return std::move(m).value();
}

} // namespace

int Store::schemaVersion()
{
    return int(migrations().size());
}

Store::Store(const ServerConfig &config, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_path(QDir(config.dataDir).absoluteFilePath(u"herald.db"_s))
{
    static std::atomic<int> serial{0};
    m_prefix = u"herald-store-%1-"_s.arg(serial.fetch_add(1));
}

Store::~Store()
{
    close();
}

bool Store::open()
{
    if (!QSqlDatabase::isDriverAvailable(u"QSQLITE"_s)) {
        m_error = u"the Qt SQLite driver is missing (install libqt6sql6-sqlite)"_s;
        return false;
    }
    {
        QMutexLocker lock(&m_connectionsMutex);
        m_closed = false;
    }
    QSqlDatabase db = connection(&m_error);
    if (!db.isOpen()) {
        if (m_error.isEmpty())
            m_error = u"cannot open database %1"_s.arg(m_path);
        db = QSqlDatabase();
        close();
        return false;
    }
    if (!migrate(db)) {
        db = QSqlDatabase();
        close();
        return false;
    }
    {
        // Migration 3 made it; made again if the row was deleted by hand (that is a new history).
        QSqlQuery e(db);
        if (e.exec(EnsureEpochSql.toString()) && e.exec(u"SELECT value FROM meta WHERE key = 'epoch'"_s) &&
            e.next())
            m_epoch = e.value(0).toString();
        else
            m_error = u"cannot read the epoch of database %1: %2"_s.arg(m_path, e.lastError().text());
    }
    if (m_epoch.isEmpty()) {
        db = QSqlDatabase();
        close();
        return false;
    }
    QSqlQuery q(db);
    qint64 last = 0;
    if (q.exec(u"SELECT MAX(id) FROM messages"_s) && q.next())
        last = q.value(0).toLongLong();
    if (q.exec(u"SELECT value FROM meta WHERE key = 'seq_reserved'"_s) && q.next())
        last = std::max(last, q.value(0).toLongLong());
    m_initialLastId = last;

    m_pruneTimer = new QTimer(this);
    m_pruneTimer->setInterval(m_config.pruneInterval);
    connect(m_pruneTimer, &QTimer::timeout, this, [this] { prune(); });
    m_pruneTimer->start();
    prune();
    qCInfo(lcStore).noquote() << "database" << m_path << "schema" << schemaVersion() << "epoch" << m_epoch
                              << "last id" << last;
    return true;
}

void Store::close()
{
    if (m_pruneTimer)
        m_pruneTimer->stop();
    QSet<QString> names;
    {
        QMutexLocker lock(&m_connectionsMutex);
        if (m_closed)
            return;
        m_closed = true;
        names.swap(m_connections);
    }
    QMutexLocker write(&m_writeMutex);
    const QString mine = m_prefix + QString::number(quintptr(QThread::currentThread()), 16);
    for (const QString &name : std::as_const(names)) {
        if (name == mine) {
            // Fold the WAL back into the database so a copy of herald.db alone is complete.
            QSqlDatabase db = QSqlDatabase::database(name, false);
            if (db.isOpen()) {
                QSqlQuery(db).exec(u"PRAGMA wal_checkpoint(TRUNCATE)"_s);
                db.close();
            }
        }
        QSqlDatabase::removeDatabase(name);
    }
}

void Store::releaseThreadConnection()
{
    const QString name = m_prefix + QString::number(quintptr(QThread::currentThread()), 16);
    QMutexLocker lock(&m_connectionsMutex);
    if (!m_connections.remove(name))
        return;
    {
        QSqlDatabase db = QSqlDatabase::database(name, false);
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
}

QSqlDatabase Store::connection(QString *error)
{
    const QString name = m_prefix + QString::number(quintptr(QThread::currentThread()), 16);
    QMutexLocker lock(&m_connectionsMutex);
    if (m_closed)
        return {};
    if (m_connections.contains(name)) {
        QSqlDatabase db = QSqlDatabase::database(name, false);
        if (db.isValid())
            return db;
        // A thread that ended without releasing, and a new one at the same address.
        db = QSqlDatabase();
        QSqlDatabase::removeDatabase(name);
        m_connections.remove(name);
    }
    QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, name);
    QString failure;
    if (!openConnection(db, &failure)) {
        // Not kept: the thread's next call tries again (the cause may pass, e.g. a lock or a file limit).
        qCWarning(lcStore).noquote() << failure;
        if (error)
            *error = failure;
        db = QSqlDatabase();
        QSqlDatabase::removeDatabase(name);
        return {};
    }
    m_connections.insert(name);
    return db;
}

bool Store::openConnection(QSqlDatabase &db, QString *error)
{
    db.setDatabaseName(m_path);
    db.setConnectOptions(u"QSQLITE_BUSY_TIMEOUT=%1"_s.arg(m_config.storeBusyTimeout.count()));
    if (!db.open()) {
        *error = u"cannot open database %1: %2"_s.arg(m_path, db.lastError().text());
        return false;
    }
    QSqlQuery q(db);
    // WAL: readers never block the writer. NORMAL survives a crash of the process (kill -9) because a commit
    // is in the WAL file before it returns; FULL also survives a power cut, at an fsync per commit.
    const QStringList pragmas = {
        u"PRAGMA journal_mode = WAL"_s,
        m_config.synchronousFull ? u"PRAGMA synchronous = FULL"_s : u"PRAGMA synchronous = NORMAL"_s,
        u"PRAGMA foreign_keys = ON"_s,
    };
    for (const QString &p : pragmas) {
        if (!q.exec(p)) {
            *error = u"cannot configure database %1: %2"_s.arg(m_path, q.lastError().text());
            return false;
        }
    }
    if (q.exec(u"PRAGMA journal_mode"_s) && q.next() && q.value(0).toString().toLower() != u"wal"_s) {
        *error = u"database %1 cannot use write-ahead logging"_s.arg(m_path);
        return false;
    }
    if (m_config.maxDatabaseSize > 0 && q.exec(u"PRAGMA page_size"_s) && q.next()) {
        // The cap bounds herald.db and herald.db-wal together: an eighth of it (4 MiB at most) is the WAL's,
        // checkpointed at half that and truncated back to it after each reset; ensureRoom() checks the sum.
        const qint64 pageSize = std::max<qint64>(512, q.value(0).toLongLong());
        const qint64 budget = std::clamp<qint64>(m_config.maxDatabaseSize / 8, 2 * pageSize, 4 << 20);
        m_walBudget = budget;
        const qint64 pages = std::max<qint64>(1, (m_config.maxDatabaseSize - budget) / pageSize);
        const QStringList limits = {
            u"PRAGMA max_page_count = %1"_s.arg(pages),
            u"PRAGMA wal_autocheckpoint = %1"_s.arg(std::max<qint64>(1, budget / pageSize / 2)),
            u"PRAGMA journal_size_limit = %1"_s.arg(budget),
        };
        for (const QString &p : limits) {
            if (!q.exec(p)) {
                *error = u"cannot configure database %1: %2"_s.arg(m_path, q.lastError().text());
                return false;
            }
        }
    }
    return true;
}

bool Store::migrate(QSqlDatabase &db)
{
    QMutexLocker lock(&m_writeMutex);
    QSqlQuery q(db);
    if (!q.exec(u"PRAGMA user_version"_s) || !q.next()) {
        m_error = u"cannot read database %1: %2"_s.arg(m_path, q.lastError().text());
        return false;
    }
    const int version = q.value(0).toInt();
    if (version > schemaVersion()) {
        m_error =
            u"database %1 has schema %2, newer than this herald-server (%3)"_s.arg(m_path).arg(version).arg(
                schemaVersion());
        return false;
    }
    for (int v = version; v < schemaVersion(); ++v) {
        db.transaction();
        QStringList statements = migrations().at(v);
        statements.append(u"PRAGMA user_version = %1"_s.arg(v + 1));
        for (const QString &sql : std::as_const(statements)) {
            if (!q.exec(sql)) {
                m_error = u"cannot migrate database %1 to schema %2: %3"_s.arg(m_path).arg(v + 1).arg(
                    q.lastError().text());
                db.rollback();
                return false;
            }
        }
        if (!db.commit()) {
            m_error = u"cannot migrate database %1: %2"_s.arg(m_path, db.lastError().text());
            return false;
        }
        qCInfo(lcStore) << "migrated database to schema" << v + 1;
    }
    return true;
}

StoreError Store::errorFrom(const QSqlQuery &query) const
{
    return errorFrom(query.lastError());
}

StoreError Store::errorFrom(const QSqlError &e) const
{
    StoreError error;
    // SQLITE_FULL (13): the disk or max_page_count. Everything else (busy, locked, I/O) is "unavailable".
    error.kind = e.nativeErrorCode() == u"13"_s ? Error::Kind::Full : Error::Kind::Unavailable;
    error.message = e.databaseText().isEmpty() ? e.text() : e.databaseText();
    qCWarning(lcStore).noquote() << "store error:" << error.message;
    return error;
}

bool Store::isPersistent(const QString &channel) const
{
    return isPersistentChannel(m_config, channel);
}

RetentionRule Store::retentionFor(const QString &channel) const
{
    return retentionRuleFor(m_config, channel);
}

Result<QSqlQuery, StoreError> Store::run(const QString &sql, const QVariantList &values)
{
    using R = Result<QSqlQuery, StoreError>;
    QSqlDatabase db = connection();
    if (!db.isOpen())
        return R::failure({Error::Kind::Unavailable, u"the store is closed"_s});
    QSqlQuery q(db);
    q.prepare(sql);
    for (const QVariant &v : values)
        q.addBindValue(v);
    if (!q.exec())
        return R::failure(errorFrom(q));
    return q;
}

Result<qint64, StoreError> Store::execute(const QString &sql, const QVariantList &values)
{
    QMutexLocker lock(&m_writeMutex);
    return run(sql, values).transform([](const QSqlQuery &q) { return qint64(q.numRowsAffected()); });
}

Result<bool, StoreError> Store::reserveIds(qint64 upTo)
{
    return execute(u"INSERT INTO meta (key, value) VALUES ('seq_reserved', ?) "
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value"_s,
                   {QString::number(upTo)})
        .transform([](qint64) { return true; });
}

Result<bool, StoreError> Store::insert(const Message &message, const QByteArray &json,
                                       const RecordWrite *record, const QString &scheduled,
                                       const KeyedCommit *keyed)
{
    // A plain message is one statement; a record change or a supersession commits with it. A scheduled
    // publish leaves the schedule in the transaction that stores it: a kill -9 leaves either the entry
    // (delivered after the restart) or the message (and no entry), never both nor neither. So does a keyed
    // publish its idempotency key's answer: a retry after a crash finds the message's id, or no message.
    const bool keyedWrite = keyed && !keyed->key.isEmpty();
    const bool transaction = record || supersededBy(message) || !scheduled.isEmpty() || keyedWrite;
    QMutexLocker lock(&m_writeMutex);
    QSqlDatabase db = connection();
    if (!db.isOpen())
        return noteWrite(
            Result<bool, StoreError>::failure({Error::Kind::Unavailable, u"the store is closed"_s}));
    if (auto room = ensureRoom(db); !room)
        return noteWrite(room);
    if (transaction)
        db.transaction();
    auto fail = [&](const StoreError &e) {
        if (transaction)
            db.rollback();
        // A stale supersession and a schedule's entry already gone are not a failing store.
        return e.kind == Error::Kind::Stale || e.kind == Error::Kind::Gone
                   ? Result<bool, StoreError>::failure(e)
                   : noteWrite(Result<bool, StoreError>::failure(e));
    };
    if (!scheduled.isEmpty()) {
        if (auto taken = m_schedule.take(db, scheduled); !taken)
            return fail(taken.error());
    }
    if (record) {
        if (auto r = m_records.apply(db, *record); !r)
            return fail(r.error());
    }
    QSqlQuery q(db);
    q.prepare(InsertMessageSql.toString());
    if (!execInsert(q, message, json))
        return fail(errorFrom(q));
    if (auto superseded = supersede(db, message); !superseded)
        return fail(superseded.error());
    if (keyedWrite) {
        if (auto written =
                m_idempotency.write(db, keyed->scope, keyed->key, KeyedOutcome{message.id, {}, {}});
            !written)
            return fail(written.error());
    }
    if (transaction && !db.commit())
        return fail(errorFrom(db.lastError()));
    return noteWrite(true);
}

Result<bool, StoreError> Store::insertBatch(const QList<Insert> &batch)
{
    QMutexLocker lock(&m_writeMutex);
    QSqlDatabase db = connection();
    if (!db.isOpen())
        return noteWrite(
            Result<bool, StoreError>::failure({Error::Kind::Unavailable, u"the store is closed"_s}));
    if (auto room = ensureRoom(db); !room)
        return noteWrite(room);
    if (!db.transaction())
        return noteWrite(Result<bool, StoreError>::failure(errorFrom(db.lastError())));
    QSqlQuery q(db);
    q.prepare(InsertMessageSql.toString()); // once for the whole group
    for (const Insert &i : batch) {
        if (!execInsert(q, *i.message, *i.json)) {
            const StoreError e = errorFrom(q);
            db.rollback();
            return noteWrite(Result<bool, StoreError>::failure(e));
        }
        // The hub commits supersessions at once, not in a group (Hub::publishLocked): none here in practice.
        if (auto superseded = supersede(db, *i.message); !superseded) {
            db.rollback();
            return noteWrite(superseded);
        }
    }
    if (!db.commit()) {
        const StoreError e = errorFrom(db.lastError());
        db.rollback();
        return noteWrite(Result<bool, StoreError>::failure(e));
    }
    return noteWrite(true);
}

Result<bool, StoreError> Store::ensureRoom(QSqlDatabase &db)
{
    if (m_config.maxDatabaseSize <= 0)
        return true;
    // Room for this write's WAL frames too: half the WAL's budget, the size it is checkpointed at.
    const qint64 limit = m_config.maxDatabaseSize - m_walBudget / 2;
    const QString wal = m_path + u"-wal"_s;
    auto used = [&] {
        return QFileInfo(m_path).size() + QFileInfo(wal).size();
    };
    qint64 bytes = used();
    if (bytes > limit || QFileInfo(wal).size() > m_walBudget) {
        // Readers held the WAL past its checkpoints: fold it back now (waits out the busy timeout at most).
        QSqlQuery(db).exec(u"PRAGMA wal_checkpoint(TRUNCATE)"_s);
        bytes = used();
    }
    if (bytes <= limit)
        return true;
    StoreError error{Error::Kind::Full, u"the store is full: %1 of %2 bytes (--max-db-size)"_s.arg(bytes).arg(
                                            m_config.maxDatabaseSize)};
    qCWarning(lcStore).noquote() << "store error:" << error.message;
    return Result<bool, StoreError>::failure(error);
}

Result<bool, StoreError> Store::noteWrite(Result<bool, StoreError> outcome)
{
    QMutexLocker lock(&m_failureMutex);
    if (outcome)
        m_writeFailure.reset();
    else
        m_writeFailure = outcome.error();
    return outcome;
}

std::optional<StoreError> Store::writeFailure() const
{
    QMutexLocker lock(&m_failureMutex);
    return m_writeFailure;
}

bool Store::execInsert(QSqlQuery &query, const Message &message, const QByteArray &json)
{
    query.bindValue(0, message.id);
    query.bindValue(1, message.channel);
    query.bindValue(2, message.type);
    query.bindValue(3, message.timestamp.toMSecsSinceEpoch());
    query.bindValue(4, QString::fromUtf8(json.isEmpty() ? message.toJsonBytes() : json));
    const QDateTime &expires = message.notification.expires;
    query.bindValue(5, expires.isValid() ? QVariant(expires.toMSecsSinceEpoch())
                                         : QVariant(QMetaType::fromType<qint64>()));
    return query.exec();
}

Result<bool, StoreError> Store::supersede(QSqlDatabase &db, const Message &message)
{
    const qint64 head = supersededBy(message);
    if (!head)
        return true;
    QSqlQuery q(db);
    q.prepare(SupersedeSql.toString());
    q.addBindValue(message.id);
    q.addBindValue(head);
    q.addBindValue(message.channel);
    q.addBindValue(nowMs());
    if (!q.exec())
        return Result<bool, StoreError>::failure(errorFrom(q));
    if (q.numRowsAffected() != 1)
        return Result<bool, StoreError>::failure(
            {Error::Kind::Stale, u"message %1 is no longer the latest of its chain"_s.arg(head)});
    return true;
}

Result<std::optional<ChainHead>, StoreError> Store::chainHead(qint64 id)
{
    using R = Result<std::optional<ChainHead>, StoreError>;
    // Follows superseded_by to the row nothing superseded: the chain's latest, or the withdrawn event that
    // ended it. Bounded: each step goes to a higher id.
    auto q = run(u"WITH RECURSIVE chain(id, next) AS (SELECT id, superseded_by FROM messages WHERE id = ? "
                 "UNION ALL SELECT m.id, m.superseded_by FROM messages m JOIN chain c ON m.id = c.next "
                 "WHERE c.next > c.id) "
                 "SELECT m.id, m.channel, m.type, m.expires_ms, m.payload FROM chain c "
                 "JOIN messages m ON m.id = c.id "
                 "WHERE c.next IS NULL"_s,
                 {id});
    if (!q)
        return R::failure(q.error());
    QSqlQuery &row = q.value();
    if (!row.next())
        return std::optional<ChainHead>(); // unknown, or a link pruned away
    if (row.value(2).toString() == WithdrawnType)
        return std::optional<ChainHead>();
    if (!row.value(3).isNull() && row.value(3).toLongLong() <= nowMs())
        return std::optional<ChainHead>();
    const qint64 head = row.value(0).toLongLong();
    // An update stored its chain's first id; a message nothing replaced starts its own chain.
    const qint64 chain =
        QJsonDocument::fromJson(row.value(4).toByteArray()).object().value("chain"_L1).toInteger();
    return std::optional<ChainHead>(ChainHead{head, row.value(1).toString(), chain > 0 ? chain : head});
}

Result<Replay, StoreError> Store::replay(const QStringList &channels, qint64 since, qint64 currentLastId)
{
    using R = Result<Replay, StoreError>;
    Replay out;
    // An id the hub never handed out: the history was reset (a new data dir, a restored backup). The client's
    // ids name messages of another history, so none of this one's can be matched to them.
    if (since > currentLastId) {
        out.lose(ReplayGap::Reset);
        return out;
    }
    if (channels.isEmpty())
        return out;
    QSqlDatabase db = connection();
    if (!db.isOpen())
        return R::failure({Error::Kind::Unavailable, u"the store is closed"_s});
    QSqlQuery q(db);
    q.setForwardOnly(true);
    PageLimit limit(m_config.replayLimit);
    // Newest first: more than the limit means the oldest are not sent, so not recovered.
    q.prepare(
        u"SELECT id, payload FROM messages WHERE channel IN (%1) AND id > ? AND %2 ORDER BY id DESC LIMIT ?"_s
            .arg(placeholders(channels.size()), Visible));
    for (const QString &c : channels)
        q.addBindValue(c);
    q.addBindValue(since);
    q.addBindValue(nowMs());
    q.addBindValue(limit.fetch());
    if (!q.exec())
        return R::failure(errorFrom(q));
    while (q.next() && limit.admit()) {
        if (auto m = messageFromRow(q, 1))
            out.messages.append(std::move(*m));
    }
    if (limit.more())
        out.lose(ReplayGap::Limit);
    oldestFirst(out.messages);

    QSqlQuery p(db);
    p.prepare(
        u"SELECT MAX(pruned_up_to) FROM channels WHERE name IN (%1)"_s.arg(placeholders(channels.size())));
    for (const QString &c : channels)
        p.addBindValue(c);
    if (!p.exec())
        return R::failure(errorFrom(p));
    if (p.next() && p.value(0).toLongLong() > since)
        out.lose(ReplayGap::Expired);
    return out;
}

Result<Replay, StoreError> Store::planReplay(const QStringList &channels, qint64 since, qint64 currentLastId)
{
    using R = Result<Replay, StoreError>;
    Replay out;
    out.after = since;
    if (since > currentLastId) {
        out.lose(ReplayGap::Reset); // as in replay()
        return out;
    }
    if (channels.isEmpty())
        return out;
    QSqlDatabase db = connection();
    if (!db.isOpen())
        return R::failure({Error::Kind::Unavailable, u"the store is closed"_s});
    const int limit = std::max(1, m_config.replayLimit);
    const QString in = placeholders(channels.size());
    const qint64 now = nowMs();
    const auto bind = [&](QSqlQuery &q) {
        for (const QString &c : channels)
            q.addBindValue(c);
        q.addBindValue(since);
        q.addBindValue(currentLastId);
        q.addBindValue(now);
    };
    // The one just older than the newest `limit`: if it exists, the replay starts after it.
    QSqlQuery b(db);
    b.prepare(u"SELECT id FROM messages WHERE channel IN (%1) AND id > ? AND id <= ? AND %2 ORDER BY id DESC "
              "LIMIT 1 OFFSET ?"_s.arg(in, Visible));
    bind(b);
    b.addBindValue(limit);
    if (!b.exec())
        return R::failure(errorFrom(b));
    if (b.next()) {
        out.after = b.value(0).toLongLong();
        out.count = limit;
        out.lose(ReplayGap::Limit);
    } else {
        QSqlQuery c(db);
        c.prepare(u"SELECT COUNT(*) FROM messages WHERE channel IN (%1) AND id > ? AND id <= ? AND %2"_s.arg(
            in, Visible));
        bind(c);
        if (!c.exec() || !c.next())
            return R::failure(errorFrom(c));
        out.count = c.value(0).toLongLong();
    }
    QSqlQuery p(db);
    p.prepare(u"SELECT MAX(pruned_up_to) FROM channels WHERE name IN (%1)"_s.arg(in));
    for (const QString &c : channels)
        p.addBindValue(c);
    if (!p.exec())
        return R::failure(errorFrom(p));
    if (p.next() && p.value(0).toLongLong() > since)
        out.lose(ReplayGap::Expired);
    return out;
}

Result<FramePage, StoreError> Store::replayPage(const QStringList &channels, qint64 after, int maxMessages,
                                                qint64 maxBytes)
{
    using R = Result<FramePage, StoreError>;
    FramePage page;
    if (channels.isEmpty())
        return page;
    QSqlDatabase db = connection();
    if (!db.isOpen())
        return R::failure({Error::Kind::Unavailable, u"the store is closed"_s});
    QSqlQuery q(db);
    q.setForwardOnly(true);
    q.prepare(u"SELECT id, channel, type, payload FROM messages WHERE channel IN (%1) AND id > ? AND %2 "
              "ORDER BY id LIMIT ?"_s.arg(placeholders(channels.size()), Visible));
    for (const QString &c : channels)
        q.addBindValue(c);
    PageLimit limit(maxMessages, maxBytes);
    q.addBindValue(after);
    q.addBindValue(nowMs());
    q.addBindValue(limit.fetch());
    if (!q.exec())
        return R::failure(errorFrom(q));
    while (q.next()) {
        // The payload is the live frame's JSON (execInsert), sent as it is.
        QByteArray json = q.value(3).toByteArray();
        if (!limit.admit(json.size()))
            break;
        if (!json.startsWith('{') || !json.endsWith('}')) {
            qCWarning(lcStore) << "skipping an unreadable stored message" << q.value(0).toLongLong();
            continue;
        }
        page.frames.append(
            {q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString(), std::move(json)});
    }
    page.hasMore = limit.more();
    return page;
}

Result<StoredPage, StoreError> Store::history(const QString &channel, qint64 since, qint64 before, int limit)
{
    using R = Result<StoredPage, StoreError>;
    QSqlDatabase db = connection();
    if (!db.isOpen())
        return R::failure({Error::Kind::Unavailable, u"the store is closed"_s});
    QSqlQuery q(db);
    q.setForwardOnly(true);
    const bool forward = since >= 0;
    if (forward) {
        q.prepare(u"SELECT id, payload, read_ms FROM messages WHERE channel = ? AND id > ? AND %1 "
                  "ORDER BY id LIMIT ?"_s.arg(Visible));
        q.addBindValue(channel);
        q.addBindValue(since);
    } else {
        q.prepare(u"SELECT id, payload, read_ms FROM messages WHERE channel = ? AND id < ? AND %1 "
                  "ORDER BY id DESC LIMIT ?"_s.arg(Shown));
        q.addBindValue(channel);
        q.addBindValue(before > 0 ? before : std::numeric_limits<qint64>::max());
    }
    q.addBindValue(nowMs());
    PageLimit rows(limit);
    q.addBindValue(rows.fetch());
    if (!q.exec())
        return R::failure(errorFrom(q));
    StoredPage page;
    while (q.next() && rows.admit()) {
        if (auto m = messageFromRow(q, 1)) {
            // A withdrawn event is never unread (as in Redis, where it is not in the unread set).
            page.read.append(!q.value(2).isNull() || m->type == WithdrawnType);
            page.messages.append(std::move(*m));
        }
    }
    page.hasMore = rows.more();
    if (!forward)
        oldestFirst(page.messages, page.read);
    return page;
}

Result<std::optional<QVariant>, StoreError> Store::queryValue(const QString &sql, const QVariantList &values)
{
    auto q = run(sql, values);
    if (!q)
        return Result<std::optional<QVariant>, StoreError>::failure(q.error());
    QSqlQuery &query = q.value();
    return query.next() ? std::optional<QVariant>(query.value(0)) : std::nullopt;
}

Result<bool, StoreError> Store::covers(const QString &channel, qint64 since)
{
    return queryValue(u"SELECT pruned_up_to FROM channels WHERE name = ?"_s, {channel})
        .transform([since](const std::optional<QVariant> &pruned) {
            return !(pruned && pruned->toLongLong() > since);
        });
}

Result<qint64, StoreError> Store::unreadCount(const QString &channel)
{
    return queryValue(
               u"SELECT COUNT(*) FROM messages WHERE channel = ? AND read_ms IS NULL AND %1"_s.arg(Shown),
               {channel, nowMs()})
        .transform([](const std::optional<QVariant> &count) { return count ? count->toLongLong() : 0; });
}

Result<std::optional<QString>, StoreError> Store::channelOf(qint64 id)
{
    return queryValue(u"SELECT channel FROM messages WHERE id = ?"_s, {id})
        .transform([](const std::optional<QVariant> &channel) {
            return channel ? std::optional<QString>(channel->toString()) : std::nullopt;
        });
}

Result<bool, StoreError> Store::markStoredRead(qint64 id, const QString &channel)
{
    Q_UNUSED(channel); // the row is found by its id
    return execute(u"UPDATE messages SET read_ms = COALESCE(read_ms, ?) WHERE id = ?"_s,
                   {QDateTime::currentMSecsSinceEpoch(), id})
        .transform([](qint64) { return true; });
}

Result<qint64, StoreError> Store::markAllRead(const QString &channel)
{
    if (!isUserChannel(channel))
        return qint64(0); // read state belongs to user queues only
    return execute(u"UPDATE messages SET read_ms = ? WHERE channel = ? AND read_ms IS NULL"_s,
                   {QDateTime::currentMSecsSinceEpoch(), channel});
}

Result<qint64, StoreError> Store::markReadUpTo(const QString &channel, qint64 upTo)
{
    if (!isUserChannel(channel))
        return qint64(0);
    return execute(u"UPDATE messages SET read_ms = ? WHERE channel = ? AND id <= ? AND read_ms IS NULL"_s,
                   {QDateTime::currentMSecsSinceEpoch(), channel, upTo});
}

namespace {
// The ids as SQL integer literals: they are numbers, so no binding is needed, and a list of any length is one
// statement (SQLite caps bound parameters at 32766).
QString idList(const QList<qint64> &ids)
{
    QStringList parts;
    parts.reserve(ids.size());
    for (qint64 id : ids)
        parts.append(QString::number(id));
    return parts.join(u',');
}

// `ids` in their given order, kept only if in `found` (each once).
QList<qint64> inGivenOrder(const QList<qint64> &ids, const QSet<qint64> &found)
{
    QList<qint64> out;
    QSet<qint64> seen;
    for (qint64 id : ids) {
        if (found.contains(id) && !seen.contains(id)) {
            out.append(id);
            seen.insert(id);
        }
    }
    return out;
}
} // namespace

Result<QList<qint64>, StoreError> Store::changeQueued(const QString &channel, const QList<qint64> &ids,
                                                      const QString &change, QVariantList values)
{
    using R = Result<QList<qint64>, StoreError>;
    if (!isUserChannel(channel) || ids.isEmpty())
        return QList<qint64>();
    QMutexLocker lock(&m_writeMutex);
    const QString in = idList(ids);
    auto found = run(u"SELECT id FROM messages WHERE channel = ? AND id IN (%1)"_s.arg(in), {channel});
    if (!found)
        return R::failure(found.error());
    QSet<qint64> present;
    for (QSqlQuery &rows = found.value(); rows.next();)
        present.insert(rows.value(0).toLongLong());
    if (present.isEmpty())
        return QList<qint64>();
    values.append(channel);
    if (auto changed = run(change.arg(in), values); !changed)
        return R::failure(changed.error());
    return inGivenOrder(ids, present);
}

Result<QList<qint64>, StoreError> Store::setRead(const QString &channel, const QList<qint64> &ids, bool read)
{
    if (read)
        return changeQueued(
            channel, ids,
            u"UPDATE messages SET read_ms = COALESCE(read_ms, ?) WHERE channel = ? AND id IN (%1)"_s,
            {QDateTime::currentMSecsSinceEpoch()});
    return changeQueued(channel, ids,
                        u"UPDATE messages SET read_ms = NULL WHERE channel = ? AND id IN (%1)"_s, {});
}

Result<QList<qint64>, StoreError> Store::removeFromQueue(const QString &channel, const QList<qint64> &ids)
{
    return changeQueued(channel, ids, u"DELETE FROM messages WHERE channel = ? AND id IN (%1)"_s, {});
}

Result<QByteArray, StoreError> Store::userSettings(const QString &userId)
{
    return queryValue(u"SELECT settings FROM user_settings WHERE user_id = ?"_s, {userId})
        .transform([](const std::optional<QVariant> &json) {
            return json ? json->toString().toUtf8() : QByteArray();
        });
}

Result<bool, StoreError> Store::saveUserSettings(const QString &userId, const QByteArray &json)
{
    return execute(u"INSERT INTO user_settings (user_id, settings) VALUES (?, ?) "
                   "ON CONFLICT (user_id) DO UPDATE SET settings = excluded.settings"_s,
                   {userId, QString::fromUtf8(json)})
        .transform([](qint64) { return true; });
}

namespace {
// Rows of channel, the shown count, MAX(id), MAX(created_ms): what both channel listings select.
QList<StoredChannel> readChannels(QSqlQuery &q)
{
    QList<StoredChannel> list;
    while (q.next()) {
        StoredChannel c;
        c.name = q.value(0).toString();
        c.messages = q.value(1).toLongLong();
        c.lastId = q.value(2).toLongLong();
        c.lastMessageAt = QDateTime::fromMSecsSinceEpoch(q.value(3).toLongLong(), Qt::UTC);
        list.append(c);
    }
    return list;
}
} // namespace

Result<QList<StoredChannel>, StoreError> Store::channels()
{
    using R = Result<QList<StoredChannel>, StoreError>;
    QSqlDatabase db = connection();
    if (!db.isOpen())
        return R::failure({Error::Kind::Unavailable, u"the store is closed"_s});
    QSqlQuery q(db);
    q.setForwardOnly(true);
    q.prepare(
        u"SELECT channel, %1, MAX(id), MAX(created_ms) FROM messages GROUP BY channel"_s.arg(ShownCount));
    q.addBindValue(nowMs());
    if (!q.exec())
        return R::failure(errorFrom(q));
    return readChannels(q);
}

Result<QList<StoredChannel>, StoreError> Store::channels(const QString &after, int limit)
{
    using R = Result<QList<StoredChannel>, StoreError>;
    QSqlDatabase db = connection();
    if (!db.isOpen())
        return R::failure({Error::Kind::Unavailable, u"the store is closed"_s});
    // Walks the (channel, id) index from `after` and stops after `limit` channels: a page costs its own
    // channels' rows, whatever the number of channels. A null QString binds NULL, hence the COALESCE.
    QSqlQuery q(db);
    q.setForwardOnly(true);
    q.prepare(u"SELECT channel, %1, MAX(id), MAX(created_ms) FROM messages WHERE channel > COALESCE(?, '') "
              "GROUP BY channel ORDER BY channel LIMIT ?"_s.arg(ShownCount));
    q.addBindValue(nowMs());
    q.addBindValue(after);
    q.addBindValue(limit);
    if (!q.exec())
        return R::failure(errorFrom(q));
    return readChannels(q);
}

Result<bool, StoreError> Store::knows(const QString &channel)
{
    return queryValue(u"SELECT EXISTS (SELECT 1 FROM messages WHERE channel = ?) OR "
                      "EXISTS (SELECT 1 FROM channels WHERE name = ?)"_s,
                      {channel, channel})
        .transform([](const std::optional<QVariant> &known) { return known && known->toBool(); });
}

Result<qint64, StoreError> Store::prune()
{
    using R = Result<qint64, StoreError>;
    QSqlDatabase db = connection();
    if (!db.isOpen())
        return R::failure({Error::Kind::Unavailable, u"the store is closed"_s});
    QStringList names;
    {
        QSqlQuery q(db);
        q.setForwardOnly(true);
        if (!q.exec(u"SELECT DISTINCT channel FROM messages"_s))
            return R::failure(errorFrom(q));
        while (q.next())
            names.append(q.value(0).toString());
    }
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    qint64 deleted = 0;
    for (const QString &channel : std::as_const(names)) {
        // One short transaction per channel: publishes wait for the write lock at most that long.
        auto r = pruneChannel(db, channel, retentionFor(channel), now);
        if (!r)
            return r;
        deleted += *r;
    }
    // Keys past the idempotency window: a retry now publishes again.
    if (auto keys = m_idempotency.prune(); !keys)
        return R::failure(keys.error());
    // Expired messages go whatever the retention: they are hidden already, so no gap is recorded. The
    // partial scan runs once per prune, not per publish.
    {
        auto expired =
            execute(u"DELETE FROM messages WHERE expires_ms IS NOT NULL AND expires_ms <= ?"_s, {now});
        if (!expired)
            return expired;
        deleted += *expired;
    }
    if (deleted > 0) {
        qCDebug(lcStore) << "retention deleted" << deleted << "messages";
        Q_EMIT pruned(deleted);
    }
    return deleted;
}

Result<qint64, StoreError> Store::pruneChannel(QSqlDatabase &db, const QString &channel,
                                               const RetentionRule &rule, qint64 nowMs)
{
    using R = Result<qint64, StoreError>;
    QMutexLocker lock(&m_writeMutex);
    qint64 upTo = 0;
    QSqlQuery q(db);
    if (rule.maxCount > 0) {
        // The newest maxCount shown stay (what a listing shows, as RedisHistory counts: an update chain is
        // one message, a withdrawn event none); everything at or below the next one goes, hidden rows
        // included.
        q.prepare(u"SELECT id FROM messages WHERE channel = ? AND %1 ORDER BY id DESC LIMIT 1 OFFSET ?"_s.arg(
            Shown));
        q.addBindValue(channel);
        q.addBindValue(nowMs);
        q.addBindValue(rule.maxCount);
        if (!q.exec())
            return R::failure(errorFrom(q));
        if (q.next())
            upTo = q.value(0).toLongLong();
    }
    if (rule.maxAge.count() > 0) {
        q.prepare(u"SELECT MAX(id) FROM messages WHERE channel = ? AND created_ms < ?"_s);
        q.addBindValue(channel);
        q.addBindValue(nowMs - qint64(rule.maxAge.count()) * 1000);
        if (!q.exec())
            return R::failure(errorFrom(q));
        if (q.next())
            upTo = std::max(upTo, q.value(0).toLongLong());
    }
    if (upTo <= 0)
        return qint64(0);
    db.transaction();
    q.prepare(u"DELETE FROM messages WHERE channel = ? AND id <= ?"_s);
    q.addBindValue(channel);
    q.addBindValue(upTo);
    if (!q.exec()) {
        const StoreError e = errorFrom(q);
        db.rollback();
        return R::failure(e);
    }
    const qint64 deleted = q.numRowsAffected();
    // Remembered so a resume from before this point is told that history no longer covers it.
    q.prepare(u"INSERT INTO channels (name, pruned_up_to) VALUES (?, ?) "
              "ON CONFLICT (name) DO UPDATE SET pruned_up_to = MAX(pruned_up_to, excluded.pruned_up_to)"_s);
    q.addBindValue(channel);
    q.addBindValue(upTo);
    if (!q.exec()) {
        const StoreError e = errorFrom(q);
        db.rollback();
        return R::failure(e);
    }
    if (!db.commit()) {
        db.rollback();
        return R::failure({Error::Kind::Unavailable, db.lastError().text()});
    }
    return deleted;
}

} // namespace Herald
