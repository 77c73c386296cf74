#include "notifierlink.h"

#include "historymodel.h"
#include "notificationcenter.h"
#include "notifierlogging.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSet>
#include <QUrlQuery>

#include <algorithm>
#include <utility>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// The newest this many notifications fill the history window at start (the server allows up to 1000).
constexpr int HistoryLimit = 500;
} // namespace

NotifierLink::NotifierLink(NotificationCenter *center, TrayApp *tray, QObject *parent)
    : QObject(parent)
    , m_center(center)
    , m_tray(tray)
    , m_client(new Client(this))
{
    connect(m_client, &Client::messageReceived, this, &NotifierLink::onMessage);
    connect(m_client, &Client::replaced, this, &NotifierLink::onReplaced);
    connect(m_client, &Client::withdrawn, this, [this](qint64 id, const QString &) {
        m_replayed.removeIf([id](const Message &m) { return m.id == id; });
        m_center->removeMessages({id});
    });
    connect(m_client, &Client::expired, this,
            [this](qint64 id, const QString &) { m_center->removeMessages({id}); });
    connect(m_client, &Client::readStateChanged, this, &NotifierLink::onReadState);
    connect(m_client, &Client::stateChanged, this, &NotifierLink::onState);
    connect(m_client, &Client::retryScheduled, this, &NotifierLink::onRetry);
    m_countdown.setInterval(1000);
    connect(&m_countdown, &QTimer::timeout, this, [this] {
        if (m_client->state() == Client::State::Offline)
            onRetry(m_client->nextRetryAt(), 0);
        else
            m_countdown.stop();
    });
    connect(m_client, &Client::replayStarted, this, [this](const ReplayInfo &info) {
        qCInfo(lcNotifier) << "catching up on" << info.count << "messages since" << info.since;
        m_replaying = true;
        if (!info.recovered)
            loadHistory(); // some of what was missed is gone from the replay: the REST list has the rest
    });
    connect(m_client, &Client::replayFinished, this, &NotifierLink::endReplay);
    connect(m_client, &Client::historyReset, this, [this] { loadHistory(); });
    connect(m_client, &Client::settingsChanged, this, [this](const QString &, const QJsonObject &settings) {
        m_quiet = QuietRule::fromJson(settings);
    });
    connect(m_client, &Client::errorOccurred, this,
            [](Client::Error, const QString &text) { qCWarning(lcNotifier).noquote() << text; });
    connect(m_client, &Client::requestFinished, this,
            [this](int requestId, bool ok, int, const QJsonObject &reply) {
                if (requestId == m_settingsRequest) {
                    m_settingsRequest = 0;
                    if (ok)
                        m_quiet = QuietRule::fromJson(reply);
                } else if (requestId == m_historyRequest) {
                    m_historyRequest = 0;
                    if (!ok)
                        return;
                    int count = 0;
                    const QJsonArray list = reply.value("notifications"_L1).toArray();
                    for (const QJsonValue &value : list) {
                        const QJsonObject o = value.toObject();
                        auto message = Message::fromJson(o);
                        if (!message)
                            continue;
                        // Into the history only: what was there before this start is not news.
                        m_center->history()->addMessage(*message);
                        if (o.value("read"_L1).toBool())
                            m_center->history()->setRead({message->id});
                        ++count;
                    }
                    Q_EMIT historyLoaded(count);
                } else if (m_replyRequests.contains(requestId)) {
                    Q_EMIT replyPublished(m_replyRequests.take(requestId), ok);
                }
            });

    // What the person does in the history window or on a pop-up goes to the server, so the page and the
    // dashboard see it too (and their read events come back here, changing nothing).
    connect(m_center, &NotificationCenter::readRequested, this,
            [this](const QList<qint64> &ids) { m_client->markRead(ids); });
    connect(m_center, &NotificationCenter::allReadRequested, this, [this](qint64 upTo) {
        m_client->markAllRead(upTo);
    }); // what it has shown, not what is on its way
    connect(m_center, &NotificationCenter::replyRequested, this,
            [this](qint64 messageId, const NotificationAction &action) {
                const QString text = action.message.isEmpty() ? action.label : action.message;
                m_replyRequests.insert(m_client->publish(action.channel, QJsonObject{{"message"_L1, text}}),
                                       messageId);
            });
}

NotifierLink::~NotifierLink()
{
    m_client->saveResumePosition();
}

QString NotifierLink::subjectOfToken(const QString &token)
{
    const QStringList parts = token.trimmed().split(u'.');
    if (parts.size() != 3)
        return {};
    const auto payload = QByteArray::fromBase64Encoding(
        parts.at(1).toLatin1(), QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals |
                                    QByteArray::AbortOnBase64DecodingErrors);
    if (!payload)
        return {};
    const QJsonObject claims = QJsonDocument::fromJson(*payload).object();
    const QJsonValue sub = claims.value("sub"_L1);
    return sub.isString() ? sub.toString() : (sub.isDouble() ? QString::number(sub.toInteger()) : QString());
}

