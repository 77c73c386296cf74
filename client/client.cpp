#include "client.h"

#include "clientlogging.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSaveFile>
#include <QUrlQuery>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
constexpr std::chrono::milliseconds SaveDelay{250};
constexpr std::chrono::seconds PingInterval{20};

bool isMessageFrame(const QJsonObject &o)
{
    // A published message carries id, channel and timestamp whatever its type; control frames never carry
    // all three.
    return o.value("id"_L1).isDouble() && o.value("channel"_L1).isString() &&
           o.value("timestamp"_L1).isString();
}

QList<qint64> idList(const QJsonValue &value)
{
    QList<qint64> ids;
    const QJsonArray array = value.toArray();
    for (const QJsonValue &v : array) {
        if (v.isDouble())
            ids.append(v.toInteger());
    }
    return ids;
}
} // namespace

Client::Client(QObject *parent)
    : QObject(parent)
    , m_connection(new Connection(this))
{
    qRegisterMetaType<Herald::Message>();
    qRegisterMetaType<Herald::ReadEvent>();
    qRegisterMetaType<Herald::ReplayInfo>();
    m_connection->setHeartbeat(PingInterval, QJsonObject{{"type"_L1, "ping"_L1}});
    m_connection->setUrlHook([this](QUrl &url) { prepareUrl(url); });
    connect(m_connection, &Connection::opened, this, &Client::handleOpened);
    connect(m_connection, &Connection::frameReceived, this, &Client::handleFrame);
    connect(m_connection, &Connection::stateChanged, this, [this](State state, const QString &text) {
        if (state != State::Connected && state != State::Connecting) {
            // Whatever the replay had not sent yet comes again from the position on the next connect.
            m_replayRemaining = 0;
            m_fullReplay = false;
            saveResumePosition();
        }
        if (state != State::Connected)
            setState(state, text);
    });
    connect(m_connection, &Connection::retryScheduled, this,
            [this](int attempt, int) { Q_EMIT retryScheduled(m_connection->nextRetryAt(), attempt); });
    connect(m_connection, &Connection::refused, this, [this](int httpStatus, const QString &text) {
        Q_EMIT errorOccurred(httpStatus == 403 ? Error::Forbidden : Error::TokenRefused, text);
    });
    m_saveTimer.setSingleShot(true);
    m_saveTimer.setInterval(SaveDelay);
    connect(&m_saveTimer, &QTimer::timeout, this, &Client::saveResumePosition);
    m_expiryTimer.setSingleShot(true);
    connect(&m_expiryTimer, &QTimer::timeout, this, &Client::expireDue);
}

Client::~Client()
{
    saveResumePosition();
}

QUrl Client::wsUrl(const QString &text)
{
    QUrl url = Connection::wsUrlFromText(text, u"/ws"_s);
    // A path names where the server is (a reverse proxy's prefix): its WebSocket route is under it.
    if (!url.isEmpty() && !url.path().endsWith("/ws"_L1))
        url.setPath(url.path() + (url.path().endsWith(u'/') ? "ws"_L1 : "/ws"_L1));
    return url;
}

bool Client::setServerUrl(const QUrl &url)
{
    const QUrl ws = wsUrl(url.toString());
    if (ws.isEmpty())
        return false;
    m_url = ws;
    m_connection->setUrl(ws);
    return true;
}

void Client::setToken(const QString &token)
{
    m_connection->setToken(token);
}

void Client::setUserId(const QString &userId)
{
    m_userId = userId;
}

void Client::setChannels(const QStringList &channels)
{
    const QStringList before = m_channels;
    for (const QString &c : before) {
        if (!channels.contains(c))
            unsubscribe(c);
    }
    for (const QString &c : channels)
        subscribe(c);
}

void Client::subscribe(const QString &channel)
{
    if (channel.isEmpty() || m_channels.contains(channel))
        return;
    m_channels.append(channel);
    if (!m_connection->isConnected())
        return;
    QJsonObject frame{{"action"_L1, "subscribe"_L1}, {"channel"_L1, channel}};
    if (m_hasPosition) {
        frame.insert("since"_L1, m_lastId);
        if (!m_epoch.isEmpty())
            frame.insert("epoch"_L1, m_epoch);
    }
    m_connection->sendJson(frame);
}

void Client::unsubscribe(const QString &channel)
{
    if (!m_channels.removeOne(channel))
        return;
    m_connection->sendJson(QJsonObject{{"action"_L1, "unsubscribe"_L1}, {"channel"_L1, channel}});
}

QStringList Client::allChannels() const
{
    QStringList all;
    if (!m_userId.isEmpty())
        all.append(u"reads:"_s + m_userId); // user:<id> comes with ?user_id=
    for (const QString &c : m_channels) {
        if (!all.contains(c))
            all.append(c);
    }
    return all;
}

