#pragma once

// A real redis-server for a test: loopback, a free port, its own temporary directory, no snapshots and no
// append-only file unless the test asks for them. Stopped (SIGTERM, then SIGKILL) when it goes.

#include <QByteArrayList>
#include <QDeadlineTimer>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QProcess>
#include <QStringList>
#include <QTcpServer>
#include <QTemporaryDir>

#include <hiredis/hiredis.h>

#include <csignal>
#include <memory>
#include <optional>
#include <sys/time.h>
#include <vector>

namespace HeraldTest {

struct RedisContextDeleter
{
    void operator()(redisContext *c) const
    {
        if (c)
            redisFree(c);
    }
};
using RedisContext = std::unique_ptr<redisContext, RedisContextDeleter>;

class RedisServer
{
public:
    // CI installs it (scripts/herald): a missing server is a failure, not a skip.
    static QString binary() { return QStringLiteral("/usr/bin/redis-server"); }

    // `extraArgs` come after the defaults and so override them, e.g. {"--appendonly", "yes"}.
    explicit RedisServer(QStringList extraArgs = {})
        : m_extraArgs(std::move(extraArgs))
    {}
    ~RedisServer() { stop(); }
    RedisServer(const RedisServer &) = delete;
    RedisServer &operator=(const RedisServer &) = delete;

    // Starts on a free port and waits until it answers (PING). False with errorString() if it does not.
    bool start()
    {
        if (!QFileInfo(binary()).isExecutable()) {
            m_error = QStringLiteral("%1 is missing: install the redis-server package (scripts/herald does)")
                          .arg(binary());
            return false;
        }
        if (!m_dir.isValid()) {
            m_error = QStringLiteral("no temporary directory for redis-server");
            return false;
        }
        // A port found free may be taken before redis-server binds it: then try another.
        for (int attempt = 0; attempt < 3; ++attempt) {
            m_port = freePort();
            if (m_port != 0 && launch())
                return true;
        }
        return false;
    }
    // Stops and starts again on the same port and directory (with --appendonly yes, the data survives).
    bool restart()
    {
        stop();
        return launch();
    }
    void stop()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        resume();
        m_process.terminate();
        if (!m_process.waitForFinished(10000)) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
    }
    qint64 processId() const { return m_process.processId(); }
    // SIGSTOP: the server keeps its socket but answers nothing (a hung Redis). resume() undoes it.
    bool pause()
    {
        m_paused =
            m_process.state() == QProcess::Running && ::kill(pid_t(m_process.processId()), SIGSTOP) == 0;
        return m_paused;
    }
    void resume()
    {
        if (m_paused && m_process.state() == QProcess::Running)
            ::kill(pid_t(m_process.processId()), SIGCONT);
        m_paused = false;
    }

    bool isRunning() const { return m_process.state() == QProcess::Running; }
    quint16 port() const { return m_port; }
    QString url() const { return QStringLiteral("redis://127.0.0.1:%1").arg(m_port); }
    QString errorString() const { return m_error; }

    // A connection of the test's own, e.g. to subscribe. Null if it cannot connect.
    RedisContext connect(int timeoutMs = 5000) const
    {
        const timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
        RedisContext c(redisConnectWithTimeout("127.0.0.1", m_port, tv));
        if (!c || c->err)
            return nullptr;
        redisSetTimeout(c.get(), tv);
        return c;
    }
    // One command on a fresh connection: the reply as text (an error reply too), nullopt if none came.
    std::optional<QByteArray> command(const QByteArrayList &args) const
    {
        RedisContext c = connect();
        if (!c)
            return std::nullopt;
        return commandOn(c.get(), args);
    }
    static std::optional<QByteArray> commandOn(redisContext *c, const QByteArrayList &args)
    {
        std::vector<const char *> argv;
        std::vector<size_t> lengths;
        for (const QByteArray &a : args) {
            argv.push_back(a.constData());
            lengths.push_back(size_t(a.size()));
        }
        auto *reply =
            static_cast<redisReply *>(redisCommandArgv(c, int(argv.size()), argv.data(), lengths.data()));
        if (!reply)
            return std::nullopt;
        QByteArray text;
        if (reply->type == REDIS_REPLY_INTEGER)
            text = QByteArray::number(reply->integer);
        else if (reply->str)
            text = QByteArray(reply->str, qsizetype(reply->len));
        freeReplyObject(reply);
        return text;
    }

private:
    static quint16 freePort()
    {
        QTcpServer probe;
        if (!probe.listen(QHostAddress::LocalHost, 0))
            return 0;
        const quint16 port = probe.serverPort();
        probe.close();
        return port;
    }

    bool launch()
    {
        const QString log = m_dir.filePath(QStringLiteral("redis.log"));
        m_process.setStandardOutputFile(log, QIODevice::Append);
        m_process.setProcessChannelMode(QProcess::MergedChannels);
        QStringList args = {QStringLiteral("--port"),       QString::number(m_port),
                            QStringLiteral("--bind"),       QStringLiteral("127.0.0.1"),
                            QStringLiteral("--save"),       QString(),
                            QStringLiteral("--appendonly"), QStringLiteral("no"),
                            QStringLiteral("--dir"),        m_dir.path(),
                            QStringLiteral("--loglevel"),   QStringLiteral("warning")};
        args += m_extraArgs;
        m_process.start(binary(), args);
        if (!m_process.waitForStarted(5000)) {
            m_error = QStringLiteral("cannot start %1: %2").arg(binary(), m_process.errorString());
            return false;
        }
        const QDeadlineTimer deadline(10000);
        while (!deadline.hasExpired()) {
            // Any answer but LOADING (the append-only file) will do: with --requirepass it is NOAUTH.
            if (const auto pong = command({"PING"}); pong && !pong->startsWith("LOADING"))
                return true;
            // Also the pause between tries: returns at once if the server has exited.
            if (m_process.waitForFinished(25) || m_process.state() == QProcess::NotRunning)
                break;
        }
        QFile file(log);
        const QByteArray output = file.open(QIODevice::ReadOnly) ? file.readAll().right(2000) : QByteArray();
        m_error = QStringLiteral("redis-server on port %1 did not answer PING: %2")
                      .arg(m_port)
                      .arg(QString::fromUtf8(output).trimmed());
        stop();
        return false;
    }

    QStringList m_extraArgs;
    QTemporaryDir m_dir;
    QProcess m_process;
    quint16 m_port = 0;
    bool m_paused = false;
    QString m_error;
};

} // namespace HeraldTest
