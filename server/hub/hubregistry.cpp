// The hub's registry: connections, the client ids they claim (on a cluster, with the other nodes), their
// subscriptions.
#include "hub.h"

#include "cluster.h"
#include "logging.h"

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// Only a verified token is an identity that can own a client id.
bool claims(const Identity &who)
{
    return !who.open && who.authenticated;
}

qint64 steadyNowMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
} // namespace

void Hub::setClaimLinger(std::chrono::milliseconds linger)
{
    QMutexLocker lock(&m_mutex);
    m_claimLingerMs = std::max<qint64>(0, linger.count());
}

std::chrono::milliseconds Hub::claimLinger() const
{
    QMutexLocker lock(&m_mutex);
    return std::chrono::milliseconds(m_claimLingerMs);
}

QList<std::pair<QString, QString>> Hub::heldClaims() const
{
    QList<std::pair<QString, QString>> held;
    QMutexLocker lock(&m_mutex);
    for (auto it = m_clientUsers.cbegin(); it != m_clientUsers.cend(); ++it) {
        for (const UserConnections &u : *it) {
            if (u.connections > 0)
                held.append({it.key(), u.userId});
        }
    }
    return held;
}

bool Hub::clusterMayClaim(const QString &clientId, const Identity &who, const QString &replacing)
{
    // Administrators may use any id (mayClaimLocked), and an identity-less connection claims nothing.
    if (!m_cluster || !claims(who) || who.isAdmin())
        return true;
    const auto granted = m_cluster->claimClientId(clientId, who.subject, replacing);
    if (!granted) {
        // Redis unreachable: this node serves its own connections only (as for delivery), so its own rule,
        // which still holds, is the one that applies.
        qCDebug(lcCluster) << "cannot check client id" << clientId
                           << "with the cluster:" << granted.error().message;
        return true;
    }
    return *granted;
}

quint64 Hub::registerSession(ClientInfo info, const Identity &who)
{
    quint64 id = 0;
    QJsonObject event;
    // The cluster's rule first, without the registry's lock (a blocking Redis call): it sees every node's
    // claims. The registry's own check below still decides races between this node's connections.
    if (!clusterMayClaim(info.clientId, who, {}))
        return 0;
    {
        QMutexLocker lock(&m_mutex);
        expireClaimsLocked(steadyNowMs());
        if (!mayClaimLocked(info.clientId, who, nullptr))
            return 0;
        info.claimsId = claims(who);
        if (info.claimsId)
            info.userId = who.subject;
        id = m_nextSessionId++;
        info.sessionId = id;
        if (!info.isAdmin()) {
            ++m_clients;
            if (m_adminSessions > 0)
                event = QJsonObject{{"type"_L1, "client_connected"_L1}, {"client"_L1, info.toJson()}};
        } else {
            ++m_adminSessions;
            // A new dashboard must see the current counts even if they did not change.
            m_lastPushedCounts = {-1, -1};
        }
        if (info.claimsId)
            noteClientUser(info.clientId, info.userId, +1);
        m_sessions.insert(id, std::move(info));
    }
    if (!event.isEmpty())
        adminEvent(event);
    countsMaybeChanged();
    return id;
}

void Hub::unregisterSession(quint64 sessionId)
{
    QJsonObject event;
    std::optional<std::pair<QString, QString>> released;
    {
        QMutexLocker lock(&m_mutex);
        const auto it = m_sessions.constFind(sessionId);
        if (it == m_sessions.cend())
            return;
        const ClientInfo &info = *it;
        if (!info.isAdmin()) {
            --m_clients;
            if (!info.channels.isEmpty())
                --m_subscribers;
            for (const QString &channel : info.channels) {
                auto c = m_channelCounts.find(channel);
                if (c != m_channelCounts.end() && --c.value() <= 0)
                    m_channelCounts.erase(c);
            }
            if (m_adminSessions > 0)
                event = QJsonObject{{"type"_L1, "client_disconnected"_L1}, {"client_id"_L1, info.clientId}};
        } else {
            --m_adminSessions;
        }
        if (info.claimsId && noteClientUser(info.clientId, info.userId, -1))
            released.emplace(info.clientId, info.userId);
        m_sessions.erase(it);
    }
    if (released && m_cluster)
        m_cluster->claimReleased(released->first, released->second);
    if (!event.isEmpty())
        adminEvent(event);
    countsMaybeChanged();
}

bool Hub::noteClientUser(const QString &clientId, const QString &userId, int delta, bool release)
{
    QList<UserConnections> &users = m_clientUsers[clientId];
    auto u = std::find_if(users.begin(), users.end(),
                          [&](const UserConnections &c) { return c.userId == userId; });
    if (u == users.end())
        u = users.insert(users.end(), UserConnections{userId, 0});
    u->connections = std::max(0, u->connections + delta);
    u->lingersUntilMs = 0;
    const bool last = u->connections == 0;
    if (last) {
        if (release || m_claimLingerMs <= 0) {
            users.erase(u);
        } else {
            u->lingersUntilMs = steadyNowMs() + m_claimLingerMs;
            m_lingering.emplace_back(u->lingersUntilMs, clientId);
        }
    }
    if (users.isEmpty())
        m_clientUsers.remove(clientId);
    return last;
}

