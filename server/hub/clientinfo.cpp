// What the registry knows of a connection: its transport, route, subscriptions.
#include "clientinfo.h"

#include "message.h"

#include <QJsonArray>

using namespace Qt::StringLiterals;

namespace Herald {

QString transportName(Transport t)
{
    switch (t) {
    case Transport::WebSocket:
        return u"websocket"_s;
    case Transport::Sse:
        return u"sse"_s;
    }
    return u"websocket"_s;
}

QString routeName(Route r)
{
    switch (r) {
    case Route::Native:
        return u"ws"_s;
    case Route::SeedClient:
        return u"ws/client"_s;
    case Route::Admin:
        return u"ws/server"_s;
    case Route::ModelChannel:
        return u"ws/channel"_s;
    case Route::SeedChat:
        return u"ws/client_id"_s;
    case Route::Events:
        return u"events"_s;
    }
    return u"ws"_s;
}

bool ChannelSet::contains(const QString &channel) const
{
    if (!m_large.isEmpty())
        return m_large.contains(channel);
    return std::binary_search(m_small.cbegin(), m_small.cend(), channel);
}

bool ChannelSet::insert(const QString &channel)
{
    if (!m_large.isEmpty()) {
        const qsizetype before = m_large.size();
        m_large.insert(channel, 0);
        return m_large.size() != before;
    }
    const auto at = std::lower_bound(m_small.cbegin(), m_small.cend(), channel);
    if (at != m_small.cend() && *at == channel)
        return false;
    if (m_small.size() < SmallSize) {
        m_small.insert(at - m_small.cbegin(), channel);
        return true;
    }
    // Growing past SmallSize: into the tree, once.
    for (const QString &c : std::as_const(m_small))
        m_large.insert(c, 0);
    m_large.insert(channel, 0);
    m_small = QStringList();
    return true;
}

bool ChannelSet::remove(const QString &channel)
{
    if (!m_large.isEmpty())
        return m_large.remove(channel) > 0; // stays a tree: no moving back and forth at the boundary
    const auto at = std::lower_bound(m_small.cbegin(), m_small.cend(), channel);
    if (at == m_small.cend() || *at != channel)
        return false;
    m_small.removeAt(at - m_small.cbegin());
    return true;
}

ChannelSet::const_iterator ChannelSet::begin() const
{
    const_iterator it;
    it.m_inLarge = !m_large.isEmpty();
    it.m_small = m_small.cbegin();
    it.m_large = m_large.cbegin();
    return it;
}

ChannelSet::const_iterator ChannelSet::end() const
{
    const_iterator it;
    it.m_inLarge = !m_large.isEmpty();
    it.m_small = m_small.cend();
    it.m_large = m_large.cend();
    return it;
}

QJsonObject ClientInfo::toJson() const
{
    const QStringList &subs = channels.toList();
    QJsonObject o{{"client_id"_L1, clientId},
                  {"transport"_L1, transportName(transport)},
                  {"route"_L1, routeName(route)},
                  {"address"_L1, address},
                  {"connected_at"_L1, formatTimestamp(connectedAt)},
                  {"subscriptions"_L1, QJsonArray::fromStringList(subs)}};
    if (!userId.isEmpty())
        o.insert("user_id"_L1, userId);
    return o;
}

} // namespace Herald
