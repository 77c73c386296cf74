#pragma once

#include "history.h"
#include "message.h"
#include "redisaddress.h"
#include "redisclaims.h"
#include "redisconnection.h"
#include "redisidempotency.h"
#include "redisrecords.h"
#include "redisschedule.h"
#include "result.h"
#include "serverconfig.h"

#include <QByteArray>
#include <QMutex>
#include <QObject>
#include <QString>
#include <QStringList>

class QTimer;

namespace Herald {

// Message history, id sequence and read marks in Redis (--redis), shared by every node of a cluster so that a
// client resumes on any node without loss. Same semantics as Store; blocking and thread-safe (each calling
// thread has its own connection, see RedisConnection). Every key starts with the prefix, so several clusters
// (or test runs) can share one Redis. Keys, for a prefix P and a channel C:
//   P seq          string  the last id handed out (INCR)
//   P channels     set     every channel that has, or had, stored messages ("knows")
//   P ids          hash    id -> channel of every stored message (markRead, channelOf)
//   P msgs:C       zset    score id, member "<id> <message JSON without the id>"
//   P times:C      zset    score the message's timestamp (ms), member id (age retention)
//   P unread:C     zset    score id, member id: the unread messages of a user:<id> queue
//   P chan:C       hash    pruned_up_to: the highest id retention deleted (covers, recovered)
//   P exp:C        zset    score the expiry (ms), member id: messages with `expires` (purged on every read)
//   P sup:C        zset    score id, member "<id> <id of the message that superseded it>": the update chains'
//                          links; a superseded message leaves msgs, times and unread (ids keeps it)
//   P wd:C         zset    as msgs, for "withdrawn" events: listings without since do not show them
//   P epoch        string  the history's epoch (History::epoch), set once by whichever node comes first
//   P settings     hash    user id -> that user's settings (JSON): quiet hours, minimum priority
// and the pub/sub channel P bus, where append() publishes "<id> <caller's bytes>". Retention deletes a
// message's entries from all of these together, so memory stays bounded by the retention rules. Scripts
// derive some keys from the prefix: a single Redis (or a primary with replicas), not Redis Cluster. Model
// records live beside the history, under the same prefix (records(), see RedisRecords for their keys).
class RedisHistory : public QObject, public History
{
    Q_OBJECT

public:
    RedisHistory(const ServerConfig &config, RedisAddress address,
                 QString keyPrefix = QStringLiteral("herald:"), QObject *parent = nullptr);
    ~RedisHistory() override;

    // Before open(). The defaults: 2 s to connect, 2 s for any one command.
    void setTimeouts(RedisTimeouts timeouts);

    // Connects, checks that Redis answers and loads the scripts. On failure returns false with a one-line
    // errorString(), e.g. "cannot reach Redis at redis://127.0.0.1:6390: Connection refused".
    bool open();
    QString errorString() const { return m_error; }
    // Closes every connection; later calls fail with Unavailable.
    void close();
    // Drops the calling thread's connection (worker threads call this before they end).
    void releaseThreadConnection();
    int threadConnectionCount() const { return m_redis.threadConnectionCount(); }

    // The cluster's model records, on the same connections. Lives as long as this object.
    RedisRecords *records() { return &m_records; }
    // The cluster's client-id claims, on the same connections. Lives as long as this object.
    RedisClaims *claims() { return &m_claims; }
    // The cluster's idempotency keys of publishes, on the same connections. Lives as long as this object.
    RedisIdempotency *idempotency() { return &m_idempotency; }
    // The cluster's scheduled publishes, on the same connections. Lives as long as this object.
    RedisSchedule *schedule() { return &m_schedule; }

    const RedisAddress &address() const { return m_redis.address(); }
    QString keyPrefix() const { return QString::fromUtf8(m_prefix); }
    // The pub/sub channel append() publishes on.
    QByteArray busChannel() const { return m_prefix + "bus"; }