void Client::setResumeFile(const QString &path)
{
    saveResumePosition();
    m_resumeFile = path;
    loadResumeFile();
}

void Client::loadResumeFile()
{
    QFile file(m_resumeFile);
    if (m_resumeFile.isEmpty() || !file.exists())
        return;
    if (!file.open(QIODevice::ReadOnly)) {
        qCWarning(lcHeraldClient).noquote() << "cannot read" << m_resumeFile << file.errorString();
        return;
    }
    const QJsonObject o = QJsonDocument::fromJson(file.read(4096)).object();
    const QJsonValue last = o.value("last_id"_L1);
    if (!last.isDouble() || last.toInteger() < 0) {
        qCWarning(lcHeraldClient).noquote() << "ignoring" << m_resumeFile << ": no last_id in it";
        return;
    }
    m_lastId = last.toInteger();
    m_epoch = o.value("epoch"_L1).toString();
    m_hasPosition = true;
    m_dirty = false;
}

void Client::setResumePosition(qint64 lastId, const QString &epoch)
{
    m_hasPosition = lastId >= 0;
    m_lastId = std::max<qint64>(0, lastId);
    m_epoch = epoch;
    m_dirty = true;
    saveResumePosition();
}

void Client::saveResumePosition()
{
    m_saveTimer.stop();
    if (!m_dirty || m_resumeFile.isEmpty() || !m_hasPosition)
        return;
    m_dirty = false;
    QSaveFile file(m_resumeFile);
    const QJsonObject o{{"last_id"_L1, m_lastId}, {"epoch"_L1, m_epoch}};
    if (!file.open(QIODevice::WriteOnly) || file.write(QJsonDocument(o).toJson(QJsonDocument::Compact)) < 0 ||
        !file.commit())
        qCWarning(lcHeraldClient).noquote() << "cannot write" << m_resumeFile << file.errorString();
}

void Client::setPosition(qint64 lastId, const QString &epoch)
{
    if (m_hasPosition && lastId == m_lastId && epoch == m_epoch)
        return;
    m_hasPosition = true;
    m_lastId = lastId;
    m_epoch = epoch;
    m_dirty = true;
    if (!m_saveTimer.isActive())
        m_saveTimer.start();
    Q_EMIT positionChanged(m_lastId, m_epoch);
}

void Client::advance(qint64 id)
{
    if (id > m_lastId)
        setPosition(id, m_epoch);
}

void Client::open()
{
    m_connection->open();
}

void Client::close()
{
    m_connection->close();
    saveResumePosition();
}

void Client::prepareUrl(QUrl &url) const
{
    QUrlQuery query(url);
    const QStringList channels = allChannels();
    if (!channels.isEmpty())
        query.addQueryItem(u"channels"_s, channels.join(u','));
    if (!m_userId.isEmpty())
        query.addQueryItem(u"user_id"_s, m_userId);
    if (!m_clientId.isEmpty())
        query.addQueryItem(u"client_id"_s, m_clientId);
    if (m_hasPosition) {
        query.addQueryItem(u"since"_s, QString::number(m_lastId));
        if (!m_epoch.isEmpty())
            query.addQueryItem(u"epoch"_s, m_epoch);
    }
    url.setQuery(query);
}

void Client::setState(State state, const QString &text)
{
    if (state == m_state && text == m_statusText)
        return;
    m_state = state;
    m_statusText = text;
    Q_EMIT stateChanged(state, text);
}

void Client::handleOpened()
{
    // What prepareUrl sent: a connect with since is a full resume of every channel.
    m_resuming = m_hasPosition;
    m_fullReplay = false;
    m_replayRemaining = 0;
    m_replayTarget = 0;
}

void Client::handleFrame(const QJsonObject &o)
{
    if (isMessageFrame(o)) {
        handleMessage(o);
        return;
    }
    const QString type = o.value("type"_L1).toString();
    if (type == u"connected"_s) {
        // Without a position the client starts here: everything after last_id arrives live.
        if (!m_resuming)
            setPosition(o.value("last_id"_L1).toInteger(), o.value("epoch"_L1).toString());
        setState(State::Connected, m_connection->statusText());
    } else if (type == u"replay"_s) {
        handleReplayNotice(o);
    } else if (type == u"error"_s) {
        const QString text = o.value("code"_L1).toString() + u": "_s + o.value("message"_L1).toString();
        qCInfo(lcHeraldClient).noquote() << "server error" << text;
        Q_EMIT errorOccurred(Error::ServerError, text);
    }
}

