#pragma once

// Helpers for tests on real sockets: a WebSocket client that records every frame, blocking HTTP calls, and a
// raw TCP exchange for malformed requests. Everything talks to 127.0.0.1 only.

#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QTimer>
#include <QUrl>
#include <QWebSocket>

#include <algorithm>
#include <memory>
#include <vector>

namespace HeraldTest {

using namespace Qt::StringLiterals;

inline QJsonObject parseObject(const QByteArray &bytes)
{
    return QJsonDocument::fromJson(bytes).object();
}

class WsClient : public QObject
{
public:
    explicit WsClient(QObject *parent = nullptr)
        : QObject(parent)
    {
        m_ws.setParent(this);
        QObject::connect(&m_ws, &QWebSocket::textMessageReceived, this, [this](const QString &text) {
            m_raw.append(text);
            m_frames.append(QJsonDocument::fromJson(text.toUtf8()).object());
        });
        QObject::connect(&m_ws, &QWebSocket::disconnected, this, [this] {
            m_closeCode = int(m_ws.closeCode());
            m_closeReason = m_ws.closeReason();
            m_disconnected = true;
        });
    }

    bool open(quint16 port, const QString &pathAndQuery, int timeoutMs = 5000)
    {
        m_disconnected = false;
        m_ws.abort();
        m_ws.open(QUrl(u"ws://127.0.0.1:%1%2"_s.arg(port).arg(pathAndQuery)));
        QElapsedTimer t;
        t.start();
        while (m_ws.state() != QAbstractSocket::ConnectedState && !m_disconnected && t.elapsed() < timeoutMs)
            QTest::qWait(5);
        return m_ws.state() == QAbstractSocket::ConnectedState;
    }

    void send(const QJsonObject &o)
    {
        m_ws.sendTextMessage(QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact)));
    }
    void sendText(const QString &text) { m_ws.sendTextMessage(text); }
    void sendBinary(const QByteArray &bytes) { m_ws.sendBinaryMessage(bytes); }
    void close() { m_ws.close(); }

    // Waits for the first not-yet-consumed frame of the given type and consumes it.
    std::optional<QJsonObject> waitFor(const QString &type, int timeoutMs = 5000)
    {
        QElapsedTimer t;
        t.start();
        do {
            for (qsizetype i = 0; i < m_frames.size(); ++i) {
                if (m_frames.at(i).value("type"_L1).toString() == type) {
                    const QJsonObject o = m_frames.takeAt(i);
                    return o;
                }
            }
            QTest::qWait(5);
        } while (t.elapsed() < timeoutMs);
        return std::nullopt;
    }
    // True if no frame of this type arrives within the given time.
    bool noFrame(const QString &type, int waitMs = 300)
    {
        QTest::qWait(waitMs);
        for (const QJsonObject &o : std::as_const(m_frames)) {
            if (o.value("type"_L1).toString() == type)
                return false;
        }
        return true;
    }
    bool waitDisconnected(int timeoutMs = 5000)
    {
        QElapsedTimer t;
        t.start();
        while (!m_disconnected && t.elapsed() < timeoutMs)
            QTest::qWait(5);
        return m_disconnected;
    }

    QList<QJsonObject> &frames() { return m_frames; }
    const QStringList &raw() const { return m_raw; }
    bool isConnected() const { return m_ws.state() == QAbstractSocket::ConnectedState; }
    int closeCode() const { return m_closeCode; }
    QString closeReason() const { return m_closeReason; }
    QWebSocket &socket() { return m_ws; }

private:
    QWebSocket m_ws;
    QList<QJsonObject> m_frames;
    QStringList m_raw;
    bool m_disconnected = false;
    int m_closeCode = 0;
    QString m_closeReason;
};

struct HttpResult
{
    int status = 0;
    QByteArray body;
    QByteArray contentType;
    QList<QNetworkReply::RawHeaderPair> headers;
    QJsonObject json() const { return parseObject(body); }
};

