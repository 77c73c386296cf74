#include "embeddedserver.h"

#include "dashboardlogging.h"
#include "server.h"

#include <QEventLoop>
#include <QStandardPaths>
#include <QTimer>

using namespace Qt::StringLiterals;

namespace Herald {

EmbeddedServer::EmbeddedServer(QObject *parent)
    : QObject(parent)
{}

EmbeddedServer::~EmbeddedServer() = default;

QString EmbeddedServer::defaultDataDir()
{
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + u"/server"_s;
}

bool EmbeddedServer::start(quint16 port, const QString &dataDir, int demoIntervalSeconds)
{
    m_requestedPort = port;
    m_fallback = false;
    m_dataDir = dataDir.isEmpty() ? defaultDataDir() : dataDir;
    ServerConfig config;
    config.port = port;
    config.dataDir = m_dataDir;
    config.demoIntervalSeconds = demoIntervalSeconds;
    // A desktop app shares the machine: two I/O threads are plenty for what a dashboard's server sees.
    config.workerThreads = 2;

    auto server = std::make_unique<Server>(config);
    if (!server->start()) {
        const QString first = server->errorString();
        if (port == 0) {
            m_error = first;
            return false;
        }
        // Most likely the port is taken; any free one will do for a server this dashboard connects to.
        config.port = 0;
        server = std::make_unique<Server>(config);
        if (!server->start()) {
            m_error = server->errorString();
            return false;
        }
        m_fallback = true;
        qCWarning(lcDashboard).noquote()
            << first << "- the embedded server uses port" << server->port() << "instead";
    }
    m_server = std::move(server);
    m_error.clear();
    return true;
}

void EmbeddedServer::stop(std::chrono::milliseconds wait)
{
    if (!m_server)
        return;
    QEventLoop loop;
    connect(m_server.get(), &Server::stopped, &loop, &QEventLoop::quit);
    QTimer::singleShot(wait, &loop, &QEventLoop::quit);
    m_server->stop();
    loop.exec();
    m_server.reset();
}

quint16 EmbeddedServer::port() const
{
    return m_server ? m_server->port() : 0;
}

QUrl EmbeddedServer::feedUrl() const
{
    QUrl url;
    url.setScheme(u"ws"_s);
    url.setHost(u"127.0.0.1"_s);
    url.setPort(port());
    url.setPath(u"/ws/server"_s);
    return url;
}

} // namespace Herald
