#include "server.h"

#include "channelname.h"
#include "cluster.h"
#include "epolldispatcher.h"
#include "hub.h"
#include "listener.h"
#include "logging.h"
#include "publisher.h"
#include "redishistory.h"
#include "requestrouter.h"
#include "scheduler.h"
#include "store.h"
#include "worker.h"

#include <QDir>
#include <QFile>
#include <QHostInfo>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QSslSocket>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <unistd.h>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
BrowserRules browserRulesOf(const ServerConfig &config)
{
    return {config.allowedOrigins, config.anyOrigin, config.allowedHosts};
}
} // namespace

Server::Server(const ServerConfig &config, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_hub(new Hub(this))
{}

Server::~Server()
{
    stopThreads();
    closeStore();
}

quint16 Server::port() const
{
    return m_listener ? m_listener->serverPort() : 0;
}

bool Server::start()
{
    // QDir::mkpath and QFileInfo::isWritable say no without saying why; the system's reason is the useful
    // part.
    std::error_code created;
    std::filesystem::create_directories(QFile::encodeName(m_config.dataDir).toStdString(), created);
    if (created) {
        m_error = u"cannot create data directory %1: %2"_s.arg(m_config.dataDir,
                                                               QString::fromLocal8Bit(created.message()));
        return false;
    }
    if (::access(QFile::encodeName(m_config.dataDir).constData(), W_OK | X_OK) != 0) {
        m_error = u"data directory %1 is not writable: %2"_s.arg(
            m_config.dataDir, QString::fromLocal8Bit(std::strerror(errno)));
        return false;
    }

    m_hub->setModelChannels(m_config.modelNames());

    // Configuration errors first: they are one line and nothing has been opened yet.
    if (m_config.tokenAuth()) {
        if (m_config.jwtSecretFile.isEmpty()) {
            m_error = u"--auth token (the default on a non-loopback address) needs --jwt-secret-file"_s;
            return false;
        }
        const auto secret = readSecretFile(m_config.jwtSecretFile);
        if (!secret) {
            m_error = secret.error();
            return false;
        }
        m_hub->setAuth(AuthPolicy(true, TokenVerifier(*secret), browserRulesOf(m_config)));
    } else {
        m_hub->setAuth(AuthPolicy(false, TokenVerifier(), browserRulesOf(m_config)));
    }

    std::optional<QSslConfiguration> tls;
    if (m_config.tls()) {
        auto loaded = loadTls();
        if (!loaded)
            return false;
        tls = *loaded;
    }

    m_listener = new Listener(this);
    m_listener->setListenBacklogSize(m_config.listenBacklog);
    if (!m_listener->listen(m_config.bind, m_config.port)) {
        m_error = u"cannot listen on %1:%2: %3"_s.arg(m_config.bindText)
                      .arg(m_config.port)
                      .arg(m_listener->errorString().toLower());
        delete m_listener;
        m_listener = nullptr;
        return false;
    }

    // After listen(): a port in use is the likelier mistake and should be the one line reported. Redis before
    // the store: an unreachable Redis is then said in one line, before any database is created or migrated.
    if (m_config.clustered() && !openRedis()) {
        delete m_listener;
        m_listener = nullptr;
        return false;
    }
    m_store = new Store(m_config, this);
    if (!m_store->open()) {
        m_error = m_store->errorString();
        delete m_store;
        m_store = nullptr;
        delete m_redis; // opened above: its prune timer must not outlive a start that failed
        m_redis = nullptr;
        delete m_listener;
        m_listener = nullptr;
        return false;
    }
    m_hub->setStore(m_store);
    m_hub->setInitialSequence(m_store->lastStoredId());
    if (m_redis)
        joinCluster();
    // Scheduled publishes wait where the history is: Redis on a cluster (every node delivers from there),
    // the store on one server.
    m_scheduler = new Scheduler(
        m_hub, m_redis ? static_cast<ScheduleStore *>(m_redis->schedule()) : m_store->schedule(),
        m_redis != nullptr, this);
    m_hub->publisher().setScheduler(m_scheduler);

    const int count =
        m_config.workerThreads > 0 ? m_config.workerThreads : qMax(1, QThread::idealThreadCount());
    for (int i = 0; i < count; ++i) {
        auto *thread = new QThread(this);
        thread->setObjectName(u"herald-io-%1"_s.arg(i));
        // Each worker owns thousands of sockets: epoll, not Qt's ppoll over all of them on every pass
        // (HERALD_QT_DISPATCHER=1 keeps Qt's, to compare; see bench/README.md).
        if (!qEnvironmentVariableIsSet("HERALD_QT_DISPATCHER"))
            thread->setEventDispatcher(new EpollDispatcher);
        auto *worker = new Worker(m_hub, m_config, i);
        // A child of the worker, so it moves to the worker's thread with it.
        worker->setRequestHandler(new RequestRouter(worker, &m_modelChanges));
        if (tls)
            worker->setTls(*tls);
        worker->moveToThread(thread);
        connect(worker, &Worker::drained, this, [this] {
            if (++m_drained == m_workers.size()) {
                stopThreads();
                closeStore();
                Q_EMIT stopped();
            }
        });
        m_threads.append(thread);
        m_workers.append(worker);
        thread->start();
    }
    m_hub->setWorkers(m_workers);
    m_listener->setWorkers(m_workers);

    if (m_cluster)
        m_cluster->start(m_hub->lastId());
    m_scheduler->start();
    if (m_config.demoIntervalSeconds > 0)
        startDemo();
    const QString scheme = m_config.tls() ? u"https"_s : u"http"_s;
    auto urlHost = [](const QString &host) {
        return host.contains(u':') ? u'[' + host + u']' : host;
    };
    qCInfo(lcServer).noquote() << "herald-server" << HERALD_VERSION << "listening on"
                               << u"%1://%2:%3/"_s.arg(scheme, urlHost(m_config.bindText)).arg(port())
                               << "with" << count << "I/O threads, auth"
                               << (m_config.tokenAuth() ? u"token"_s : u"open"_s) +
                                      (m_cluster ? u", cluster node %1 on %2"_s.arg(m_cluster->nodeId(),
                                                                                    m_redisAddress)
                                                 : QString());
    // What a newcomer wants next: where the page is, and whether notifications will arrive by themselves. A
    // wildcard bind is reached by this machine's name, not by 0.0.0.0.
    const bool wildcard = m_config.bind == QHostAddress::AnyIPv4 || m_config.bind == QHostAddress::AnyIPv6 ||
                          m_config.bind == QHostAddress::Any;
    const QString pageHost = wildcard ? QHostInfo::localHostName() : urlHost(m_config.bindText);
    qCInfo(lcServer).noquote() << u"page: %1://%2:%3/?user_id=1; "_s.arg(scheme, pageHost).arg(port()) +
                                      (m_config.demoIntervalSeconds > 0
                                           ? u"demo on: a notification to users 1 and 2 every %1 s"_s.arg(
                                                 m_config.demoIntervalSeconds)
                                           : u"demo off (--demo-interval 10 turns it on)"_s);
    return true;
}

bool Server::openRedis()
{
    const auto address = RedisAddress::parse(m_config.redisUrl);
    if (!address) {
        m_error = u"--redis: '%1' is not a redis:// URL"_s.arg(m_config.redisUrl);
        return false;
    }
    m_redisAddress = address->toString();
    m_redis = new RedisHistory(m_config, *address, m_config.redisPrefix, this);
    auto last = m_redis->open() ? m_redis->lastId() : Result<qint64, StoreError>::failure({});
    if (!last) {
        m_error = last.error().message.isEmpty()
                      ? m_redis->errorString()
                      : u"cannot read the cluster's sequence from Redis at %1: %2"_s.arg(
                            m_redisAddress, last.error().message);
        delete m_redis;
        m_redis = nullptr;
        return false;
    }
    m_redisLastId = *last;
    return true;
}

void Server::joinCluster()
{
    // Unique without configuration: two nodes on one host differ by port, a restarted node by the suffix.
    const QString nodeId =
        !m_config.nodeId.isEmpty()
            ? m_config.nodeId
            : u"%1-%2-%3"_s.arg(QHostInfo::localHostName().section(u'.', 0, 0), QString::number(port()),
                                QString::number(QRandomGenerator::global()->bounded(0x10000), 16));
    m_cluster = new Cluster(m_hub, m_redis, m_config, nodeId, this);
    m_cluster->setAddress(u"%1:%2"_s.arg(m_config.bindText).arg(port()));
    m_hub->setCluster(m_cluster, m_redis);
    m_hub->setInitialSequence(m_redisLastId);
}

void Server::startDemo()
{
    // Seeds 000 and 002: a notification for users 1 and 2 every few seconds, so a newcomer sees it work.
    m_demo = new QTimer(this);
    m_demo->setInterval(std::chrono::seconds(m_config.demoIntervalSeconds));
    connect(m_demo, &QTimer::timeout, this, [this, n = lastDemoNumber()]() mutable {
        ++n;
        static const QStringList kinds = {u"info"_s, u"success"_s, u"warning"_s};
        for (const QString &user : {u"1"_s, u"2"_s}) {
            Message m;
            m.channel = userChannel(user);
            m.type = u"notification"_s;
            m.title = u"Notification #%1"_s.arg(n);
            m.message = u"Hello user %1: demo notification #%2 at %3"_s.arg(
                user, QString::number(n), QDateTime::currentDateTimeUtc().toString(u"HH:mm:ss"_s));
            m.sender = u"demo"_s;
            m.data = QJsonObject{{"user_id"_L1, user}, {"level"_L1, kinds.at(n % kinds.size())}, {"n"_L1, n}};
            if (auto r = m_hub->publish(std::move(m)); !r)
                qCWarning(lcServer).noquote() << "demo notification not published:" << r.error().message;
        }
    });
    m_demo->start();
}

int Server::lastDemoNumber() const
{
    // The numbering goes on from the stored history, so a restart does not show a second "Notification #1"
    // beside the first. Only the newest page of each queue is looked at: the demo's last one is near the top.
    History *history = m_hub->history();
    if (!history)
        return 0;
    int last = 0;
    for (const QString &user : {u"1"_s, u"2"_s}) {
        const auto page = history->history(userChannel(user), 0, 0, 100);
        if (!page)
            continue;
        for (const Message &m : page->messages) {
            if (m.sender == u"demo"_s && m.data.isObject())
                last = qMax(last, m.data.toObject().value("n"_L1).toInt());
        }
    }
    return last;
}

void Server::stop()
{
    if (m_stopping)
        return;
    m_stopping = true;
    qCInfo(lcServer) << "shutting down";
    if (m_demo)
        m_demo->stop();
    if (m_scheduler)
        m_scheduler->stop();
    if (m_cluster)
        m_cluster->stop();
    if (m_listener)
        m_listener->close();
    if (m_workers.isEmpty()) {
        closeStore();
        QMetaObject::invokeMethod(this, &Server::stopped, Qt::QueuedConnection);
        return;
    }
    for (Worker *w : std::as_const(m_workers))
        w->shutdown();
}

std::optional<QSslConfiguration> Server::loadTls()
{
    if (!QSslSocket::supportsSsl()) {
        m_error = u"TLS is not available: Qt found no OpenSSL (install libssl3)"_s;
        return std::nullopt;
    }
    QFile certFile(m_config.tlsCert);
    if (!certFile.open(QIODevice::ReadOnly)) {
        m_error = u"cannot read --tls-cert %1"_s.arg(m_config.tlsCert);
        return std::nullopt;
    }
    const QList<QSslCertificate> chain = QSslCertificate::fromData(certFile.readAll(), QSsl::Pem);
    if (chain.isEmpty()) {
        m_error = u"--tls-cert %1 holds no PEM certificate"_s.arg(m_config.tlsCert);
        return std::nullopt;
    }
    QFile keyFile(m_config.tlsKey);
    if (!keyFile.open(QIODevice::ReadOnly)) {
        m_error = u"cannot read --tls-key %1"_s.arg(m_config.tlsKey);
        return std::nullopt;
    }
    const QByteArray pem = keyFile.readAll();
    QSslKey key;
    for (QSsl::KeyAlgorithm algorithm : {QSsl::Rsa, QSsl::Ec, QSsl::Dsa}) {
        key = QSslKey(pem, algorithm, QSsl::Pem);
        if (!key.isNull())
            break;
    }
    if (key.isNull()) {
        m_error = u"--tls-key %1 holds no unencrypted PEM private key"_s.arg(m_config.tlsKey);
        return std::nullopt;
    }
    QSslConfiguration c = QSslConfiguration::defaultConfiguration();
    c.setLocalCertificate(chain.constFirst());
    c.setLocalCertificateChain(chain);
    c.setPrivateKey(key);
    c.setPeerVerifyMode(QSslSocket::VerifyNone); // clients are not asked for certificates
    c.setProtocol(QSsl::SecureProtocols);
    return c;
}

void Server::closeStore()
{
    if (m_redis)
        m_redis->close();
    if (!m_store)
        return;
    // Record the exact last id, so a clean restart continues from it instead of the reserved block's end.
    m_store->reserveIds(m_hub->lastId());
    m_store->close();
}

void Server::stopThreads()
{
    // Unhook first, so no thread hands anything to a worker that is going away.
    m_hub->setWorkers({});
    if (m_listener)
        m_listener->setWorkers({});
    for (qsizetype i = 0; i < m_workers.size(); ++i) {
        Worker *worker = m_workers.at(i);
        QThread *thread = m_threads.at(i);
        // Sessions and sockets belong to the worker's thread: delete them there.
        if (thread->isRunning())
            QMetaObject::invokeMethod(
                worker, [worker] { delete worker; }, Qt::BlockingQueuedConnection);
        else
            delete worker;
        thread->quit();
        thread->wait();
    }
    m_workers.clear();
    qDeleteAll(m_threads);
    m_threads.clear();
    // Publishes still waiting for a group commit are committed (nobody is left to answer, but they were
    // accepted).
    m_hub->flushPipeline();
}

} // namespace Herald