bool NotifierLink::start(const Config &config)
{
    m_error.clear();
    if (m_client->state() != Client::State::Idle) {
        // Started again (other settings): what was held of a replay belongs to the old connection.
        m_client->close();
        endReplay();
    }
    if (!m_client->setServerUrl(config.server)) {
        m_error = u"not a usable server URL: %1"_s.arg(config.server.toString());
        return false;
    }
    QString user = config.userId;
    if (user.isEmpty())
        user = subjectOfToken(config.token);
    m_client->setToken(config.token);
    m_client->setUserId(user);
    m_client->setChannels(config.channels);
    m_resumeBase = config.resumeFile;
    follow(m_client->serverUrl(), user);
    if (user.isEmpty()) {
        // The token comes from the keyring later (setToken) and names the user.
        setConnectionState(TrayApp::ConnectionState::Offline, tr("waiting for the token"));
        return true;
    }
    m_client->open();
    loadSettings();
    loadHistory();
    return true;
}

void NotifierLink::setToken(const QString &token)
{
    if (token == m_client->token() && m_client->state() != Client::State::Idle)
        return;
    m_client->setToken(token);
    if (m_client->userId().isEmpty())
        m_client->setUserId(subjectOfToken(token));
    follow(m_client->serverUrl(), m_client->userId());
    if (m_client->userId().isEmpty()) {
        setConnectionState(TrayApp::ConnectionState::Offline, tr("the token names no user"));
        return;
    }
    m_client->close();
    m_client->open();
    loadSettings();
    loadHistory();
}

QString NotifierLink::resumeFileFor(const QString &base, const QUrl &server, const QString &userId)
{
    // One position per server and user: ids of another server, or of what another user was sent, say
    // nothing about this one's queue.
    const QByteArray key =
        QCryptographicHash::hash((server.toString() + u'\n' + userId).toUtf8(), QCryptographicHash::Sha1)
            .toHex()
            .left(12);
    const QFileInfo info(base);
    return info.dir().filePath(u"%1-%2.%3"_s.arg(info.completeBaseName(), QString::fromLatin1(key),
                                                 info.suffix().isEmpty() ? u"json"_s : info.suffix()));
}

void NotifierLink::follow(const QUrl &server, const QString &userId)
{
    if (userId.isEmpty())
        return; // the token that names the user comes later
    const QString followed = server.toString() + u'\n' + userId;
    if (followed == m_followed)
        return;
    if (!m_followed.isEmpty()) {
        // Another user or server: the old one's notifications and position are not this one's.
        m_client->saveResumePosition();
        m_client->setResumePosition(-1, {});
        m_center->clear();
        endReplay();
    }
    m_followed = followed;
    if (!m_resumeBase.isEmpty())
        m_client->setResumeFile(resumeFileFor(m_resumeBase, server, userId));
}

void NotifierLink::stop()
{
    m_client->close();
}

void NotifierLink::loadHistory()
{
    if (m_historyRequest != 0 || m_client->userId().isEmpty())
        return;
    QUrlQuery query;
    query.addQueryItem(u"user_id"_s, m_client->userId());
    query.addQueryItem(u"limit"_s, QString::number(HistoryLimit));
    m_historyRequest =
        m_client->request("GET", u"/api/notifications?"_s + query.toString(QUrl::FullyEncoded));
}

NotifierLink::QuietRule NotifierLink::QuietRule::fromJson(const QJsonObject &settings)
{
    QuietRule rule;
    rule.minPriority = std::clamp(settings.value("min_priority"_L1).toInt(4), 1, 5);
    const QJsonObject window = settings.value("quiet_hours"_L1).toObject();
    rule.start = QTime::fromString(window.value("start"_L1).toString(), u"HH:mm"_s);
    rule.end = QTime::fromString(window.value("end"_L1).toString(), u"HH:mm"_s);
    rule.zone = QTimeZone(window.value("timezone"_L1).toString().toUtf8());
    rule.hasWindow = rule.start.isValid() && rule.end.isValid() && rule.zone.isValid();
    return rule;
}

bool NotifierLink::QuietRule::isQuiet(int priority, const QDateTime &when) const
{
    if (!hasWindow || priority >= minPriority)
        return false;
    if (start == end)
        return true;
    const QTime local = when.toTimeZone(zone).time();
    return start < end ? (local >= start && local < end) : (local >= start || local < end);
}

