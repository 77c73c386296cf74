#include "adminclient.h"

#include "dashboardlogging.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QUrlQuery>

using namespace Qt::StringLiterals;

namespace Herald {

ClientEntry ClientEntry::fromJson(const QJsonObject &object)
{
    ClientEntry c;
    c.clientId = object.value("client_id"_L1).toString();
    c.userId = object.value("user_id"_L1).toString();
    c.transport = object.value("transport"_L1).toString();
    c.route = object.value("route"_L1).toString();
    c.address = object.value("address"_L1).toString();
    c.connectedAt = QDateTime::fromString(object.value("connected_at"_L1).toString(), Qt::ISODateWithMs);
    const QJsonArray subs = object.value("subscriptions"_L1).toArray();
    for (const QJsonValue &v : subs) {
        if (v.isString())
            c.subscriptions.append(v.toString());
    }
    return c;
}

AdminClient::AdminClient(QObject *parent)
    : QObject(parent)
    , m_connection(new Connection(this))
{
    // The token goes both ways a server may look for it: the Authorization header and the query (which a
    // proxy that drops the header still passes).
    m_connection->setTokenInQuery(true);
    // get_stats doubles as the heartbeat: a feed silent through three of them is dead.
    setStatsInterval(std::chrono::seconds(5));
    m_connection->setUrlHook([this](QUrl &url) {
        // Not with a token: the server then names the token's subject as the sender, and an admin
        // connection's client id would claim that id from the users who connect with it
        // (Hub::mayClaimLocked).
        if (!m_clientId.isEmpty() && m_connection->token().isEmpty()) {
            QUrlQuery query(url);
            query.removeAllQueryItems(u"client_id"_s);
            query.addQueryItem(u"client_id"_s, m_clientId);
            url.setQuery(query);
        }
    });
    connect(m_connection, &Connection::stateChanged, this, &AdminClient::handleConnectionState);
    connect(m_connection, &Connection::frameReceived, this, &AdminClient::handleFrame);
    // Asked on every connect: a server that came back may be another version.
    connect(m_connection, &Connection::opened, this, &AdminClient::requestServerVersion);
    connect(m_connection, &Connection::retryScheduled, this, &AdminClient::reconnectScheduled);
    connect(m_connection, &Connection::refused, this,
            [this](int, const QString &) { Q_EMIT tokenRefused(m_statusText); });
}

AdminClient::~AdminClient() = default;

QUrl AdminClient::feedUrl(const QString &text)
{
    return Connection::wsUrlFromText(text, u"/ws/server"_s);
}

QUrl AdminClient::httpUrl(const QUrl &feedUrl, const QString &path)
{
    return Connection::httpUrl(feedUrl, u"/ws/server"_s, path);
}

void AdminClient::setServerUrl(const QUrl &url)
{
    const QUrl feed = feedUrl(url.toString());
    const QUrl previous = m_url;
    m_url = feed.isEmpty() ? url : feed;
    m_connection->setUrl(m_url);
    // Another server's version is not this one's.
    if (m_url != previous)
        m_serverVersion.clear();
}

void AdminClient::requestServerVersion()
{
    if (!m_http)
        m_http = new QNetworkAccessManager(this);
    const QUrl url = httpUrl(m_url, u"/healthz"_s);
    QNetworkRequest request(url);
    request.setTransferTimeout(5000);
    QNetworkReply *reply = m_http->get(request);
    connect(reply, &QNetworkReply::finished, this, [this, reply, url] {
        reply->deleteLater();
        // A late answer from a server the dashboard no longer watches says nothing about this one.
        if (httpUrl(m_url, u"/healthz"_s) != url)
            return;
        const QJsonObject health = QJsonDocument::fromJson(reply->readAll()).object();
        const QString version = health.value("version"_L1).toString();
        if (reply->error() != QNetworkReply::NoError || version.isEmpty()) {
            qCDebug(lcAdminClient).noquote()
                << "no version from" << url.toDisplayString() << reply->errorString();
            return;
        }
        if (version == m_serverVersion)
            return;
        m_serverVersion = version;
        qCInfo(lcAdminClient).noquote() << "the server is herald-server" << version;
        Q_EMIT serverVersionReceived(version);
    });
}

void AdminClient::setStatsInterval(std::chrono::milliseconds interval)
{
    m_connection->setHeartbeat(interval, QJsonObject{{"type"_L1, "get_stats"_L1}});
}

void AdminClient::open()
{
    m_connection->open();
}

void AdminClient::close()
{
    m_connection->close();
}

void AdminClient::handleConnectionState(Connection::State state, const QString &text)
{
    switch (state) {
    case Connection::State::Idle:
        setState(State::Idle, !m_url.isValid() || m_url.host().isEmpty()
                                  ? tr("No server URL: set one in Settings")
                                  : text);
        break;
    case Connection::State::Connecting:
        setState(State::Connecting, text);
        break;
    case Connection::State::Connected:
        setState(State::Connected, text);
        break;
    case Connection::State::Offline:
        setState(State::Reconnecting, text);
        break;
    case Connection::State::Refused:
        setState(State::Refused, tr("%1: check the token in Settings").arg(text));
        break;
    }
}

void AdminClient::setState(State state, const QString &text)
{
    if (state == m_state && text == m_statusText)
        return;
    m_state = state;
    m_statusText = text;
    Q_EMIT stateChanged(state, text);
}

QString AdminClient::stateName(State state)
{
    switch (state) {
    case State::Idle:
        return u"idle"_s;
    case State::Connecting:
        return u"connecting"_s;
    case State::Connected:
        return u"connected"_s;
    case State::Reconnecting:
        return u"reconnecting"_s;
    case State::Refused:
        return u"refused"_s;
    }
    return u"idle"_s;
}

void AdminClient::handleFrame(const QJsonObject &o)
{
    // A published message carries id, channel and timestamp whatever its type (even "counts"); control frames
    // never carry all three.
    if (o.value("id"_L1).isDouble() && o.value("channel"_L1).isString() &&
        o.value("timestamp"_L1).isString()) {
        auto message = Message::fromJson(o);
        if (message)
            Q_EMIT messageReceived(*message);
        else
            qCWarning(lcAdminClient).noquote() << "ignoring a malformed message:" << message.error().message;
        return;
    }
    handleControl(o.value("type"_L1).toString(), o);
}

void AdminClient::handleControl(const QString &type, const QJsonObject &o)
{
    const QString ref = o.value("ref"_L1).toString();
    if (type == u"counts"_s) {
        Q_EMIT countsChanged(o.value("clients"_L1).toInt(), o.value("subscribers"_L1).toInt());
        if (o.contains("nodes"_L1))
            Q_EMIT nodeCountReceived(o.value("nodes"_L1).toInt());
    } else if (type == u"snapshot"_s) {
        AdminSnapshot s;
        s.clients = o.value("clients"_L1).toInt();
        s.subscribers = o.value("subscribers"_L1).toInt();
        s.channels = o.value("stats"_L1).toObject().value("total_channels"_L1).toInt();
        s.lastId = o.value("last_id"_L1).toInteger();
        s.epoch = o.value("epoch"_L1).toString();
        const QJsonArray list = o.value("connections"_L1).toArray();
        for (const QJsonValue &v : list)
            s.connections.append(ClientEntry::fromJson(v.toObject()));
        Q_EMIT snapshotReceived(s);
    } else if (type == u"stats"_s) {
        const QJsonObject data = o.value("data"_L1).toObject();
        Q_EMIT statsReceived(data.value("total_channels"_L1).toInt(), data);
    } else if (type == u"client_connected"_s) {
        Q_EMIT clientConnected(ClientEntry::fromJson(o.value("client"_L1).toObject()));
    } else if (type == u"client_disconnected"_s) {
        Q_EMIT clientDisconnected(o.value("client_id"_L1).toString());
    } else if (type == u"client_subscribed"_s) {
        Q_EMIT clientSubscribed(o.value("client_id"_L1).toString(), o.value("channel"_L1).toString());
    } else if (type == u"client_unsubscribed"_s) {
        Q_EMIT clientUnsubscribed(o.value("client_id"_L1).toString(), o.value("channel"_L1).toString());
    } else if (type == u"error"_s) {
        const QString code = o.value("code"_L1).toString();
        const QString message = o.value("message"_L1).toString();
        qCInfo(lcAdminClient).noquote() << "server error" << code << message;
        Q_EMIT actionFailed(ref, code, message);
    } else if (!ref.isEmpty()) {
        Q_EMIT actionSucceeded(ref, o);
    } else if (type != u"pong"_s) {
        qCDebug(lcAdminClient).noquote() << "ignoring frame of type" << type;
    }
}

QString AdminClient::send(QJsonObject object)
{
    if (m_state != State::Connected)
        return {};
    const QString ref = u"dash-%1"_s.arg(m_nextRef++);
    object.insert("ref"_L1, ref);
    return m_connection->sendJson(object) ? ref : QString();
}

void AdminClient::addDraft(QJsonObject &object, const MessageDraft &draft)
{
    if (!draft.type.isEmpty())
        object.insert("type"_L1, draft.type);
    if (!draft.title.isEmpty())
        object.insert("title"_L1, draft.title);
    object.insert("message"_L1, draft.message);
}

QString AdminClient::broadcast(const MessageDraft &draft)
{
    QJsonObject o{{"action"_L1, "broadcast"_L1}};
    addDraft(o, draft);
    return send(o);
}

QString AdminClient::publishToChannel(const QString &channel, const MessageDraft &draft)
{
    QJsonObject o{{"action"_L1, "publish"_L1}, {"channel"_L1, channel}};
    addDraft(o, draft);
    return send(o);
}

QString AdminClient::publishToUser(const QString &userId, const MessageDraft &draft)
{
    QJsonObject o{{"action"_L1, "publish"_L1}, {"user_id"_L1, userId}};
    addDraft(o, draft);
    return send(o);
}

QString AdminClient::disconnectClient(const QString &clientId)
{
    return send(QJsonObject{{"action"_L1, "disconnect"_L1}, {"client_id"_L1, clientId}});
}

QString AdminClient::requestStats()
{
    return send(QJsonObject{{"type"_L1, "get_stats"_L1}});
}

} // namespace Herald
