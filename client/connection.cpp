#include "connection.h"

#include "clientlogging.h"

#include <QJsonDocument>
#include <QNetworkRequest>
#include <QRegularExpression>
#include <QUrlQuery>
#include <QWebSocket>

#include <algorithm>
#include <limits>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
constexpr int CloseGoingAway = 1001;
constexpr int ClosePolicyViolation = 1008;
constexpr std::chrono::milliseconds DefaultConnectTimeout{10000};
} // namespace

Connection::Connection(QObject *parent)
    : QObject(parent)
{
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &Connection::connectNow);
    m_connectTimeout.setSingleShot(true);
    m_connectTimeout.setInterval(DefaultConnectTimeout);
    connect(&m_connectTimeout, &QTimer::timeout, this, [this] {
        m_timedOut = true;
        scheduleClosed();
    });
    m_heartbeat.setInterval(std::chrono::seconds(20));
    connect(&m_heartbeat, &QTimer::timeout, this, [this] {
        if (m_lastFrame.isValid() && m_lastFrame.elapsed() > 3 * m_heartbeat.interval()) {
            m_timedOut = true;
            scheduleClosed();
            return;
        }
        if (!m_heartbeatFrame.isEmpty())
            sendJson(m_heartbeatFrame);
    });
}

Connection::~Connection()
{
    if (m_socket) {
        disconnect(m_socket, nullptr, this, nullptr);
        m_socket->abort();
    }
}

void Connection::setHeartbeat(std::chrono::milliseconds interval, const QJsonObject &frame)
{
    m_heartbeat.setInterval(interval);
    m_heartbeatFrame = frame;
}

QString Connection::authority() const
{
    const int defaultPort = m_url.scheme() == u"wss"_s ? 443 : 80;
    return u"%1:%2"_s.arg(m_url.host()).arg(m_url.port(defaultPort));
}

QUrl Connection::httpUrl(const QUrl &wsUrl, const QString &route, const QString &path)
{
    QUrl url = wsUrl;
    url.setScheme(wsUrl.scheme().toLower() == u"wss"_s ? u"https"_s : u"http"_s);
    url.setUserInfo(QString());
    url.setQuery(QString());
    url.setFragment(QString());
    // A server behind a reverse proxy under /herald/ keeps the prefix.
    QString prefix = wsUrl.path();
    if (prefix.endsWith(route))
        prefix.chop(route.size());
    else
        prefix.clear();
    url.setPath(prefix + path);
    return url;
}

QUrl Connection::wsUrlFromText(const QString &text, const QString &route)
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
        url.setPath(route);
    return url;
}

void Connection::open()
{
    m_wanted = true;
    m_backoff.reset();
    connectNow();
}

