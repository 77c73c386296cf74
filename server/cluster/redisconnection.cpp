#include "redisconnection.h"

#include "logging.h"

#include <QCryptographicHash>
#include <QThread>

#include <hiredis/hiredis.h>

#include <cerrno>
#include <csignal>
#include <poll.h>
#include <sys/time.h>
#include <vector>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
using Error = StoreError;

timeval toTimeval(std::chrono::milliseconds ms)
{
    const auto count = std::max<qint64>(1, ms.count());
    return timeval{time_t(count / 1000), suseconds_t((count % 1000) * 1000)};
}

redisReply *run(redisContext *context, const QByteArrayList &args)
{
    RedisArgv command(args);
    return static_cast<redisReply *>(
        redisCommandArgv(context, command.count(), command.argv.data(), command.lengths.data()));
}

QString replyText(const redisReply *reply)
{
    return QString::fromUtf8(reply->str, qsizetype(reply->len));
}

// The server closed the connection (a restart, a timeout of its own) while the thread was not looking: the
// socket reads as ready. A healthy idle connection has nothing to read; Redis never sends unasked.
bool isStale(const redisContext *context)
{
    pollfd p{context->fd, POLLIN, 0};
    const int n = ::poll(&p, 1, 0);
    return n > 0 || (n < 0 && errno != EINTR);
}

// hiredis writes with write(): a Redis that went away must not kill the process with SIGPIPE. The server
// ignores it already (SignalWatcher); anything else that uses this class (tests, tools) gets the same.
void ignoreSigpipe()
{
    struct sigaction current = {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
        ::signal(SIGPIPE, SIG_IGN);
}
} // namespace

void RedisReplyDeleter::operator()(redisReply *reply) const
{
    if (reply)
        freeReplyObject(reply);
}

QByteArray redisBytes(const redisReply *reply)
{
    if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS)
        return QByteArray(reply->str, qsizetype(reply->len));
    if (reply->type == REDIS_REPLY_INTEGER)
        return QByteArray::number(reply->integer);
    return {};
}

std::optional<qint64> redisInteger(const redisReply *reply)
{
    if (reply->type == REDIS_REPLY_INTEGER)
        return qint64(reply->integer);
    if (reply->type == REDIS_REPLY_NIL)
        return qint64(0);
    if (reply->type == REDIS_REPLY_STRING) {
        bool ok = false;
        const qint64 v = redisBytes(reply).toLongLong(&ok);
        if (ok)
            return v;
        // A score (times) may be written as a double.
        const double d = redisBytes(reply).toDouble(&ok);
        if (ok)
            return qint64(d);
    }
    return std::nullopt;
}

StoreError unexpectedRedisReply(const char *what)
{
    const StoreError e{Error::Kind::Unavailable,
                       u"unexpected reply from Redis to %1"_s.arg(QLatin1StringView(what))};
    qCWarning(lcRedis).noquote() << e.message;
    return e;
}

RedisScript::RedisScript(QByteArray source)
    : m_source(std::move(source))
    , m_sha1(QCryptographicHash::hash(m_source, QCryptographicHash::Sha1).toHex())
{}

struct RedisConnection::Link
{
    redisContext *context = nullptr;
    Link() = default;
    Link(const Link &) = delete;
    Link &operator=(const Link &) = delete;
    ~Link()
    {
        if (context)
            redisFree(context);
    }
};

RedisConnection::RedisConnection(RedisAddress address, Timeouts timeouts)
    : m_address(std::move(address))
    , m_timeouts(timeouts)
{}

RedisConnection::~RedisConnection()
{
    close();
}

void RedisConnection::setTimeouts(Timeouts timeouts)
{
    QMutexLocker lock(&m_mutex);
    m_timeouts = timeouts;
}

RedisConnection::Timeouts RedisConnection::timeouts() const
{
    QMutexLocker lock(&m_mutex);
    return m_timeouts;
}

Result<bool, StoreError> RedisConnection::open()
{
    ignoreSigpipe();
    {
        QMutexLocker lock(&m_mutex);
        m_closed = false;
    }
    m_opening = true;
    auto pong = command({"PING"});
    m_opening = false;
    if (!pong)
        return Result<bool, StoreError>::failure(pong.error());
    return true;
}

