#pragma once

#include "message.h"
#include "result.h"
#include "serverconfig.h"

#include <QDateTime>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace Herald {

// Why the store refused: the HTTP API answers 503 for both, a WebSocket publisher gets an "unavailable"
// error.
struct StoreError
{
    enum class Kind
    {
        Unavailable, // locked, I/O error, closed, Redis unreachable
        Full,        // disk or --max-db-size (SQLite), maxmemory (Redis)
        // A write reached the store but its answer never came back (Redis timed out or went away): it may
        // have happened. Redis publishes are retried once first, so this means Redis stayed away.
        Unknown,
        // A publish that supersedes a message (replaces, withdraws) found it superseded meanwhile by another:
        // nothing was done; the publisher resolves the chain again (Publisher::resolveReplaces).
        Stale,
        // A scheduled publish's entry was no longer there (cancelled, or delivered by another node): the
        // commit that was to remove it wrote nothing.
        Gone,
        // A keyed publish found its idempotency key held by another publish (on a cluster, a claim that
        // outlived its TTL and was taken by a retry, or answered by it): nothing was published.
        Claimed,
    };
    Kind kind = Kind::Unavailable;
    QString message;
    bool answerLost = false; // the request was sent, the answer never came (a timeout, a lost connection)
};

// A page of stored messages, oldest first.
struct StoredPage
{
    QList<Message> messages;
    QList<bool> read;     // per message, for user queues
    bool hasMore = false; // more in the direction of the query (older without since, newer with it)
};

// A stored message as a catch-up sends it: its JSON as the live frame carried it, and what a session needs to
// frame it (SSE names its event by type), so a catch-up neither parses nor encodes it again. Parsing and
// encoding were three quarters of a catch-up's CPU (bench/README.md, "Catch-up").
struct StoredFrame
{
    qint64 id = 0;
    QString channel;
    QString type;
    QByteArray json;
};

// A page of StoredFrames, oldest first.
struct FramePage
{
    QList<StoredFrame> frames;
    bool hasMore = false; // more after the last of them
};

// Why a resume could not send everything after the client's id. Wire names (replayGapName) are append only.
enum class ReplayGap
{
    None,        // recovered
    Reset,       // the id is from another history (ahead of this one, or another epoch): nothing is replayed
    Expired,     // retention deleted messages after it (or, without a store, they were never kept)
    Limit,       // more than --replay-limit: only the newest are sent
    Unavailable, // the store could not be read (SSE; a WebSocket gets an error frame instead)
};
// "reset", "expired", "limit", "unavailable"; empty for None.
QString replayGapName(ReplayGap gap);

// What a resume can send: the stored messages after the client's id on its channels, and whether they are all
// of them (false when retention deleted some, the replay limit cut it, or the id is from the future: `gap`
// says which).
struct Replay
{
    QList<Message> messages;
    bool recovered = true;
    ReplayGap gap = ReplayGap::None;
    // A plan (History::planReplay) holds no messages: `count` of them (at most the replay limit), those after
    // `after` up to the hub's id when planned, to be read with replayPage().
    qint64 count = 0;
    qint64 after = 0;
    // The hub's last id when planned (Session::fetchReplay): everything up to it is in the replay or was lost
    // as the gap says, and a later id arrives live. The notice's `last_id`, where a client may move its
    // position once the replay is through; a second read of the hub's id would name messages still to come
    // live.
    qint64 upTo = 0;

    // Not recovered, for this reason. With several, the one listed first in ReplayGap is reported: a reset
    // explains everything, and a gap left by retention is older than one left by the limit.
    void lose(ReplayGap why)
    {
        recovered = false;
        if (gap == ReplayGap::None || int(why) < int(gap))
            gap = why;
    }
};

// The latest message of an update chain (replaces), the channel it is on, and the chain's first message
// (the head's own `chain` if it is an update, else its id): what updates and withdrawals carry as `chain`.
struct ChainHead
{
    qint64 id = 0;
    QString channel;
    qint64 chain = 0;
};

struct StoredChannel
{
    QString name;
    qint64 messages = 0;
    qint64 lastId = 0;
    QDateTime lastMessageAt;
};

// Which channels are stored, and for how long: the same rules for SQLite and Redis.
bool isPersistentChannel(const ServerConfig &config, const QString &channel);
RetentionRule retentionRuleFor(const ServerConfig &config, const QString &channel);

// The read side of message history, the read marks of user queues and their users' settings. Store (SQLite,
// one node) and RedisHistory (a cluster, --redis) implement it; the hub, the REST API and resuming sessions
// only see this. Thread-safe: workers call in from their own threads.
class History
{
public:
    virtual ~History() = default;