void Connection::close()
{
    m_wanted = false;
    m_retryTimer.stop();
    m_connectTimeout.stop();
    m_heartbeat.stop();
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

bool Connection::sendJson(const QJsonObject &frame)
{
    if (!m_socket || m_state != State::Connected)
        return false;
    m_socket->sendTextMessage(QString::fromUtf8(QJsonDocument(frame).toJson(QJsonDocument::Compact)));
    return true;
}

void Connection::connectNow()
{
    m_retryTimer.stop();
    m_heartbeat.stop();
    if (m_socket) {
        disconnect(m_socket, nullptr, this, nullptr);
        m_socket->abort();
        m_socket->deleteLater();
        m_socket = nullptr;
    }
    ++m_generation;
    m_closeScheduled = false;
    m_timedOut = false;
    m_refusalStatus = 0;
    m_socketError = QAbstractSocket::UnknownSocketError;
    m_socketErrorText.clear();

    if (!m_url.isValid() || m_url.host().isEmpty()) {
        m_wanted = false;
        setState(State::Idle, tr("No server URL"));
        return;
    }

    // A fresh socket per attempt: nothing (close code, error string) carries over from the last one.
    m_socket = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    connect(m_socket, &QWebSocket::connected, this, [this] {
        m_connectTimeout.stop();
        m_backoff.reset();
        m_lastFrame.start();
        m_lastFrameMs = QDateTime::currentMSecsSinceEpoch();
        m_heartbeat.start();
        setState(State::Connected, tr("Connected to %1").arg(authority()));
        Q_EMIT opened();
    });
    connect(m_socket, &QWebSocket::textMessageReceived, this, &Connection::handleText);
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

    QUrl url = m_url;
    if (m_urlHook)
        m_urlHook(url);
    QNetworkRequest request;
    if (!m_token.isEmpty()) {
        if (m_tokenInQuery) {
            QUrlQuery query(url);
            query.removeAllQueryItems(u"token"_s);
            query.addQueryItem(u"token"_s, QString::fromLatin1(QUrl::toPercentEncoding(m_token)));
            url.setQuery(query);
        }
        request.setRawHeader("Authorization", "Bearer " + m_token.toUtf8());
    }
    request.setUrl(url);
    setState(State::Connecting, tr("Connecting to %1…").arg(authority()));
    qCDebug(lcHeraldClient) << "connecting to" << m_url.toDisplayString();
    m_connectTimeout.start();
    m_socket->open(request);
}

void Connection::scheduleClosed()
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

void Connection::handleClosed()
{
    if (!m_socket)
        return;
    if (m_socket->state() == QAbstractSocket::ConnectedState && !m_timedOut) {
        // An error that did not end the connection.
        m_closeScheduled = false;
        return;
    }
    m_connectTimeout.stop();
    m_heartbeat.stop();
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
    m_refusalStatus = httpStatus;
    const QString where = authority();
    if (httpStatus == 401 || httpStatus == 403 || (wasConnected && closeCode == ClosePolicyViolation)) {
        const QString detail = httpStatus != 0 ? tr("HTTP %1").arg(httpStatus)
                               : closeReason.isEmpty()
                                   ? tr("close code %1").arg(closeCode)
                                   : tr("close code %1: %2").arg(closeCode).arg(closeReason);
        const QString text = tr("Token refused by %1 (%2)").arg(where, detail);
        qCWarning(lcHeraldClient).noquote() << text;
        m_wanted = false;
        setState(State::Refused, text);
        Q_EMIT refused(httpStatus, text);
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
    m_nextRetryAt = QDateTime::currentDateTimeUtc().addMSecs(delay.count());
    // QTimer takes int milliseconds.
    m_retryTimer.start(std::min(delay, std::chrono::milliseconds(std::numeric_limits<int>::max())));
    setState(State::Offline, tr("%1; retrying in %2 s (attempt %3)")
                                 .arg(why, QString::number(double(delay.count()) / 1000.0, 'f', 1))
                                 .arg(attempt));
    Q_EMIT retryScheduled(attempt, int(delay.count()));
}

void Connection::setState(State state, const QString &text)
{
    if (state == m_state && text == m_statusText)
        return;
    m_state = state;
    m_statusText = text;
    if (state == State::Connected || state == State::Offline)
        qCInfo(lcHeraldClient).noquote() << text;
    Q_EMIT stateChanged(state, text);
}

QString Connection::stateName(State state)
{
    switch (state) {
    case State::Idle:
        return u"idle"_s;
    case State::Connecting:
        return u"connecting"_s;
    case State::Connected:
        return u"connected"_s;
    case State::Offline:
        return u"offline"_s;
    case State::Refused:
        return u"refused"_s;
    }
    return u"idle"_s;
}

void Connection::handleText(const QString &text)
{
    m_lastFrame.start();
    m_lastFrameMs = QDateTime::currentMSecsSinceEpoch();
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(text.toUtf8(), &error);
    if (!doc.isObject()) {
        qCWarning(lcHeraldClient) << "ignoring a frame that is not a JSON object:" << error.errorString();
        return;
    }
    Q_EMIT frameReceived(doc.object());
}

} // namespace Herald