void Client::handleReplayNotice(const QJsonObject &o)
{
    ReplayInfo info;
    info.since = o.value("since"_L1).toInteger();
    info.count = std::max(0, o.value("count"_L1).toInt());
    info.recovered = o.value("recovered"_L1).toBool(true);
    info.reason = o.value("reason"_L1).toString();
    info.lastId = o.value("last_id"_L1).toInteger();
    info.epoch = o.value("epoch"_L1).toString();
    if (info.reason == u"reset"_s) {
        // Our ids mean nothing here: count from the server's last id in its epoch, or the stale id would
        // be sent again on every reconnect.
        qCInfo(lcHeraldClient) << "history reset: position" << m_lastId << m_epoch << "→" << info.lastId
                               << info.epoch;
        m_resuming = false;
        m_fullReplay = false;
        m_replayRemaining = 0;
        // Set directly: the new last id may be below the old one.
        m_hasPosition = false;
        setPosition(info.lastId, info.epoch);
        Q_EMIT historyReset(info.lastId, info.epoch);
        return;
    }
    if (m_epoch.isEmpty() && !info.epoch.isEmpty())
        setPosition(m_lastId, info.epoch);
    if (m_resuming) {
        // The connect's own notice covers every channel up to last_id.
        m_fullReplay = true;
        m_resuming = false;
    }
    m_replayTarget = std::max(m_replayTarget, info.lastId);
    m_replayRemaining += info.count;
    Q_EMIT replayStarted(info);
    if (m_replayRemaining == 0)
        finishReplay();
}

void Client::finishReplay()
{
    m_replayRemaining = 0;
    // Everything on every channel up to the notice's last_id has been sent: a quiet set of channels
    // still moves the position forward, so the next resume does not reread what was already gone through.
    if (m_fullReplay && m_replayTarget > m_lastId)
        advance(m_replayTarget);
    m_fullReplay = false;
    Q_EMIT replayFinished();
}

void Client::handleMessage(const QJsonObject &o)
{
    const qint64 id = o.value("id"_L1).toInteger();
    if (id > 0 && m_hasPosition && id <= m_lastId) {
        qCDebug(lcHeraldClient) << "dropping message" << id << "at position" << m_lastId;
        return;
    }
    // Replayed messages never go past the notice's last_id: a later one is live, whatever the count said
    // (retention may have deleted some of the replay under way).
    if (m_replayRemaining > 0 && id > m_replayTarget)
        finishReplay();
    const Delivery delivery = m_replayRemaining > 0 ? Delivery::Replayed : Delivery::Live;

    const QString channel = o.value("channel"_L1).toString();
    const QString type = o.value("type"_L1).toString();
    if (channel.startsWith("reads:"_L1)) {
        handleReadsEvent(o, id);
    } else if (type == u"withdrawn"_s) {
        const qint64 gone = o.value("withdraws"_L1).toInteger();
        const qint64 sent = o.value("chain"_L1).toInteger();
        const qint64 chain = sent > 0 ? sent : gone;
        forgetExpiry(gone, chain);
        Q_EMIT withdrawn(gone, channel, chain);
    } else {
        auto message = Message::fromJson(o);
        if (!message) {
            qCWarning(lcHeraldClient).noquote() << "ignoring a malformed message:" << message.error().message;
        } else if (message->notification.isExpired(QDateTime::currentDateTimeUtc())) {
            qCDebug(lcHeraldClient) << "message" << id << "has expired";
        } else if (message->notification.replaces > 0) {
            forgetExpiry(message->notification.replaces, message->notification.chain);
            watchExpiry(*message);
            Q_EMIT replaced(message->notification.replaces, *message, delivery);
        } else {
            watchExpiry(*message);
            Q_EMIT messageReceived(*message, delivery);
        }
    }
    advance(id);
    if (m_replayRemaining > 0 && --m_replayRemaining == 0)
        finishReplay();
}

void Client::handleReadsEvent(const QJsonObject &o, qint64 id)
{
    const QString userId = o.value("channel"_L1).toString().mid(6);
    const QString type = o.value("type"_L1).toString();
    if (type == u"settings"_s) {
        Q_EMIT settingsChanged(userId, o.value("settings"_L1).toObject());
        return;
    }
    ReadEvent event;
    if (type == u"read"_s)
        event.kind = ReadEvent::Kind::Read;
    else if (type == u"unread"_s)
        event.kind = ReadEvent::Kind::Unread;
    else if (type == u"deleted"_s)
        event.kind = ReadEvent::Kind::Deleted;
    else
        return; // a kind of event this client does not know (wire fields are append-only)
    event.userId = userId;
    event.id = id;
    event.ids = idList(o.value("ids"_L1));
    event.all = o.value("all"_L1).toBool();
    event.upTo = o.value("up_to"_L1).toInteger();
    event.unread = o.value("unread"_L1).isDouble() ? o.value("unread"_L1).toInt() : -1;
    Q_EMIT readStateChanged(event);
}

