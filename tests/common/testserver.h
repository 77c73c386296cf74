#pragma once

// An in-process herald-server for a test: loopback, a free port, a temporary data dir, two I/O threads and a
// short shutdown grace. One place for what every suite that runs a server needs.

#include "server.h"

#include <QDebug>
#include <QSignalSpy>

#include <functional>
#include <memory>

namespace HeraldTest {

using ConfigTweak = std::function<void(Herald::ServerConfig &)>;

// Starts a server from `base` (Herald's defaults unless given) on `dataDir`; `tweak` adjusts the rest.
// nullptr, with the reason logged, if it does not start.
inline std::unique_ptr<Herald::Server> startTestServer(const QString &dataDir, const ConfigTweak &tweak = {},
                                                       Herald::ServerConfig base = {})
{
    base.port = 0;
    base.dataDir = dataDir;
    base.workerThreads = 2;
    base.shutdownGrace = std::chrono::milliseconds(1000);
    if (tweak)
        tweak(base);
    auto server = std::make_unique<Herald::Server>(base);
    if (!server->start()) {
        qWarning().noquote() << "server did not start:" << server->errorString();
        return nullptr;
    }
    return server;
}

// Stops `server` (if any) and waits for it to say so (up to `timeoutMs`), then destroys it. False if it did
// not stop in time.
inline bool stopTestServer(std::unique_ptr<Herald::Server> &server, int timeoutMs = 5000)
{
    if (!server)
        return true;
    QSignalSpy stopped(server.get(), &Herald::Server::stopped);
    server->stop();
    const bool ok = stopped.wait(timeoutMs);
    server.reset();
    return ok;
}

} // namespace HeraldTest
