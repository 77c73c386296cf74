#pragma once

// A client on a bare socket, for what QWebSocket and QNetworkAccessManager hide or do by themselves: the
// status of a refused upgrade, pings left unanswered, a reader that stops reading, requests cut or pipelined
// at will; and the requests it sends, built by hand. Everything talks to 127.0.0.1 only and spins the event
// loop while it waits, so it works against a server on the test's own thread.

#include "testclient.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QElapsedTimer>
#include <QJsonObject>
#include <QList>
#include <QTcpSocket>
#include <QTest>

#include <functional>

namespace HeraldTest {

using namespace Qt::StringLiterals;

// Spins the event loop (the listener and QHttpServer live on this thread) until done() or the timeout.
inline bool spinUntil(const std::function<bool()> &done, int timeoutMs)
{
    QElapsedTimer t;
    t.start();
    while (!done()) {
        if (t.elapsed() > timeoutMs)
            return false;
        QTest::qWait(2);
    }
    return true;
}

struct HttpReply
{
    int status = 0;
    QByteArray head;
    QByteArray body;

    QByteArray header(QByteArrayView name) const
    {
        for (const QByteArray &line : head.split('\n')) {
            const qsizetype colon = line.indexOf(':');
            if (colon > 0 && line.left(colon).trimmed().compare(name, Qt::CaseInsensitive) == 0)
                return line.mid(colon + 1).trimmed();
        }
        return {};
    }
    QJsonObject json() const { return parseObject(body); }
};

// A frame from the server (never masked).
struct WsFrame
{
    int opcode = 0;
    QByteArray payload;
    int closeCode() const
    {
        return payload.size() >= 2 ? (int(quint8(payload.at(0))) << 8) | quint8(payload.at(1)) : 0;
    }
    QString closeReason() const { return QString::fromUtf8(payload.mid(2)); }
};

inline bool takeFrame(QByteArray &buffer, WsFrame &frame)
{
    if (buffer.size() < 2)
        return false;
    qint64 length = quint8(buffer.at(1)) & 0x7f;
    qsizetype pos = 2;
    if (length == 126) {
        if (buffer.size() < 4)
            return false;
        length = (qint64(quint8(buffer.at(2))) << 8) | quint8(buffer.at(3));
        pos = 4;
    } else if (length == 127) {
        if (buffer.size() < 10)
            return false;
        length = 0;
        for (int i = 0; i < 8; ++i)
            length = (length << 8) | quint8(buffer.at(2 + i));
        pos = 10;
    }
    if (buffer.size() < pos + length)
        return false;
    frame.opcode = quint8(buffer.at(0)) & 0x0f;
    frame.payload = buffer.mid(pos, length);
    buffer.remove(0, pos + length);
    return true;
}

inline QByteArray httpRequest(const QByteArray &method, const QByteArray &target,
                              const QByteArray &headers = {}, const QByteArray &body = {})
{
    QByteArray r = method + ' ' + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers;
    if (method != "GET" && method != "HEAD")
        r += "Content-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\n";
    return r + "\r\n" + body;
}

// The same without "Connection: close": HTTP/1.1 keeps the connection unless told otherwise.
inline QByteArray keptRequest(const QByteArray &method, const QByteArray &target,
                              const QByteArray &headers = {}, const QByteArray &body = {})
{
    return method + ' ' + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers +
           (method == "GET" ? QByteArray() : "Content-Length: " + QByteArray::number(body.size()) + "\r\n") +
           "\r\n" + body;
}

inline QByteArray upgradeRequest(const QByteArray &target, const QByteArray &headers = {})
{
    return "GET " + target +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
           headers + "\r\n";
}

inline QByteArray bearer(const QByteArray &token)
{
    return "Authorization: Bearer " + token + "\r\n";
}

inline QByteArray withToken(const QByteArray &target, const QByteArray &token)
{
    return target + (target.contains('?') ? "&token=" : "?token=") + token;
}

// A client on a bare socket, for what QWebSocket and QNetworkAccessManager hide or do by themselves: the
// status of a refused upgrade, pings left unanswered, a reader that stops reading.
class RawClient
{
public:
    ~RawClient() { m_socket.abort(); }

