#pragma once

#include <QDateTime>
#include <QJsonObject>
#include <QMap>
#include <QString>
#include <QStringList>

namespace Herald {

// How a client is connected. Wire names ("websocket", "sse") are append only.
enum class Transport
{
    WebSocket,
    Sse
};
QString transportName(Transport t);

// Which endpoint a client came in through; decides the frames it is sent (SPEC section 3).
enum class Route
{
    Native,       // /ws
    SeedClient,   // /ws/client (seed 003)
    Admin,        // /ws/server (seed 003 dashboard, herald-dashboard)
    ModelChannel, // /ws/{model channel} (seed 004)
    SeedChat,     // /ws/{client_id} (seed 001)
    Events,       // /events (SSE)
};
QString routeName(Route r);

// A connection's explicit subscriptions, kept sorted. Most connections have one or two, and a QSet costs over
// 1 KiB even for one (Qt 6's hash allocates a span of 128 slots and storage for 48 entries): with a copy in
// the hub and one in the session that was a quarter of an idle connection's memory. So a sorted list while
// small (an insert moves at most SmallSize entries), a QMap above that: an insert or a remove under the hub's
// lock stays O(log n) up to --max-subscriptions, where a sorted list of thousands moved them all each time.
// Copies share until written.
class ChannelSet
{
public:
    static constexpr qsizetype SmallSize = 16;

    bool contains(const QString &channel) const;
    // False if it was there already.
    bool insert(const QString &channel);
    // False if it was not there.
    bool remove(const QString &channel);
    bool isEmpty() const { return m_small.isEmpty() && m_large.isEmpty(); }
    qsizetype size() const { return m_small.size() + m_large.size(); }

    // Names in sorted order, from whichever container holds them.
    class const_iterator
    {
    public:
        const QString &operator*() const { return m_inLarge ? m_large.key() : *m_small; }
        const_iterator &operator++()
        {
            if (m_inLarge)
                ++m_large;
            else
                ++m_small;
            return *this;
        }
        bool operator!=(const const_iterator &o) const
        {
            return m_inLarge ? m_large != o.m_large : m_small != o.m_small;
        }

    private:
        friend class ChannelSet;
        QStringList::const_iterator m_small;
        QMap<QString, char>::const_iterator m_large;
        bool m_inLarge = false;
    };
    const_iterator begin() const;
    const_iterator end() const;
    // In sorted order.
    QStringList toList() const { return m_large.isEmpty() ? m_small : m_large.keys(); }

private:
    QStringList m_small;         // while size() <= SmallSize
    QMap<QString, char> m_large; // above it (m_small then empty)
};

struct ClientInfo
{
    quint64 sessionId = 0;
    QString clientId;
    QString userId;
    Transport transport = Transport::WebSocket;
    Route route = Route::Native;
    QString address;
    QDateTime connectedAt;
    ChannelSet channels; // explicit subscriptions (not the implicit client:<id>)
    // The connection claims clientId for userId, an authenticated identity (Hub::mayClaimLocked). Kept by the
    // hub; a session's own copy does not track it.
    bool claimsId = false;

    bool isAdmin() const { return route == Route::Admin; }
    QJsonObject toJson() const;
};

struct HubCounts
{
    int clients = 0;
    int subscribers = 0;
};

} // namespace Herald
