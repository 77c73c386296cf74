#include "redisasync.h"

#include "logging.h"
#include "redisconnection.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <QtGlobal>

#include <vector>

// hiredis's Qt adapter is a header with a Q_OBJECT class; server/CMakeLists.txt runs moc on it.
#include <hiredis/adapters/qt.h>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
constexpr int FirstRetryMs = 250;
constexpr int MaxRetryMs = 5000;
// hiredis 0.14 has no timeout for an asynchronous connect: an unreachable host would hang for minutes.
constexpr int ConnectTimeoutMs = 3000;

RedisAsync *ownerOf(const redisAsyncContext *context)
{
    return static_cast<RedisAsync *>(context->data);
}
} // namespace

RedisAsync::RedisAsync(const RedisAddress &address, const QString &name, QObject *parent)
    : QObject(parent)
    , m_address(address)
    , m_name(name)
{
    m_retry.setSingleShot(true);
    connect(&m_retry, &QTimer::timeout, this, &RedisAsync::connectNow);
    m_connectTimeout.setSingleShot(true);
    m_connectTimeout.setInterval(ConnectTimeoutMs);
    connect(&m_connectTimeout, &QTimer::timeout, this, [this] { lost(u"connect timed out"_s); });
}

RedisAsync::~RedisAsync()
{
    close();
}

void RedisAsync::open()
{
    m_open = true;
    m_backoffMs = 0;
    if (!m_context)
        connectNow();
}

void RedisAsync::close()
{
    m_open = false;
    m_retry.stop();
    m_connectTimeout.stop();
    dropContext();
    m_connected = false;
}

void RedisAsync::detach(redisAsyncContext *context)
{
    m_context = nullptr;
    releaseAdapter(context);
    context->data = nullptr; // callbacks hiredis still runs for it no longer reach us
}

void RedisAsync::dropContext()
{
    if (!m_context)
        return;
    redisAsyncContext *context = m_context;
    detach(context);
    // hiredis answers every pending command with a null reply while it frees: nobody is waiting any more.
    m_discarding = true;
    redisAsyncFree(context);
    m_discarding = false;
}

void RedisAsync::connectNow()
{
    if (!m_open || m_context)
        return;
    redisAsyncContext *context = redisAsyncConnect(m_address.host.toUtf8().constData(), m_address.port);
    if (!context || context->err) {
        const QString why = context ? QString::fromUtf8(context->errstr) : u"out of memory"_s;
        if (context)
            redisAsyncFree(context);
        lost(why);
        return;
    }
    context->data = this;
    m_context = context;
    m_adapter = new RedisQtAdapter(this);
    m_adapter->setContext(context);
    redisAsyncSetConnectCallback(context, &RedisAsync::onConnect);
    redisAsyncSetDisconnectCallback(context, &RedisAsync::onDisconnect);
    m_connectTimeout.start();
}

void RedisAsync::releaseAdapter(redisAsyncContext *context)
{
    // The adapter's destructor writes to its context, and hiredis calls the adapter's cleanup hook when it
    // frees the context: run that hook now, unhook the adapter, then delete it while the context is alive.
    if (!m_adapter)
        return;
    if (context && context->ev.data == m_adapter) {
        if (context->ev.cleanup)
            context->ev.cleanup(context->ev.data);
        context->ev.addRead = nullptr;
        context->ev.delRead = nullptr;
        context->ev.addWrite = nullptr;
        context->ev.delWrite = nullptr;
        context->ev.cleanup = nullptr;
    }
    delete m_adapter;
    m_adapter = nullptr;
}

void RedisAsync::onConnect(const redisAsyncContext *context, int status)
{
    RedisAsync *self = ownerOf(context);
    if (!self)
        return;
    self->m_connectTimeout.stop();
    if (status != REDIS_OK) {
        // hiredis frees the context after this returns.
        const QString why = QString::fromUtf8(context->errstr);
        self->detach(const_cast<redisAsyncContext *>(context));
        self->lost(why);
        return;
    }
    self->m_connected = true;
    self->m_backoffMs = 0;
    if (!self->m_address.password.isEmpty()) {
        QList<QByteArray> auth{"AUTH"};
        if (!self->m_address.user.isEmpty())
            auth.append(self->m_address.user.toUtf8());
        auth.append(self->m_address.password.toUtf8());
        self->command(auth, [name = self->m_name](const redisReply *r) {
            if (r && r->type == REDIS_REPLY_ERROR)
                qCWarning(lcCluster).noquote()
                    << name << "AUTH refused:" << QString::fromUtf8(r->str, r->len);
        });
    }
    if (self->m_address.db != 0)
        self->command({"SELECT", QByteArray::number(self->m_address.db)});
    qCInfo(lcCluster).noquote() << self->m_name << "connected to" << self->m_address.toString();
    if (!self->m_channels.isEmpty())
        self->sendSubscribe();
    Q_EMIT self->connected();
}