void RedisConnection::close()
{
    QHash<Qt::HANDLE, std::shared_ptr<Link>> links;
    {
        QMutexLocker lock(&m_mutex);
        m_closed = true;
        links.swap(m_links);
    }
    // Freed here, outside the lock, unless a call on another thread still holds its link.
}

void RedisConnection::releaseThreadConnection()
{
    std::shared_ptr<Link> mine;
    QMutexLocker lock(&m_mutex);
    mine = m_links.take(QThread::currentThreadId());
}

int RedisConnection::threadConnectionCount() const
{
    QMutexLocker lock(&m_mutex);
    return int(m_links.size());
}

std::shared_ptr<RedisConnection::Link> RedisConnection::link(StoreError *error)
{
    const Qt::HANDLE self = QThread::currentThreadId();
    std::shared_ptr<Link> stale;
    {
        QMutexLocker lock(&m_mutex);
        if (m_closed) {
            *error = {Error::Kind::Unavailable, u"the Redis connection is closed"_s};
            return {};
        }
        // A thread that ended without releasing and a new one with the same id: the context is only ever
        // used by one thread at a time, so the new thread may simply carry on with it.
        if (auto it = m_links.find(self); it != m_links.end()) {
            if (!isStale((*it)->context))
                return *it;
            qCInfo(lcRedis).noquote()
                << "Redis at" << m_address.toString() << "closed the connection; reconnecting";
            stale = m_links.take(self);
        }
    }
    // Connecting may take up to the connect timeout: not under the lock, other threads carry on.
    std::shared_ptr<Link> fresh = connect(error);
    if (!fresh)
        return {};
    QMutexLocker lock(&m_mutex);
    if (m_closed) {
        *error = {Error::Kind::Unavailable, u"the Redis connection is closed"_s};
        return {};
    }
    m_links.insert(self, fresh);
    return fresh;
}

std::shared_ptr<RedisConnection::Link> RedisConnection::connect(StoreError *error) const
{
    const Timeouts t = timeouts();
    auto link = std::make_shared<Link>();
    link->context =
        redisConnectWithTimeout(m_address.host.toUtf8().constData(), m_address.port, toTimeval(t.connect));
    const QString where = m_address.toString();
    if (!link->context || link->context->err) {
        const QString why =
            link->context ? QString::fromLocal8Bit(link->context->errstr) : u"out of memory"_s;
        *error = {Error::Kind::Unavailable, u"cannot reach Redis at %1: %2"_s.arg(where, why)};
        warn(error->message);
        return {};
    }
    const timeval commandTimeout = toTimeval(t.command);
    redisSetTimeout(link->context, commandTimeout);
    redisEnableKeepAlive(link->context);

    auto setUp = [&](const QByteArrayList &args, const QString &what) {
        RedisReply reply(run(link->context, args));
        if (!reply) {
            *error = {Error::Kind::Unavailable, u"cannot reach Redis at %1: %2"_s.arg(
                                                    where, QString::fromLocal8Bit(link->context->errstr))};
        } else if (reply->type == REDIS_REPLY_ERROR) {
            *error = {Error::Kind::Unavailable,
                      u"Redis at %1 %2: %3"_s.arg(where, what, replyText(reply.get()))};
        } else {
            return true;
        }
        warn(error->message);
        return false;
    };
    if (!m_address.password.isEmpty()) {
        QByteArrayList auth{"AUTH"};
        if (!m_address.user.isEmpty())
            auth.append(m_address.user.toUtf8());
        auth.append(m_address.password.toUtf8());
        if (!setUp(auth, u"refused the credentials"_s))
            return {};
    }
    if (m_address.db != 0 && !setUp({"SELECT", QByteArray::number(m_address.db)},
                                    u"cannot select database %1"_s.arg(m_address.db)))
        return {};
    return link;
}

void RedisConnection::drop(const std::shared_ptr<Link> &link)
{
    std::shared_ptr<Link> mine;
    QMutexLocker lock(&m_mutex);
    auto it = m_links.find(QThread::currentThreadId());
    if (it != m_links.end() && *it == link)
        mine = m_links.take(it.key());
}