    // receiveBuffer > 0: SO_RCVBUF set before connect(), so the window the server sees stays small.
    bool connectTo(quint16 port, int receiveBuffer = 0)
    {
        if (receiveBuffer <= 0) {
            // The signal, not the state: a server that refuses at once (429) may have closed it again
            // already.
            bool connected = false;
            const QMetaObject::Connection watch = QObject::connect(
                &m_socket, &QTcpSocket::connected, &m_socket, [&connected] { connected = true; });
            m_socket.connectToHost(u"127.0.0.1"_s, port);
            spinUntil([&] { return connected || m_socket.state() == QAbstractSocket::UnconnectedState; },
                      5000);
            QObject::disconnect(watch);
            return connected;
        }
        const int fd = connectSmallDescriptor(port, receiveBuffer);
        return fd >= 0 && m_socket.setSocketDescriptor(fd);
    }

    void write(const QByteArray &bytes) { m_socket.write(bytes); }
    bool isConnected() const { return m_socket.state() == QAbstractSocket::ConnectedState; }
    QTcpSocket &socket() { return m_socket; }

    // One HTTP response: the head, then a body of Content-Length (or up to the close). A 101 or an event
    // stream does not end: the head is all.
    HttpReply readResponse(int timeoutMs = 5000)
    {
        HttpReply r;
        qsizetype end = -1;
        spinUntil(
            [&] {
                pull();
                end = m_buffer.indexOf("\r\n\r\n");
                return end >= 0 || !isConnected();
            },
            timeoutMs);
        pull();
        end = m_buffer.indexOf("\r\n\r\n");
        if (end < 0)
            return r;
        r.head = m_buffer.left(end);
        m_buffer.remove(0, end + 4);
        r.status = r.head.mid(9, 3).toInt();
        if (r.status == 101 || r.header("content-type").startsWith("text/event-stream"))
            return r;
        const QByteArray length = r.header("content-length");
        if (!length.isEmpty()) {
            const qsizetype n = length.toLongLong();
            spinUntil(
                [&] {
                    pull();
                    return m_buffer.size() >= n || !isConnected();
                },
                timeoutMs);
            pull();
            r.body = m_buffer.left(n);
            m_buffer.remove(0, r.body.size());
        } else {
            spinUntil(
                [&] {
                    pull();
                    return !isConnected();
                },
                timeoutMs);
            pull();
            r.body = m_buffer;
            m_buffer.clear();
        }
        return r;
    }

    // Waits until the bytes received after the last response contain `needle` (an event stream's text).
    bool waitForText(QByteArrayView needle, int timeoutMs = 5000)
    {
        return spinUntil(
                   [&] {
                       pull();
                       return m_buffer.contains(needle) || !isConnected();
                   },
                   timeoutMs) &&
               m_buffer.contains(needle);
    }
    // Takes exactly these bytes from the front of what arrives (an interim "100 Continue").
    bool takeExactly(QByteArrayView bytes, int timeoutMs = 5000)
    {
        spinUntil(
            [&] {
                pull();
                return m_buffer.size() >= bytes.size() || !isConnected();
            },
            timeoutMs);
        if (!m_buffer.startsWith(bytes))
            return false;
        m_buffer.remove(0, bytes.size());
        return true;
    }
    // Everything received and not yet taken by readResponse().
    QByteArray unread()
    {
        pull();
        return m_buffer;
    }

    // The WebSocket frames received so far (after readResponse() took the 101).
    const QList<WsFrame> &frames()
    {
        pull();
        WsFrame f;
        while (takeFrame(m_buffer, f))
            m_frames.append(f);
        return m_frames;
    }
    // The status code of the server's Close frame (1005 for one without a code), or -1 if none came.
    int waitCloseCode(int timeoutMs = 5000)
    {
        const auto code = [this] {
            for (const WsFrame &f : frames()) {
                if (f.opcode == 0x8)
                    return f.payload.size() >= 2 ? f.closeCode() : 1005;
            }
            return -1;
        };
        spinUntil([&] { return code() >= 0 || !isConnected(); }, timeoutMs);
        return code();
    }
    bool waitClosed(int timeoutMs)
    {
        return spinUntil(
            [this] {
                frames();
                return !isConnected();
            },
            timeoutMs);
    }

private:
    void pull() { m_buffer += m_socket.readAll(); }

    QTcpSocket m_socket;
    QByteArray m_buffer;
    QList<WsFrame> m_frames;
};

} // namespace HeraldTest
