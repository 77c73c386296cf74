#include "adminclient.h"

#include "dashboardlogging.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QRegularExpression>
#include <QUrlQuery>
#include <QWebSocket>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
constexpr int CloseGoingAway = 1001;
constexpr int ClosePolicyViolation = 1008;
constexpr std::chrono::milliseconds ConnectTimeout{10000};

QString authority(const QUrl &url)
{
    const int defaultPort = url.scheme() == u"wss"_s ? 443 : 80;
    return u"%1:%2"_s.arg(url.host()).arg(url.port(defaultPort));
}
} // namespace

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
{
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &AdminClient::connectNow);
    m_connectTimeout.setSingleShot(true);
    m_connectTimeout.setInterval(ConnectTimeout);
    connect(&m_connectTimeout, &QTimer::timeout, this, [this] {
        m_timedOut = true;
        scheduleClosed();
    });
    m_statsTimer.setInterval(std::chrono::seconds(5));
    connect(&m_statsTimer, &QTimer::timeout, this, [this] {
        // get_stats doubles as a heartbeat: a feed that stays silent through three of them is dead even if
        // TCP has not noticed yet (a suspended laptop, a dropped NAT entry).
        if (m_lastFrame.isValid() && m_lastFrame.elapsed() > 3 * m_statsTimer.interval()) {
            m_timedOut = true;
            scheduleClosed();
            return;
        }
        requestStats();
    });
}

AdminClient::~AdminClient()
{
    if (m_socket) {
        disconnect(m_socket, nullptr, this, nullptr);
        m_socket->abort();
    }
}

QUrl AdminClient::feedUrl(const QString &text)
{
    QString t = text.trimmed();
    if (t.isEmpty())
        return {};
    if (!t.contains("://"_L1))
        t.prepend("ws://"_L1);
    QUrl url(t, QUrl::StrictMode);
    if (!url.isValid() || url.host().isEmpty())
        return {};
    const QString scheme = url.scheme().toLower();
    if (scheme == u"http"_s)
        url.setScheme(u"ws"_s);
    else if (scheme == u"https"_s)
        url.setScheme(u"wss"_s);
    else if (scheme != u"ws"_s && scheme != u"wss"_s)
        return {};
    if (url.path().isEmpty() || url.path() == u"/"_s)
        url.setPath(u"/ws/server"_s);
    return url;
}

QUrl AdminClient::httpUrl(const QUrl &feedUrl, const QString &path)
{
    QUrl url = feedUrl;
    url.setScheme(feedUrl.scheme().toLower() == u"wss"_s ? u"https"_s : u"http"_s);
    url.setUserInfo(QString());
    url.setQuery(QString());
    url.setFragment(QString());
    QString prefix = feedUrl.path();
    if (prefix.endsWith("/ws/server"_L1))
        prefix.chop(10);
    else
        prefix.clear();
    url.setPath(prefix + path);
    return url;
}

void AdminClient::setServerUrl(const QUrl &url)
{
    const QUrl feed = feedUrl(url.toString());
    const QUrl previous = m_url;
    m_url = feed.isEmpty() ? url : feed;
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
    m_statsTimer.setInterval(interval);
}

void AdminClient::open()
{
    m_wanted = true;
    m_backoff.reset();
    connectNow();
}

void AdminClient::close()
{
    m_wanted = false;
    m_retryTimer.stop();
    m_connectTimeout.stop();
    m_statsTimer.stop();
    ++m_generation;
    if (m_socket) {
        QWebSocket *socket = m_socket;
        m_socket = nullptr;
        disconnect(socket, nullptr, this, nullptr);
        // Let the close handshake finish, but not forever.
        connect(socket, &QWebSocket::disconnected, socket, &QObject::deleteLater);
        QTimer::singleShot(2000, socket, &QObject::deleteLater);
        socket->close();
    }
    setState(State::Idle, tr("Disconnected"));
}

