#include "listener.h"

#include "worker.h"

#include <QHttpServer>
#include <QMutex>
#include <QTcpSocket>

#include <atomic>

#include <unistd.h>

namespace Herald {

Listener::Listener(QObject *parent)
    : QTcpServer(parent)
{}

void Listener::incomingConnection(qintptr descriptor)
{
    if (m_workers.isEmpty()) {
        ::close(int(descriptor));
        return;
    }
    m_workers.at(m_next)->adoptDescriptor(descriptor);
    m_next = (m_next + 1) % m_workers.size();
}

void HttpIntake::take(QTcpSocket *socket)
{
    m_queue.append(socket);
    // pendingConnectionAvailable is a private signal: emitted through the meta-object, as QHttpServer listens
    // to it.
    QMetaObject::invokeMethod(this, "pendingConnectionAvailable", Qt::DirectConnection);
}

bool HttpIntake::hasPendingConnections() const
{
    return !m_queue.isEmpty();
}

QTcpSocket *HttpIntake::nextPendingConnection()
{
    while (!m_queue.isEmpty()) {
        if (QTcpSocket *s = m_queue.takeFirst())
            return s;
    }
    return nullptr;
}

namespace {
std::atomic<QtMessageHandler> g_previousHandler{nullptr};

void quietBind(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (type == QtWarningMsg && message.contains(QLatin1StringView("is not listening")))
        return;
    if (QtMessageHandler previous = g_previousHandler.load())
        previous(type, context, message);
}
} // namespace

void HttpIntake::bindTo(QHttpServer *server)
{
    // Only while bind() runs, and only that one warning; everything else goes where it went before.
    static QMutex mutex;
    QMutexLocker lock(&mutex);
    g_previousHandler.store(qInstallMessageHandler(quietBind));
    server->bind(this);
    qInstallMessageHandler(g_previousHandler.load());
}

} // namespace Herald