    // Takes the next id of the cluster's sequence, stores the message under it when `persist` (applying the
    // channel's count retention at once), writes `record` if given (the change the message announces) and
    // publishes "<id> <busPayload>" on busChannel(), all in one atomic script. Returns the id. `message.id`
    // is ignored; its timestamp is kept as given. A record whose fence no longer holds the lock is refused
    // (Unavailable) with nothing done. After a timeout (Unavailable) the outcome is unknown: Redis may still
    // run the script once it catches up. The id is above `floor` (the last id the caller has seen), even if
    // Redis lost the sequence. With `scheduled` (the handle of the scheduled publish the message delivers),
    // the script deletes its entry in the same step, and does nothing (Gone) if it is not there
    // (RedisSchedule). With `keyed`, the publish's idempotency key (RedisIdempotency::claim()ed by this
    // node): the script sets it to the answer in the same step; held by anything but this node's claim (a
    // claim that expired and was taken again, or answered), nothing is done (Claimed).
    Result<qint64, StoreError> append(const Message &message, bool persist, const QByteArray &busPayload,
                                      const RecordWrite *record = nullptr, qint64 floor = 0,
                                      const QString &scheduled = {}, const KeyedCommit *keyed = nullptr);
    // The last id handed out (0 before the first).
    Result<qint64, StoreError> lastId();
    // Makes the sequence at least `atLeast` (a node that handed out ids of its own while Redis was away);
    // true if it was lower.
    Result<bool, StoreError> raiseSequence(qint64 atLeast);

    bool isPersistent(const QString &channel) const override;
    // The cluster's epoch as last read from Redis (open(), ensureEpoch()).
    QString epoch() const override;
    // Reads the epoch, first creating one if Redis has none (SET NX: every node ends up with the first one
    // made). None means a new key space, or a Redis that lost its data and with it the history: clients must
    // not take what they hold for part of this one. Returns whether the epoch changed from the one known.
    Result<bool, StoreError> ensureEpoch();
    RetentionRule retentionFor(const QString &channel) const;

    // "From the future" is judged against the Redis sequence, read with the messages: a node's own last id
    // (currentLastId, unused) may lag behind the cluster's.
    Result<Replay, StoreError> replay(const QStringList &channels, qint64 since,
                                      qint64 currentLastId) override;
    Result<Replay, StoreError> planReplay(const QStringList &channels, qint64 since,
                                          qint64 currentLastId) override;
    Result<FramePage, StoreError> replayPage(const QStringList &channels, qint64 after, int maxMessages,
                                             qint64 maxBytes) override;
    Result<StoredPage, StoreError> history(const QString &channel, qint64 since, qint64 before,
                                           int limit) override;
    Result<bool, StoreError> covers(const QString &channel, qint64 since) override;
    Result<qint64, StoreError> unreadCount(const QString &channel) override;
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
    Result<bool, StoreError> knows(const QString &channel) override;
    Result<std::optional<ChainHead>, StoreError> chainHead(qint64 id) override;
    // Applies age and count retention to every known channel; also runs on a timer (pruneInterval).
    Result<qint64, StoreError> prune() override;

Q_SIGNALS:
    void pruned(qint64 deleted);

protected:
    Result<bool, StoreError> markStoredRead(qint64 id, const QString &channel) override;

private:
    QByteArray key(const char *kind, const QString &channel) const;
    QByteArray key(const char *kind) const { return m_prefix + kind; }
    // A channel's keys in the order the scripts take them (RetentionLua's channelAt).
    QByteArrayList channelKeys(const QString &channel) const;
    // The time the scripts judge expiry by (ms): this node's clock.
    static QByteArray nowArg();

    const ServerConfig m_config;
    const QByteArray m_prefix;
    RedisConnection m_redis;
    RedisRecords m_records;
    RedisClaims m_claims;
    RedisIdempotency m_idempotency;
    RedisSchedule m_schedule;
    QString m_error;
    QTimer *m_pruneTimer = nullptr;
    mutable QMutex m_epochMutex;
    QString m_epoch;
};

} // namespace Herald