void Hub::expireClaimsLocked(qint64 nowMs)
{
    while (!m_lingering.empty() && m_lingering.front().first <= nowMs) {
        const auto it = m_clientUsers.find(m_lingering.front().second);
        m_lingering.pop_front();
        if (it == m_clientUsers.end())
            continue;
        // Only claims still without connections and past their (latest) linger go.
        it->removeIf(
            [nowMs](const UserConnections &u) { return u.connections == 0 && u.lingersUntilMs <= nowMs; });
        if (it->isEmpty())
            m_clientUsers.erase(it);
    }
}

bool Hub::mayClaimLocked(const QString &clientId, const Identity &who, const ClientInfo *self) const
{
    if (!claims(who) || who.isAdmin())
        return true;
    const auto it = m_clientUsers.constFind(clientId);
    if (it == m_clientUsers.cend())
        return true;
    const qint64 now = steadyNowMs();
    for (const UserConnections &u : *it) {
        if (u.userId == who.subject)
            continue;
        int connections = u.connections;
        if (self && self->claimsId && self->userId == u.userId)
            --connections; // the asking connection itself, about to change hands
        if (connections > 0 || (u.connections == 0 && u.lingersUntilMs > now))
            return false;
    }
    return true;
}

bool Hub::claimClientId(quint64 sessionId, const Identity &who)
{
    if (m_cluster) {
        // The cluster's claim first (a blocking Redis call, without the lock). A connection changing hands
        // may take its id from its old identity when it was that identity's only connection with it here.
        QString clientId;
        QString replacing;
        {
            QMutexLocker lock(&m_mutex);
            const auto it = m_sessions.constFind(sessionId);
            if (it == m_sessions.cend())
                return false;
            clientId = it->clientId;
            if (it->claimsId && it->userId != who.subject) {
                const auto users = m_clientUsers.constFind(clientId);
                if (users != m_clientUsers.cend()) {
                    for (const UserConnections &u : *users) {
                        if (u.userId == it->userId && u.connections == 1)
                            replacing = u.userId;
                    }
                }
            }
        }
        if (!clusterMayClaim(clientId, who, replacing))
            return false;
    }
    QMutexLocker lock(&m_mutex);
    expireClaimsLocked(steadyNowMs());
    auto it = m_sessions.find(sessionId);
    if (it == m_sessions.end() || !mayClaimLocked(it->clientId, who, &*it))
        return false;
    // A connection that changes hands gives its identity's claim up at once: it is the same client.
    if (it->claimsId)
        noteClientUser(it->clientId, it->userId, -1, true);
    it->claimsId = claims(who);
    if (it->claimsId) {
        it->userId = who.subject;
        noteClientUser(it->clientId, it->userId, +1);
    }
    return true;
}

void Hub::setUserId(quint64 sessionId, const QString &userId)
{
    QMutexLocker lock(&m_mutex);
    auto it = m_sessions.find(sessionId);
    // A claim is an identity's: a name a client gives itself does not move it.
    if (it != m_sessions.end() && !it->claimsId)
        it->userId = userId;
}

bool Hub::addSubscription(quint64 sessionId, const QString &channel)
{
    QJsonObject event;
    {
        QMutexLocker lock(&m_mutex);
        auto it = m_sessions.find(sessionId);
        if (it == m_sessions.end() || it->channels.contains(channel))
            return false;
        if (it->channels.isEmpty() && !it->isAdmin())
            ++m_subscribers;
        it->channels.insert(channel);
        if (!it->isAdmin())
            ++m_channelCounts[channel];
        if (m_adminSessions > 0)
            event = QJsonObject{
                {"type"_L1, "client_subscribed"_L1}, {"client_id"_L1, it->clientId}, {"channel"_L1, channel}};
    }
    if (!event.isEmpty())
        adminEvent(event);
    countsMaybeChanged();
    return true;
}

bool Hub::removeSubscription(quint64 sessionId, const QString &channel)
{
    QJsonObject event;
    {
        QMutexLocker lock(&m_mutex);
        auto it = m_sessions.find(sessionId);
        if (it == m_sessions.end() || !it->channels.remove(channel))
            return false;
        if (!it->isAdmin()) {
            if (it->channels.isEmpty())
                --m_subscribers;
            auto c = m_channelCounts.find(channel);
            if (c != m_channelCounts.end() && --c.value() <= 0)
                m_channelCounts.erase(c);
        }
        if (m_adminSessions > 0)
            event = QJsonObject{{"type"_L1, "client_unsubscribed"_L1},
                                {"client_id"_L1, it->clientId},
                                {"channel"_L1, channel}};
    }
    if (!event.isEmpty())
        adminEvent(event);
    countsMaybeChanged();
    return true;
}

} // namespace Herald