void RedisAsync::onDisconnect(const redisAsyncContext *context, int status)
{
    Q_UNUSED(status);
    RedisAsync *self = ownerOf(context);
    if (!self)
        return;
    // hiredis frees the context after this returns.
    const QString why = context->err ? QString::fromUtf8(context->errstr) : u"connection closed"_s;
    self->detach(const_cast<redisAsyncContext *>(context));
    self->lost(why);
}

void RedisAsync::lost(const QString &reason)
{
    m_connectTimeout.stop();
    dropContext(); // a connect that timed out: hiredis did not free it (a callback that lost it did detach
                   // it)
    const bool wasConnected = m_connected;
    m_connected = false;
    m_confirmed = false;
    if (!m_open)
        return;
    m_backoffMs = m_backoffMs == 0 ? FirstRetryMs : qMin(m_backoffMs * 2, MaxRetryMs);
    if (wasConnected)
        qCWarning(lcCluster).noquote()
            << u"%1 lost Redis at %2 (%3); reconnecting"_s.arg(m_name, m_address.toString(), reason);
    else
        qCDebug(lcCluster).noquote() << u"%1 cannot reach Redis at %2: %3; retry in %4 ms"_s.arg(
            m_name, m_address.toString(), reason, QString::number(m_backoffMs));
    m_retry.start(m_backoffMs);
    if (wasConnected)
        Q_EMIT disconnected(reason);
}

bool RedisAsync::send(const QList<QByteArray> &args, void (*fn)(redisAsyncContext *, void *, void *),
                      void *privdata)
{
    if (!m_context || !m_connected)
        return false;
    RedisArgv command(args);
    return redisAsyncCommandArgv(m_context, fn, privdata, command.count(), command.argv.data(),
                                 command.lengths.data()) == REDIS_OK;
}

bool RedisAsync::command(const QList<QByteArray> &args, Callback callback)
{
    auto *pending = new Pending{this, std::move(callback)};
    if (!send(args, &RedisAsync::onReply, pending)) {
        delete pending;
        return false;
    }
    return true;
}

void RedisAsync::onReply(redisAsyncContext *context, void *reply, void *privdata)
{
    Q_UNUSED(context);
    auto *pending = static_cast<Pending *>(privdata);
    if (pending->callback && !pending->owner->m_discarding)
        pending->callback(static_cast<const redisReply *>(reply));
    delete pending;
}

void RedisAsync::subscribe(const QList<QByteArray> &channels, MessageHandler onMessage,
                           std::function<void()> subscribed)
{
    m_channels = channels;
    m_onMessage = std::move(onMessage);
    m_subscribed = std::move(subscribed);
    if (m_connected)
        sendSubscribe();
}

void RedisAsync::sendSubscribe()
{
    m_confirmed = false;
    QList<QByteArray> args{"SUBSCRIBE"};
    args.append(m_channels);
    // privdata is this object, not a Pending: hiredis keeps calling this callback for every message.
    send(args, &RedisAsync::onSubscribeReply, this);
}

void RedisAsync::onSubscribeReply(redisAsyncContext *context, void *reply, void *privdata)
{
    Q_UNUSED(context);
    auto *self = static_cast<RedisAsync *>(privdata);
    const auto *r = static_cast<const redisReply *>(reply);
    if (!self || !r || r->type != REDIS_REPLY_ARRAY || r->elements < 3)
        return;
    const redisReply *kind = r->element[0];
    if (kind->type != REDIS_REPLY_STRING)
        return;
    const QByteArrayView k(kind->str, qsizetype(kind->len));
    if (k == "message") {
        const redisReply *channel = r->element[1];
        const redisReply *payload = r->element[2];
        if (self->m_onMessage && channel->type == REDIS_REPLY_STRING && payload->type == REDIS_REPLY_STRING)
            self->m_onMessage(redisBytes(channel), redisBytes(payload));
    } else if (k == "subscribe" && !self->m_confirmed) {
        self->m_confirmed = true;
        if (self->m_subscribed)
            self->m_subscribed();
    }
}

} // namespace Herald
