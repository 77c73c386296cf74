#pragma once

#include "history.h"
#include "redisaddress.h"
#include "result.h"

#include <QByteArray>
#include <QByteArrayList>
#include <QHash>
#include <QMutex>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

struct redisReply;

namespace Herald {

// A command in hiredis's argv form (binary-safe): pointers into `args`, which must outlive it.
struct RedisArgv
{
    explicit RedisArgv(const QByteArrayList &args)
    {
        argv.reserve(size_t(args.size()));
        lengths.reserve(size_t(args.size()));
        for (const QByteArray &a : args) {
            argv.push_back(a.constData());
            lengths.push_back(size_t(a.size()));
        }
    }
    int count() const { return int(argv.size()); }
    std::vector<const char *> argv;
    std::vector<size_t> lengths;
};

struct RedisReplyDeleter
{
    void operator()(redisReply *reply) const;
};
// A hiredis reply, freed (with everything nested in it) when it goes.
using RedisReply = std::unique_ptr<redisReply, RedisReplyDeleter>;

// A reply's bytes: a string or status, an integer in decimal; empty for anything else.
QByteArray redisBytes(const redisReply *reply);
// Integers come as integers or as decimal strings (Lua, GET); a missing value (nil) is 0.
std::optional<qint64> redisInteger(const redisReply *reply);
// The error for a reply of the wrong shape (logged): Unavailable, naming the request.
StoreError unexpectedRedisReply(const char *what);

// A Lua script run by EVALSHA; its SHA-1 is known up front, so a script cache emptied by a Redis restart is
// noticed (NOSCRIPT) and refilled without asking anyone.
class RedisScript
{
public:
    explicit RedisScript(QByteArray source);
    const QByteArray &source() const { return m_source; }
    const QByteArray &sha1() const { return m_sha1; } // lower-case hex, as SCRIPT LOAD answers

private:
    QByteArray m_source;
    QByteArray m_sha1;
};

// The script made of these sources, joined in order: one object per combination, built on first use. Each
// source is a constexpr char array (what a template argument can name).
template<const char *...Sources>
const RedisScript &redisScript()
{
    static const RedisScript script{[] {
        QByteArray source;
        (source.append(Sources), ...);
        return source;
    }()};
    return script;
}

struct RedisTimeouts
{
    std::chrono::milliseconds connect{2000};
    std::chrono::milliseconds command{2000};
};

// Blocking access to one Redis, for worker threads: each calling thread gets its own hiredis context (a
// context is not thread-safe), opened on first use, like Store's per-thread SQLite connections. Every call
// is bounded by the command timeout. A connection the server closed (Redis restarted) is noticed before it is
// used and replaced; one that fails mid-call (an I/O error, a timeout) fails that call and is dropped, and
// the thread's next call connects again. So Redis coming back heals Herald without a restart. Errors are
// StoreErrors: Full when Redis is at maxmemory (an OOM error), Unavailable for everything else.
class RedisConnection
{
public:
    using Timeouts = RedisTimeouts;

    explicit RedisConnection(RedisAddress address, Timeouts timeouts = {});
    ~RedisConnection();
    RedisConnection(const RedisConnection &) = delete;
    RedisConnection &operator=(const RedisConnection &) = delete;

    const RedisAddress &address() const { return m_address; }
    // Before open(): later connections use the new values.
    void setTimeouts(Timeouts timeouts);
    Timeouts timeouts() const;

    // Allows connections and checks that this thread can connect and that Redis answers PING.
    Result<bool, StoreError> open();
    // Closes every thread's connection; later calls fail with Unavailable until open() again. A call in
    // progress on another thread finishes on its own connection, which is freed after it.
    void close();
    // Drops the calling thread's connection (worker threads call this before they end).
    void releaseThreadConnection();
    int threadConnectionCount() const;

    // One command with binary-safe arguments. An error reply is a failure too.
    Result<RedisReply, StoreError> command(const QByteArrayList &args);
    Result<bool, StoreError> load(const RedisScript &script);
    // EVALSHA; on NOSCRIPT (a restarted Redis forgot its scripts) loads the script and runs it once more.
    Result<RedisReply, StoreError> eval(const RedisScript &script, const QByteArrayList &keys,
                                        const QByteArrayList &args);

private:
    struct Link;
    std::shared_ptr<Link> link(StoreError *error);
    std::shared_ptr<Link> connect(StoreError *error) const;
    void drop(const std::shared_ptr<Link> &link);
    // The reply, error replies included; a failure only when the connection broke.
    Result<RedisReply, StoreError> exchange(const QByteArrayList &args);
    StoreError replyError(const redisReply *reply) const;
    // Logs a failure, except one of open()'s: open() hands it to its caller, who reports it (at start-up, the
    // one line herald-server prints), so logging it too would say it twice.
    void warn(const QString &message) const;

    const RedisAddress m_address;
    Timeouts m_timeouts;
    mutable QMutex m_mutex;
    QHash<Qt::HANDLE, std::shared_ptr<Link>> m_links;
    bool m_closed = true;
    std::atomic<bool> m_opening{false};
};

} // namespace Herald