Result<RedisReply, StoreError> RedisConnection::exchange(const QByteArrayList &args)
{
    using R = Result<RedisReply, StoreError>;
    StoreError error;
    std::shared_ptr<Link> l = link(&error);
    if (!l)
        return R::failure(error);
    errno = 0;
    RedisReply reply(run(l->context, args));
    if (reply)
        return R(std::move(reply));
    // The connection is no good any more (a reply may still be on its way): the next call connects anew.
    const int savedErrno = errno;
    const QString where = m_address.toString();
    const redisContext *c = l->context;
    if (c->err == REDIS_ERR_IO && (savedErrno == EAGAIN || savedErrno == EWOULDBLOCK)) {
        error.message =
            u"Redis at %1 did not answer within %2 ms"_s.arg(where).arg(timeouts().command.count());
    } else if (c->err == REDIS_ERR_EOF) {
        error.message = u"Redis at %1 closed the connection"_s.arg(where);
    } else {
        error.message =
            u"lost the connection to Redis at %1: %2"_s.arg(where, QString::fromLocal8Bit(c->errstr));
    }
    error.kind = Error::Kind::Unavailable;
    error.answerLost = true;
    warn(error.message);
    drop(l);
    return R::failure(error);
}

void RedisConnection::warn(const QString &message) const
{
    if (!m_opening)
        qCWarning(lcRedis).noquote() << message;
}

StoreError RedisConnection::replyError(const redisReply *reply) const
{
    const QString text = replyText(reply);
    // maxmemory reached (with the noeviction policy): the write is refused, like a full disk.
    if (text.startsWith(u"OOM "_s))
        return {Error::Kind::Full, u"Redis at %1 is full (maxmemory): %2"_s.arg(m_address.toString(), text)};
    return {Error::Kind::Unavailable, u"Redis at %1: %2"_s.arg(m_address.toString(), text)};
}

Result<RedisReply, StoreError> RedisConnection::command(const QByteArrayList &args)
{
    using R = Result<RedisReply, StoreError>;
    auto reply = exchange(args);
    if (!reply)
        return reply;
    if (reply.value()->type == REDIS_REPLY_ERROR) {
        const StoreError e = replyError(reply.value().get());
        warn(e.message);
        return R::failure(e);
    }
    return reply;
}

Result<bool, StoreError> RedisConnection::load(const RedisScript &script)
{
    using R = Result<bool, StoreError>;
    auto reply = command({"SCRIPT", "LOAD", script.source()});
    if (!reply)
        return R::failure(reply.error());
    const redisReply *r = reply.value().get();
    if (r->type != REDIS_REPLY_STRING || QByteArray(r->str, qsizetype(r->len)) != script.sha1())
        return R::failure({Error::Kind::Unavailable,
                           u"Redis at %1 did not load a script as expected"_s.arg(m_address.toString())});
    return true;
}

Result<RedisReply, StoreError> RedisConnection::eval(const RedisScript &script, const QByteArrayList &keys,
                                                     const QByteArrayList &args)
{
    using R = Result<RedisReply, StoreError>;
    QByteArrayList argv{"EVALSHA", script.sha1(), QByteArray::number(keys.size())};
    argv += keys;
    argv += args;
    auto reply = exchange(argv);
    if (reply && reply.value()->type == REDIS_REPLY_ERROR &&
        replyText(reply.value().get()).startsWith(u"NOSCRIPT"_s)) {
        qCInfo(lcRedis).noquote() << "Redis at" << m_address.toString()
                                  << "lost its scripts (restarted?); loading them again";
        if (auto loaded = load(script); !loaded)
            return R::failure(loaded.error());
        reply = exchange(argv);
    }
    if (!reply)
        return reply;
    if (reply.value()->type == REDIS_REPLY_ERROR) {
        const StoreError e = replyError(reply.value().get());
        qCWarning(lcRedis).noquote() << e.message;
        return R::failure(e);
    }
    return reply;
}

} // namespace Herald
