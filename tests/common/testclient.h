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

#include <QtEndian>

#include <algorithm>
#include <memory>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

// The "id" of each object in a JSON array (a list of records, of stored notifications …), in order.
inline QList<qint64> idsIn(const QJsonArray &objects)
{
    QList<qint64> ids;
    for (const QJsonValue &v : objects)
        ids.append(v.toObject().value("id"_L1).toInteger());
    return ids;
}

// The next frame of `type` the client gets, cut to the keys of `like`, so that a QCOMPARE with `like` checks
// those fields and shows them all where one differs; {"error": "no <type> frame"} if none comes.
inline QJsonObject nextFrameLike(WsClient &c, const QString &type, const QJsonObject &like)
{
    const auto frame = c.waitFor(type);
    if (!frame)
        return {{"error"_L1, u"no %1 frame"_s.arg(type)}};
    QJsonObject cut;
    for (auto it = like.begin(); it != like.end(); ++it) {
        if (frame->contains(it.key()))
            cut.insert(it.key(), frame->value(it.key()));
    }
    return cut;
}

// The "replay" notice a resuming client gets first, cut to the keys of `like` (see nextFrameLike).
inline QJsonObject replayNotice(WsClient &c, const QJsonObject &like)
{
    return nextFrameLike(c, u"replay"_s, like);
}

// A WebSocket client on the loopback port's `pathAndQuery`, open; null if it did not open (within 5 s).
inline std::unique_ptr<WsClient> openWs(quint16 port, const QString &pathAndQuery)
{
    auto c = std::make_unique<WsClient>();
    if (!c->open(port, pathAndQuery))
        return nullptr;
    return c;
}

// Connects `socket` to the loopback port with a small receive window (SO_RCVBUF before connect()) and a Qt
// read buffer of the same size: a client that stops reading then holds little, and the server sees it stall
// after a few KB instead of megabytes.
// A loopback connection whose SO_RCVBUF is set before connect(), so the window the server sees stays small;
// -1 on failure. Blocking is fine: the kernel completes the handshake before anyone accepts.
inline int connectSmallDescriptor(quint16 port, int receiveBuffer)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = qToBigEndian<quint16>(port);
    address.sin_addr.s_addr = qToBigEndian<quint32>(0x7f000001);
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

inline bool connectSmall(QTcpSocket &socket, quint16 port, int receiveBuffer)
{
    const int fd = connectSmallDescriptor(port, receiveBuffer);
    if (fd < 0 || !socket.setSocketDescriptor(fd))
        return false;
    socket.setReadBufferSize(receiveBuffer);
    return true;
}

// A raw SSE client: records every event (id, event name, data object) and the comments.
class SseClient
{
public:
    // receiveBuffer > 0: a small SO_RCVBUF and Qt read buffer, so that a client that stops calling poll()
    // stops reading, as a stalled consumer does.
    void setReceiveBuffer(int bytes) { m_receiveBuffer = bytes; }

    bool open(quint16 port, const QByteArray &pathAndQuery, const QByteArray &extraHeaders = {})
    {
        if (m_receiveBuffer > 0) {
            if (!connectSmall(m_socket, port, m_receiveBuffer))
                return false;
        } else {
            m_socket.connectToHost(u"127.0.0.1"_s, port);
            if (!m_socket.waitForConnected(5000))
                return false;
        }
        m_socket.write("GET " + pathAndQuery +
                       " HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n" + extraHeaders +
                       "\r\n");
        return true;
    }
    void close() { m_socket.abort(); }
    bool isConnected() const { return m_socket.state() == QAbstractSocket::ConnectedState; }
    QTcpSocket &socket() { return m_socket; }

    struct Event
    {
        qint64 id = 0;
        QByteArray name;
        QJsonObject data;
    };

    // Parses whatever arrived into events.
    void poll()
    {
        if (m_socket.isOpen())
            m_buffer += m_socket.readAll();
        if (!m_headDone) {
            const qsizetype end = m_buffer.indexOf("\r\n\r\n");
            if (end < 0)
                return;
            m_head = m_buffer.left(end);
            m_buffer.remove(0, end + 4);
            m_headDone = true;
        }
        qsizetype end;
        while ((end = m_buffer.indexOf("\n\n")) >= 0) {
            const QByteArray block = m_buffer.left(end);
            m_buffer.remove(0, end + 2);
            Event e;
            bool hasData = false;
            for (const QByteArray &line : block.split('\n')) {
                if (line.startsWith("id: "))
                    e.id = line.mid(4).toLongLong();
                else if (line.startsWith("event: "))
                    e.name = line.mid(7);
                else if (line.startsWith("data: ")) {
                    e.data = parseObject(line.mid(6));
                    hasData = true;
                }
            }
            if (hasData)
                m_events.append(e);
        }
    }
    // Waits until at least n events arrived.
    bool waitForEvents(qsizetype n, int timeoutMs = 10000)
    {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < timeoutMs) {
            poll();
            if (m_events.size() >= n)
                return true;
            QTest::qWait(5);
        }
        return false;
    }
    QList<Event> &events() { return m_events; }
    const QByteArray &head() const { return m_head; }

private:
    QTcpSocket m_socket;
    QByteArray m_buffer;
    QByteArray m_head;
    bool m_headDone = false;
    QList<Event> m_events;
    int m_receiveBuffer = 0;
};

// A client that sends its request (a WebSocket upgrade or an event stream) and then never reads.
class StalledReader
{
public:
    bool open(quint16 port, const QByteArray &pathAndQuery, bool webSocket)
    {
        if (!connectSmall(m_socket, port, 4096))
            return false;
        QByteArray request = "GET " + pathAndQuery + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        if (webSocket)
            request += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        else
            request += "Accept: text/event-stream\r\n";
        m_socket.write(request + "\r\n");
        return m_socket.waitForBytesWritten(5000);
    }
    // Whether the server ended the connection (the socket sees the close once its small buffer has room: the
    // server's abort resets it).
    bool isConnected() const { return m_socket.state() == QAbstractSocket::ConnectedState; }

private:
    QTcpSocket m_socket;
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