// A loopback port free a moment ago, for a server started as a separate process (in-process ones use port 0).
inline quint16 freePort()
{
    QTcpServer s;
    s.listen(QHostAddress::LocalHost, 0);
    return s.serverPort();
}

inline HttpResult http(const QByteArray &method, quint16 port, const QString &path,
                       const QByteArray &body = {}, const QList<QPair<QByteArray, QByteArray>> &headers = {})
{
    QNetworkAccessManager nam;
    QNetworkRequest request(QUrl(u"http://127.0.0.1:%1%2"_s.arg(port).arg(path)));
    if (!body.isEmpty())
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
    for (const auto &[k, v] : headers)
        request.setRawHeader(k, v);
    QNetworkReply *reply = nam.sendCustomRequest(request, method, body);
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(10000, &loop, &QEventLoop::quit);
    loop.exec();
    HttpResult r;
    r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    r.body = reply->readAll();
    r.contentType = reply->header(QNetworkRequest::ContentTypeHeader).toByteArray();
    r.headers = reply->rawHeaderPairs();
    delete reply;
    return r;
}

// One request of a batch sent at once (sendConcurrently); port 0 takes the batch's default port.
struct Flight
{
    QByteArray method;
    QString path;
    QByteArray body;
    quint16 port = 0;
};

// Sends every request at once over several connections (so the servers' threads take them concurrently)
// and returns the answers in request order; status 0 for one that got no answer in time.
inline QList<HttpResult> sendConcurrently(const QList<Flight> &flights, quint16 defaultPort = 0,
                                          int timeoutMs = 20000)
{
    std::vector<std::unique_ptr<QNetworkAccessManager>> nams;
    for (int i = 0; i < 3; ++i)
        nams.push_back(std::make_unique<QNetworkAccessManager>());
    QList<QNetworkReply *> replies;
    for (qsizetype i = 0; i < flights.size(); ++i) {
        const Flight &f = flights.at(i);
        const quint16 port = f.port ? f.port : defaultPort;
        QNetworkRequest request(QUrl(u"http://127.0.0.1:%1%2"_s.arg(port).arg(f.path)));
        if (!f.body.isEmpty())
            request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
        replies.append(nams.at(size_t(i) % nams.size())->sendCustomRequest(request, f.method, f.body));
    }
    QElapsedTimer t;
    t.start();
    auto allFinished = [&replies] {
        return std::all_of(replies.cbegin(), replies.cend(),
                           [](QNetworkReply *r) { return r->isFinished(); });
    };
    while (!allFinished() && t.elapsed() < timeoutMs)
        QTest::qWait(5);
    QList<HttpResult> results;
    for (QNetworkReply *reply : std::as_const(replies)) {
        HttpResult r;
        if (reply->isFinished()) {
            r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            r.body = reply->readAll();
            r.headers = reply->rawHeaderPairs();
        }
        results.append(r);
    }
    return results; // the replies go with their managers
}

// Sends raw bytes and returns everything the server wrote until it closed or the timeout passed. Spins the
// event loop rather than blocking, so it works against a server running in the same thread.
inline QByteArray rawExchange(quint16 port, const QByteArray &bytes, int timeoutMs = 3000)
{
    QTcpSocket s;
    s.connectToHost(u"127.0.0.1"_s, port);
    QElapsedTimer t;
    t.start();
    while (s.state() != QAbstractSocket::ConnectedState && t.elapsed() < timeoutMs)
        QTest::qWait(5);
    if (s.state() != QAbstractSocket::ConnectedState)
        return {};
    s.write(bytes);
    QByteArray out;
    while (t.elapsed() < timeoutMs && s.state() == QAbstractSocket::ConnectedState) {
        QTest::qWait(10);
        out += s.readAll();
    }
    out += s.readAll();
    return out;
}

} // namespace HeraldTest