    virtual bool isPersistent(const QString &channel) const = 0;
    // The history's epoch: a random id made once when the history was created (a new data dir, a new Redis
    // key space) and kept with it. Ids are only comparable within one epoch: a client that holds ids of
    // another epoch must start over (Replay's Reset). Thread-safe.
    virtual QString epoch() const = 0;

    // Stored messages on these channels with id > since, oldest first, at most the replay limit (the newest
    // of them when there are more: recovered is then false). A since beyond the history's last id is a Reset:
    // nothing is read, as those ids are from another history.
    virtual Result<Replay, StoreError> replay(const QStringList &channels, qint64 since,
                                              qint64 currentLastId) = 0;
    // replay() without reading the messages, for a resume read in pages: the same verdict, how many of them
    // there are up to currentLastId (at most the limit), and the id after which they start (`since`, or past
    // the limit the id just before the newest limit of them).
    virtual Result<Replay, StoreError> planReplay(const QStringList &channels, qint64 since,
                                                  qint64 currentLastId) = 0;
    // The stored messages on these channels with id > after, oldest first: at most maxMessages, and no more
    // once maxBytes of payload are read (at least one). hasMore: the page stopped before the newest.
    virtual Result<FramePage, StoreError> replayPage(const QStringList &channels, qint64 after,
                                                     int maxMessages, qint64 maxBytes) = 0;
    // One channel's history: with since, the oldest limit after it; else the newest limit before `before`
    // (0 = no bound). Both oldest first.
    virtual Result<StoredPage, StoreError> history(const QString &channel, qint64 since, qint64 before,
                                                   int limit) = 0;
    // Whether history after `since` on the channel is complete (retention has not deleted any of it).
    virtual Result<bool, StoreError> covers(const QString &channel, qint64 since) = 0;
    virtual Result<qint64, StoreError> unreadCount(const QString &channel) = 0;
    // The channel a stored message is on, if it is stored.
    virtual Result<std::optional<QString>, StoreError> channelOf(qint64 id) = 0;
    // Marks one message read; returns false if it is not stored on a user channel.
    Result<bool, StoreError> markRead(qint64 id, QString *channel = nullptr);
    virtual Result<qint64, StoreError> markAllRead(const QString &channel) = 0;
    // Marks the user queue's messages with id <= upTo read; returns how many were unread.
    virtual Result<qint64, StoreError> markReadUpTo(const QString &channel, qint64 upTo) = 0;
    // Marks these messages of the user queue read (or unread); returns those of them stored on it, in the
    // order given, whether or not their mark changed. Ids on other channels, or not stored, are left alone.
    virtual Result<QList<qint64>, StoreError> setRead(const QString &channel, const QList<qint64> &ids,
                                                      bool read) = 0;
    // Deletes these messages from the user queue; returns those it deleted, in the order given. Not
    // retention: a resume from before them is still recovered, it just no longer sees them.
    virtual Result<QList<qint64>, StoreError> removeFromQueue(const QString &channel,
                                                              const QList<qint64> &ids) = 0;
    // A user's settings (quiet hours, minimum priority) as the JSON object they were saved as; empty if the
    // user has none.
    virtual Result<QByteArray, StoreError> userSettings(const QString &userId) = 0;
    virtual Result<bool, StoreError> saveUserSettings(const QString &userId, const QByteArray &json) = 0;
    virtual Result<QList<StoredChannel>, StoreError> channels() = 0;
    // Up to `limit` stored channels named after `after` (from the first if empty), in name order: one page of
    // /api/channels. The base reads them all; a store that can page in its index overrides it.
    virtual Result<QList<StoredChannel>, StoreError> channels(const QString &after, int limit);
    // True if the channel has, or had, stored messages.
    virtual Result<bool, StoreError> knows(const QString &channel) = 0;
    // Applies retention now, and deletes expired messages; returns how many messages were deleted.
    virtual Result<qint64, StoreError> prune() = 0;
    // The chain's current latest message for any id of it (the id itself if nothing replaced it); none when
    // the id is unknown, or the chain's latest message expired or was withdrawn.
    virtual Result<std::optional<ChainHead>, StoreError> chainHead(qint64 id) = 0;

    // What the listings hide (docs/protocol.md, "Expiry", "Updates and withdrawals"): expired messages and
    // superseded ones (replaced by an update, or withdrawn) everywhere; "withdrawn" events everywhere but
    // in reads with since (a resume, ?since=), which is how an offline client learns of a withdrawal.
    static constexpr QStringView WithdrawnType = u"withdrawn";

protected:
    // markRead() once it found the message stored on `channel`, a user queue.
    virtual Result<bool, StoreError> markStoredRead(qint64 id, const QString &channel) = 0;
};

} // namespace Herald