void AdminClient::connectNow()
{
    m_retryTimer.stop();
    m_statsTimer.stop();
    if (m_socket) {
        disconnect(m_socket, nullptr, this, nullptr);
        m_socket->abort();
        m_socket->deleteLater();
        m_socket = nullptr;
    }
    ++m_generation;
    m_closeScheduled = false;
    m_timedOut = false;
    m_socketError = QAbstractSocket::UnknownSocketError;
    m_socketErrorText.clear();

    if (!m_url.isValid() || m_url.host().isEmpty()) {
        m_wanted = false;
        setState(State::Idle, tr("No server URL: set one in Settings"));
        return;
    }

    // A fresh socket per attempt: nothing (close code, error string) carries over from the last one.
    m_socket = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    connect(m_socket, &QWebSocket::connected, this, [this] {
        m_connectTimeout.stop();
        m_backoff.reset();
        m_lastFrame.start();
        m_lastFrameMs = QDateTime::currentMSecsSinceEpoch();
        m_statsTimer.start();
        setState(State::Connected, tr("Connected to %1").arg(authority(m_url)));
        // Asked on every connect: a server that came back may be another version.
        requestServerVersion();
    });
    connect(m_socket, &QWebSocket::textMessageReceived, this, &AdminClient::handleFrame);
    connect(m_socket, qOverload<QAbstractSocket::SocketError>(&QWebSocket::error), this,
            [this](QAbstractSocket::SocketError error) {
                m_socketError = error;
                m_socketErrorText = m_socket ? m_socket->errorString() : QString();
                scheduleClosed();
            });
    connect(m_socket, &QWebSocket::stateChanged, this, [this](QAbstractSocket::SocketState s) {
        if (s == QAbstractSocket::UnconnectedState)
            scheduleClosed();
    });

    // The token goes both ways a server may look for it: the query (browsers cannot set headers on a
    // WebSocket) and the Authorization header.
    QUrl url = m_url;
    QNetworkRequest request;
    // Not with a token: the server then names the token's subject as the sender, and an admin connection's
    // client id would claim that id from the users who connect with it (Hub::mayClaimLocked).
    if (!m_clientId.isEmpty() && m_token.isEmpty()) {
        QUrlQuery query(url);
        query.removeAllQueryItems(u"client_id"_s);
        query.addQueryItem(u"client_id"_s, m_clientId);
        url.setQuery(query);
    }
    if (!m_token.isEmpty()) {
        QUrlQuery query(url);
        query.removeAllQueryItems(u"token"_s);
        query.addQueryItem(u"token"_s, QString::fromLatin1(QUrl::toPercentEncoding(m_token)));
        url.setQuery(query);
        request.setRawHeader("Authorization", "Bearer " + m_token.toUtf8());
    }
    request.setUrl(url);
    setState(State::Connecting, tr("Connecting to %1…").arg(authority(m_url)));
    qCDebug(lcAdminClient) << "connecting to" << m_url.toDisplayString();
    m_connectTimeout.start();
    m_socket->open(request);
}

void AdminClient::scheduleClosed()
{
    // QWebSocket reports one failure through several signals (error, stateChanged, disconnected), in an
    // order that depends on where it failed; look at the outcome once, after all of them.
    if (m_closeScheduled)
        return;
    m_closeScheduled = true;
    QMetaObject::invokeMethod(
        this,
        [this, generation = m_generation] {
            if (generation == m_generation)
                handleClosed();
        },
        Qt::QueuedConnection);
}