void NotifierLink::loadSettings()
{
    if (m_settingsRequest != 0 || m_client->userId().isEmpty())
        return;
    m_settingsRequest = m_client->request("GET", u"/api/users/%1/settings"_s.arg(QString::fromLatin1(
                                                     QUrl::toPercentEncoding(m_client->userId()))));
}

Message NotifierLink::withQuietRule(const Message &message) const
{
    // The user's queue is the server's to mark (it knows when the message was published).
    if (message.notification.quiet || message.channel == u"user:"_s + m_client->userId())
        return message;
    Message m = message;
    m.notification.quiet =
        m_quiet.isQuiet(message.notification.effectivePriority(), QDateTime::currentDateTimeUtc());
    return m;
}

void NotifierLink::onMessage(const Message &received, Client::Delivery delivery)
{
    const Message message = withQuietRule(received);
    if (delivery == Client::Delivery::Replayed && m_replaying) {
        m_replayed.append(message);
        return;
    }
    m_center->addMessage(message);
}

void NotifierLink::onReplaced(qint64 replacedId, const Message &message, Client::Delivery delivery)
{
    Message update = withQuietRule(message);
    update.notification.replaces = replacedId;
    if (delivery == Client::Delivery::Replayed && m_replaying) {
        // The old one never showed: only its update will.
        const auto before = m_replayed.size();
        m_replayed.removeIf([replacedId](const Message &m) { return m.id == replacedId; });
        if (m_replayed.size() != before)
            update.notification.replaces = 0;
        m_replayed.append(update);
        return;
    }
    m_center->addMessage(update);
}

void NotifierLink::onReadState(const ReadEvent &event)
{
    switch (event.kind) {
    case ReadEvent::Kind::Read:
        if (event.all)
            m_center->markAllRead(event.upTo);
        else
            m_center->setRead(event.ids, true);
        break;
    case ReadEvent::Kind::Unread:
        m_center->setRead(event.ids, false);
        break;
    case ReadEvent::Kind::Deleted: {
        const QSet<qint64> gone(event.ids.cbegin(), event.ids.cend());
        m_replayed.removeIf([&gone](const Message &m) { return gone.contains(m.id); });
        m_center->removeMessages(event.ids);
        break;
    }
    }
    if (!m_replaying || m_replayed.isEmpty() || event.kind != ReadEvent::Kind::Read)
        return;
    // Read meanwhile (in the page, say) while this was away: listed as read, never popped up.
    const QSet<qint64> read(event.ids.cbegin(), event.ids.cend());
    QList<Message> keep;
    for (const Message &m : std::as_const(m_replayed)) {
        if (read.contains(m.id) || (event.all && (event.upTo <= 0 || m.id <= event.upTo))) {
            m_center->history()->addMessage(m);
            m_center->history()->setRead({m.id});
        } else {
            keep.append(m);
        }
    }
    m_replayed = keep;
}

void NotifierLink::endReplay()
{
    m_replaying = false;
    const QList<Message> batch = std::exchange(m_replayed, {});
    if (batch.isEmpty())
        return;
    for (const Message &m : batch) {
        const Message *known = m_center->history()->message(m.id);
        if (known && m_center->history()->isRead(m.id))
            continue; // listed from REST as read already
        m_center->addMessage(m);
    }
    // All of it decided at once: a burst makes one summary.
    m_center->flush();
}

void NotifierLink::onState(Client::State state, const QString &text)
{
    if (state != Client::State::Offline)
        m_countdown.stop();
    switch (state) {
    case Client::State::Connected:
        setConnectionState(TrayApp::ConnectionState::Online, m_client->serverUrl().toString());
        break;
    case Client::State::Connecting:
        setConnectionState(TrayApp::ConnectionState::Connecting, m_client->serverUrl().toString());
        break;
    case Client::State::Offline:
        // A replay cut short: what did arrive is decided on now (the next resume sends only the rest).
        if (m_replaying)
            endReplay();
        onRetry(m_client->nextRetryAt(), 0);
        break;
    case Client::State::Refused:
    case Client::State::Idle:
        if (m_replaying)
            endReplay();
        setConnectionState(TrayApp::ConnectionState::Offline, text);
        break;
    }
}

void NotifierLink::onRetry(const QDateTime &at, int)
{
    if (!at.isValid())
        return;
    const qint64 seconds = std::max<qint64>(0, (QDateTime::currentDateTimeUtc().msecsTo(at) + 999) / 1000);
    setConnectionState(TrayApp::ConnectionState::Retrying, tr("retrying in %1 s").arg(seconds));
    if (!m_countdown.isActive())
        m_countdown.start();
}

void NotifierLink::setConnectionState(TrayApp::ConnectionState state, const QString &detail)
{
    if (m_tray)
        m_tray->setConnectionState(state, detail);
    Q_EMIT connectionStateChanged(state, detail);
}

} // namespace Herald
