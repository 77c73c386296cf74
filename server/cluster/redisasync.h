#pragma once

#include "redisaddress.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QTimer>

#include <functional>

struct redisAsyncContext;
struct redisReply;
class RedisQtAdapter;

namespace Herald {

// One asynchronous Redis connection on the calling thread's event loop, through hiredis's own Qt adapter
// (hiredis/adapters/qt.h). It connects, authenticates, and reconnects with backoff until close(), so a
// Redis restart heals by itself. Used for what must not block: the cluster bus (SUBSCRIBE) and the presence
// heartbeat. Synchronous reads and the publish script go through RedisHistory's blocking connections.
class RedisAsync : public QObject
{
    Q_OBJECT

public:
    // reply is null when the connection went away before the answer came.
    using Callback = std::function<void(const redisReply *reply)>;
    using MessageHandler = std::function<void(const QByteArray &channel, const QByteArray &payload)>;

    RedisAsync(const RedisAddress &address, const QString &name, QObject *parent = nullptr);
    ~RedisAsync() override;

    void open();
    void close();
    bool isConnected() const { return m_connected; }

    // A binary-safe command. False, without calling back, if not connected.
    bool command(const QList<QByteArray> &args, Callback callback = {});
    // Puts the connection in subscribe mode on these channels, again after every reconnect. `subscribed` runs
    // once per (re)connection when Redis confirms the first channel: what was published before it did not
    // reach us.
    void subscribe(const QList<QByteArray> &channels, MessageHandler onMessage,
                   std::function<void()> subscribed);

Q_SIGNALS:
    void connected();
    void disconnected(const QString &reason);

private:
    struct Pending
    {
        RedisAsync *owner;
        Callback callback;
    };
    static void onConnect(const redisAsyncContext *context, int status);
    static void onDisconnect(const redisAsyncContext *context, int status);
    static void onReply(redisAsyncContext *context, void *reply, void *privdata);
    static void onSubscribeReply(redisAsyncContext *context, void *reply, void *privdata);
    void connectNow();
    void lost(const QString &reason);
    // Forgets a context that is about to be freed (by hiredis, or by dropContext()).
    void detach(redisAsyncContext *context);
    // Frees our context now, if there is one.
    void dropContext();
    void releaseAdapter(redisAsyncContext *context);
    void sendSubscribe();
    bool send(const QList<QByteArray> &args, void (*fn)(redisAsyncContext *, void *, void *), void *privdata);

    RedisAddress m_address;
    QString m_name;
    redisAsyncContext *m_context = nullptr;
    RedisQtAdapter *m_adapter = nullptr;
    QTimer m_retry;
    QTimer m_connectTimeout;
    int m_backoffMs = 0;
    bool m_open = false;
    bool m_connected = false;
    QList<QByteArray> m_channels;
    MessageHandler m_onMessage;
    std::function<void()> m_subscribed;
    bool m_confirmed = false;
    bool m_discarding = false;
};

} // namespace Herald
