#include "session.h"

#include "channelname.h"
#include "envelope.h"
#include "worker.h"

#include <QTcpSocket>

namespace Herald {

Session::Session(Worker *worker, QTcpSocket *socket, ClientInfo info)
    : QObject(worker) // the worker's thread owns it; deleting the worker deletes its sessions
    , m_worker(worker)
    , m_socket(socket)
    , m_info(std::move(info))
{
    m_socket->setParent(this);
    connect(m_socket, &QTcpSocket::disconnected, this, &Session::finish);
}

Session::~Session() = default;

void Session::start()
{
    m_info.sessionId = m_worker->hub()->registerSession(m_info);
    m_worker->sessionStarted(this);
    // Personal delivery (seed 001's "notification", admin messages to a client) goes to client:<id>.
    m_worker->subscribeLocal(this, clientChannel(m_info.clientId));
}

void Session::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    m_worker->sessionFinished(this);
    m_worker->hub()->unregisterSession(m_info.sessionId);
    deleteLater();
}

bool Session::deliver(const Envelope &envelope)
{
    if (m_finished)
        return false;
    const qint64 id = envelope.message.id;
    if (id > 0) {
        if (id <= m_lastId)
            return false;
        m_lastId = id;
    }
    if (!envelope.excludeClientId.isEmpty() && envelope.excludeClientId == m_info.clientId)
        return false;
    enqueue(encoded(envelope));
    return true;
}

void Session::enqueue(QByteArrayView bytes)
{
    if (m_finished)
        return;
    m_out.append(bytes);
    m_worker->markDirty(this);
}

void Session::flush()
{
    if (m_out.isEmpty() || m_finished)
        return;
    m_socket->write(m_out);
    m_out.clear();
}

bool Session::subscribe(const QString &channel)
{
    if (!m_worker->hub()->addSubscription(m_info.sessionId, channel))
        return false;
    m_info.channels.insert(channel);
    m_worker->subscribeLocal(this, channel);
    return true;
}

bool Session::unsubscribe(const QString &channel)
{
    if (!m_worker->hub()->removeSubscription(m_info.sessionId, channel))
        return false;
    m_info.channels.remove(channel);
    m_worker->unsubscribeLocal(this, channel);
    return true;
}

} // namespace Herald