void AdminClient::handleClosed()
{
    if (!m_socket)
        return;
    if (m_socket->state() == QAbstractSocket::ConnectedState && !m_timedOut) {
        // An error that did not end the connection.
        m_closeScheduled = false;
        return;
    }
    m_connectTimeout.stop();
    m_statsTimer.stop();
    const bool wasConnected = m_state == State::Connected;
    const int closeCode = int(m_socket->closeCode());
    const QString closeReason = m_socket->closeReason();
    disconnect(m_socket, nullptr, this, nullptr);
    m_socket->abort();
    m_socket->deleteLater();
    m_socket = nullptr;
    ++m_generation;

    if (!m_wanted) {
        setState(State::Idle, tr("Disconnected"));
        return;
    }

    // QWebSocket reports a handshake answered with anything but 101 only in its error string.
    int httpStatus = 0;
    if (!wasConnected) {
        static const QRegularExpression statusPattern(u"status code:?\\s*(\\d{3})"_s,
                                                      QRegularExpression::CaseInsensitiveOption);
        const auto match = statusPattern.match(m_socketErrorText);
        if (match.hasMatch())
            httpStatus = match.captured(1).toInt();
    }
    const QString where = authority(m_url);
    if (httpStatus == 401 || httpStatus == 403 || (wasConnected && closeCode == ClosePolicyViolation)) {
        const QString detail = httpStatus != 0 ? tr("HTTP %1").arg(httpStatus)
                               : closeReason.isEmpty()
                                   ? tr("close code %1").arg(closeCode)
                                   : tr("close code %1: %2").arg(closeCode).arg(closeReason);
        const QString text = tr("Token refused by %1 (%2): check the token in Settings").arg(where, detail);
        qCWarning(lcAdminClient).noquote() << text;
        m_wanted = false;
        setState(State::Refused, text);
        Q_EMIT tokenRefused(text);
        return;
    }

    QString why;
    if (m_timedOut) {
        why = tr("No answer from %1").arg(where);
    } else if (wasConnected) {
        if (closeCode == CloseGoingAway)
            why = tr("Server %1 went away (shutting down)").arg(where);
        else if (!closeReason.isEmpty())
            why = tr("Connection to %1 closed: %2").arg(where, closeReason);
        else
            why = tr("Connection to %1 lost").arg(where);
    } else if (httpStatus != 0) {
        why = tr("%1 answered HTTP %2: is it a Herald server?").arg(where).arg(httpStatus);
    } else {
        switch (m_socketError) {
        case QAbstractSocket::ConnectionRefusedError:
            why = tr("Server %1 is gone (connection refused)").arg(where);
            break;
        case QAbstractSocket::HostNotFoundError:
            why = tr("Host %1 not found").arg(m_url.host());
            break;
        default:
            why = m_socketErrorText.isEmpty() ? tr("Cannot reach %1").arg(where)
                                              : tr("Cannot reach %1: %2").arg(where, m_socketErrorText);
            break;
        }
    }
    const auto delay = m_backoff.next();
    const int attempt = m_backoff.attempts();
    m_retryTimer.start(delay);
    setState(State::Reconnecting, tr("%1; retrying in %2 s (attempt %3)")
                                      .arg(why, QString::number(double(delay.count()) / 1000.0, 'f', 1))
                                      .arg(attempt));
    Q_EMIT reconnectScheduled(attempt, int(delay.count()));
}

void AdminClient::setState(State state, const QString &text)
{
    if (state == m_state && text == m_statusText)
        return;
    m_state = state;
    m_statusText = text;
    if (state == State::Connected || state == State::Reconnecting)
        qCInfo(lcAdminClient).noquote() << text;
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

void AdminClient::handleFrame(const QString &text)
{
    m_lastFrame.start();
    m_lastFrameMs = QDateTime::currentMSecsSinceEpoch();
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(text.toUtf8(), &error);
    if (!doc.isObject()) {
        qCWarning(lcAdminClient) << "ignoring a frame that is not a JSON object:" << error.errorString();
        return;
    }
    const QJsonObject o = doc.object();
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
    if (!m_socket || m_state != State::Connected)
        return {};
    const QString ref = u"dash-%1"_s.arg(m_nextRef++);
    object.insert("ref"_L1, ref);
    m_socket->sendTextMessage(QString::fromUtf8(compactJson(object)));
    return ref;
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