void Client::watchExpiry(const Message &message)
{
    if (!message.notification.expires.isValid())
        return;
    const qint64 chain = message.chainId();
    const Expiry e{message.notification.expires, message.id, message.channel, chain};
    const auto at = std::upper_bound(m_expiries.begin(), m_expiries.end(), e,
                                     [](const Expiry &a, const Expiry &b) { return a.at < b.at; });
    m_expiries.insert(at, e);
    scheduleExpiry();
}

void Client::forgetExpiry(qint64 id, qint64 chain)
{
    m_expiries.removeIf(
        [id, chain](const Expiry &e) { return e.id == id || (chain > 0 && e.chain == chain); });
    scheduleExpiry();
}

void Client::scheduleExpiry()
{
    if (m_expiries.isEmpty()) {
        m_expiryTimer.stop();
        return;
    }
    // QTimer takes int milliseconds: a far expiry is looked at again in a day.
    const qint64 wait = QDateTime::currentDateTimeUtc().msecsTo(m_expiries.constFirst().at);
    m_expiryTimer.start(int(std::clamp<qint64>(wait, 0, 24 * 3600 * 1000)));
}

void Client::expireDue()
{
    const QDateTime now = QDateTime::currentDateTimeUtc();
    while (!m_expiries.isEmpty() && m_expiries.constFirst().at <= now) {
        const Expiry e = m_expiries.takeFirst();
        Q_EMIT expired(e.id, e.channel);
    }
    scheduleExpiry();
}

int Client::request(const QByteArray &method, const QString &path, const QJsonObject &body)
{
    const int id = m_nextRequest++;
    if (!m_http)
        m_http = new QNetworkAccessManager(this);
    QUrl url = Connection::httpUrl(m_url, u"/ws"_s, QString());
    const qsizetype q = path.indexOf(u'?');
    url.setPath(url.path() + path.left(q));
    if (q >= 0)
        url.setQuery(path.mid(q + 1));
    QNetworkRequest req(url);
    req.setTransferTimeout(10000);
    req.setHeader(QNetworkRequest::ContentTypeHeader, u"application/json"_s);
    if (!token().isEmpty())
        req.setRawHeader("Authorization", "Bearer " + token().toUtf8());
    const QByteArray data =
        body.isEmpty() ? QByteArray() : QJsonDocument(body).toJson(QJsonDocument::Compact);
    QNetworkReply *reply = m_http->sendCustomRequest(req, method, data);
    connect(reply, &QNetworkReply::finished, this, [this, reply, id, method] {
        reply->deleteLater();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QJsonObject answer = QJsonDocument::fromJson(reply->readAll()).object();
        const bool ok = reply->error() == QNetworkReply::NoError && status >= 200 && status < 300;
        if (!ok) {
            const QString text = answer.contains("error"_L1) ? answer.value("error"_L1).toString() + u": "_s +
                                                                   answer.value("detail"_L1).toString()
                                                             : reply->errorString();
            Q_EMIT errorOccurred(Error::RequestFailed,
                                 u"%1 %2: %3"_s.arg(QString::fromLatin1(method), reply->url().path(), text));
        }
        Q_EMIT requestFinished(id, ok, status, answer);
    });
    return id;
}

int Client::postIds(const QString &path, const QList<qint64> &ids)
{
    QJsonArray array;
    for (qint64 id : ids)
        array.append(id);
    return request("POST", path, QJsonObject{{"user_id"_L1, m_userId}, {"ids"_L1, array}});
}

int Client::markRead(const QList<qint64> &ids)
{
    return postIds(u"/api/notifications/read"_s, ids);
}

int Client::markUnread(const QList<qint64> &ids)
{
    return postIds(u"/api/notifications/unread"_s, ids);
}

int Client::markAllRead(qint64 upTo)
{
    QString path =
        u"/api/notifications/read-all?user_id="_s + QString::fromLatin1(QUrl::toPercentEncoding(m_userId));
    if (upTo > 0)
        path += u"&up_to="_s + QString::number(upTo);
    return request("POST", path);
}

int Client::publish(const QString &channel, const QJsonObject &fields)
{
    QJsonObject body = fields;
    body.insert("channel"_L1, channel);
    return request("POST", u"/api/publish"_s, body);
}

int Client::withdraw(qint64 id)
{
    return request("DELETE", u"/api/messages/%1"_s.arg(id));
}

int Client::deleteNotification(qint64 id)
{
    return request("DELETE", u"/api/notifications/%1"_s.arg(id));
}

} // namespace Herald
