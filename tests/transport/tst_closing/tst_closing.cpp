// The closing handshake on every path (RFC 6455 section 7): the client gets the Close frame with the right
// code and everything before it, the server waits for the client's Close, and the connection ends with a FIN,
// never a reset, even when the client was sending at that moment. Plain POSIX sockets, so a reset is seen as
// ECONNRESET rather than hidden behind a client library.

#include "rawclient.h"
#include "testclient.h"
#include "testserver.h"

#include "auth.h"
#include "hub.h"
#include "metrics.h"
#include "wsframe.h"

#include <QFile>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>
#include <functional>
#include <thread>

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace Qt::StringLiterals;
using namespace HeraldTest;
using Herald::Ws::Opcode;

namespace {

enum class End
{
    Open,  // neither yet
    Fin,   // recv() returned 0
    Reset, // ECONNRESET (or another error)
};

// A WebSocket (or plain HTTP) client on a blocking POSIX socket, driven from its own thread (RawClient spins
// the event loop instead), which tells a FIN from a reset.
class BlockingClient
{
public:
    ~BlockingClient()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }

    // rcvbuf > 0: a small receive buffer, so a client that does not read backs the server up quickly.
    bool connectTo(quint16 port, int rcvbuf = 0)
    {
        m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (rcvbuf > 0)
            ::setsockopt(m_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return ::connect(m_fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
    }

    bool upgrade(quint16 port, const QByteArray &pathAndQuery, int rcvbuf = 0)
    {
        if (!connectTo(port, rcvbuf))
            return false;
        sendAll(upgradeRequest(pathAndQuery));
        QElapsedTimer t;
        t.start();
        while (!m_in.contains("\r\n\r\n")) {
            if (readSome(100) != End::Open || t.elapsed() > 5000)
                return false;
        }
        const qsizetype end = m_in.indexOf("\r\n\r\n") + 4;
        const bool ok = m_in.startsWith("HTTP/1.1 101");
        m_in.remove(0, end);
        return ok;
    }

    void sendAll(const QByteArray &bytes)
    {
        qsizetype sent = 0;
        while (sent < bytes.size()) {
            const ssize_t n =
                ::send(m_fd, bytes.constData() + sent, size_t(bytes.size() - sent), MSG_NOSIGNAL);
            if (n <= 0)
                return;
            sent += n;
        }
    }
    // As a busy client does: whatever the kernel takes now, never waiting.
    void sendNoWait(const QByteArray &bytes)
    {
        ::send(m_fd, bytes.constData(), size_t(bytes.size()), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    void sendFrame(Opcode opcode, const QByteArray &payload, bool wait = false)
    {
        const QByteArray frame = Herald::Ws::encodeMaskedFrame(opcode, payload, 0x1234abcd);
        wait ? sendAll(frame) : sendNoWait(frame);
    }

    // Waits up to waitMs for input and reads what is there.
    End readSome(int waitMs)
    {
        if (m_end != End::Open)
            return m_end;
        pollfd p{m_fd, POLLIN, 0};
        if (::poll(&p, 1, waitMs) <= 0)
            return End::Open;
        char buf[65536];
        const ssize_t n = ::recv(m_fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0)
            m_in.append(buf, n);
        else if (n == 0)
            m_end = End::Fin;
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            m_end = End::Reset;
        return m_end;
    }

    // The next whole server frame from what was read.
    std::optional<WsFrame> nextFrame()
    {
        WsFrame f;
        if (!takeFrame(m_in, f))
            return std::nullopt;
        return f;
    }

    QByteArray &input() { return m_in; }
    End end() const { return m_end; }
    // After a FIN, recv() keeps returning 0 even if a reset follows (and the reset still discarded what the
    // server's kernel had not sent yet): the connection's state tells. A peer that closed in order leaves
    // ours in CLOSE_WAIT; a reset, CLOSE.
    End settledEnd() const
    {
        if (m_end != End::Fin)
            return m_end;
        tcp_info info{};
        socklen_t len = sizeof info;
        if (::getsockopt(m_fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
            return End::Reset;
        return info.tcpi_state == TCP_CLOSE ? End::Reset : End::Fin;
    }

private:
    int m_fd = -1;
    QByteArray m_in;
    End m_end = End::Open;
};

// What a client saw of the server's close.
struct Outcome
{
    QList<WsFrame> before;   // the frames before the Close
    int closeCode = -1;      // -1: no Close frame
    bool endedEarly = false; // the connection ended before the client answered the Close
    End end = End::Open;
    qint64 endAfterCloseMs = -1; // from reading the server's Close to the end of the connection
};

struct Behaviour
{
    QByteArray filler;       // a text frame sent over and over until the Close arrives (empty: stay silent)
    int fillerGapMs = 2;     // between two fillers
    int answerAfterMs = 200; // the Close is answered this long after it arrives; -1: never
    std::atomic<bool> *readGate = nullptr; // set: nothing is read until it is true
};

// Sends fillers while reading until the server's Close; then, as a client whose frames were in flight, a few
// more; answers the Close after a while; reads until the connection ends.
Outcome runUntilClose(BlockingClient &c, const Behaviour &b, int timeoutMs = 15000)
{
    Outcome out;
    QElapsedTimer t;
    t.start();
    QElapsedTimer sinceFiller;
    sinceFiller.start();
    while (out.closeCode < 0 && t.elapsed() < timeoutMs) {
        if (!b.filler.isEmpty() && sinceFiller.elapsed() >= b.fillerGapMs) {
            c.sendFrame(Opcode::Text, b.filler);
            sinceFiller.restart();
        }
        if (b.readGate && !b.readGate->load()) {
            QThread::msleep(1);
            continue;
        }
        const End e = c.readSome(1);
        while (auto f = c.nextFrame()) {
            if (f->opcode == int(Opcode::Close)) {
                out.closeCode =
                    f->payload.size() >= 2 ? (uchar(f->payload[0]) << 8) | uchar(f->payload[1]) : 1005;
                break;
            }
            out.before.append(*f);
        }
        if (out.closeCode < 0 && e != End::Open) {
            out.end = e;
            return out;
        }
    }
    if (out.closeCode < 0)
        return out;
    QElapsedTimer closed;
    closed.start();
    // Frames the client sent before it saw the Close arrive after the server's: the race a closing server
    // must survive.
    for (int i = 0; i < 3 && !b.filler.isEmpty(); ++i)
        c.sendFrame(Opcode::Text, b.filler);
    bool answered = false;
    while (closed.elapsed() < timeoutMs) {
        if (!answered && b.answerAfterMs >= 0 && closed.elapsed() >= b.answerAfterMs) {
            if (c.end() != End::Open)
                out.endedEarly = true;
            const QByteArray code{char(out.closeCode >> 8), char(out.closeCode & 0xff)};
            c.sendFrame(Opcode::Close, code);
            answered = true;
        }
        const End e = c.readSome(5);
        if (c.end() != End::Open && out.end == End::Open) {
            out.end = e;
            out.endAfterCloseMs = closed.elapsed();
        }
        if (out.end != End::Open && (answered || b.answerAfterMs < 0))
            break;
    }
    if (!answered && b.answerAfterMs >= 0)
        out.endedEarly = true;
    // A reset provoked by the frames sent after the end shows a moment later.
    QThread::msleep(150);
    if (out.end == End::Fin)
        out.end = c.settledEnd();
    return out;
}

// Runs a blocking step on another thread while this one's event loop runs (the listener lives on it).
bool offThread(const std::function<bool()> &step, int timeoutMs = 10000)
{
    std::atomic<bool> done{false};
    bool ok = false;
    std::thread t([&] {
        ok = step();
        done = true;
    });
    QElapsedTimer timer;
    timer.start();
    while (!done && timer.elapsed() < timeoutMs)
        QTest::qWait(5);
    t.join();
    return ok;
}

QByteArray pingJson()
{
    return QByteArrayLiteral(R"({"action":"ping"})");
}

bool hasError(const QList<WsFrame> &frames, const QString &code)
{
    for (const auto &f : frames) {
        const QJsonObject o = QJsonDocument::fromJson(f.payload).object();
        if (o.value("type"_L1).toString() == u"error"_s && o.value("code"_L1).toString() == code)
            return true;
    }
    return false;
}

int countType(const QList<WsFrame> &frames, const QString &type)
{
    int n = 0;
    for (const auto &f : frames)
        n += QJsonDocument::fromJson(f.payload).object().value("type"_L1).toString() == type ? 1 : 0;
    return n;
}

} // namespace

class TestClosing : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void closeReachesSendingClient_data();
    void closeReachesSendingClient();
    void closeWaitsForPeer_data();
    void closeWaitsForPeer();
    void sseStreamEndsWithFin();
};

void TestClosing::closeReachesSendingClient_data()
{
    QTest::addColumn<QString>("trigger");
    QTest::addColumn<int>("expectedCode");
    // Once the input no longer parses, the client's Close cannot be recognised: the server half-closes
    // right after its own Close instead of waiting for it.
    QTest::addColumn<bool>("waitsForClose");

    QTest::newRow("1002 bad frame, more data following") << u"badframe"_s << 1002 << false;
    QTest::newRow("1007 invalid UTF-8") << u"badutf8"_s << 1007 << false;
    QTest::newRow("1009 message too big") << u"toobig"_s << 1009 << false;
    QTest::newRow("1008 rate-limited flood") << u"flood"_s << 1008 << true;
    QTest::newRow("4001 admin kick") << u"kick"_s << 4001 << true;
    QTest::newRow("4002 slow consumer") << u"slow"_s << 4002 << true;
    QTest::newRow("4003 idle") << u"idle"_s << 4003 << true;
    QTest::newRow("1001 server stop") << u"stop"_s << 1001 << true;
    QTest::newRow("1008 token expired") << u"expiry"_s << 1008 << true;
}

void TestClosing::closeReachesSendingClient()
{
    QFETCH(QString, trigger);
    QFETCH(int, expectedCode);
    QFETCH(bool, waitsForClose);

    QTemporaryDir dir;
    const QByteArray secret = "a secret of at least thirty-two bytes, for HS256";
    const QString secretFile = dir.filePath(u"jwt.secret"_s);
    if (trigger == u"expiry"_s) {
        QFile f(secretFile);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(secret + '\n');
    }
    auto server = startTestServer(dir.filePath(u"data"_s), [&](Herald::ServerConfig &c) {
        if (trigger == u"expiry"_s) {
            c.authMode = Herald::ServerConfig::AuthMode::Token;
            c.jwtSecretFile = secretFile;
        }
        c.closeTimeout = std::chrono::milliseconds(1500);
        c.rateLimit = trigger == u"flood"_s ? 5 : 0;
        c.maxMessageSize = 4096;
        c.idleTimeout = std::chrono::seconds(trigger == u"idle"_s ? 1 : 60);
        c.maxSendBuffer = 64 * 1024;
        c.ephemeralChannels << u"slow.*"_s;
    });
    QVERIFY(server);
    const quint16 port = server->port();

    BlockingClient client;
    const bool slow = trigger == u"slow"_s;
    QByteArray path = slow ? "/ws?client_id=victim&channels=slow.feed" : "/ws?client_id=victim";
    if (trigger == u"expiry"_s)
        path += "&token=" + Herald::TokenVerifier(secret).mint(u"alice"_s, Herald::Role::Subscriber,
                                                               std::chrono::seconds(2));
    QVERIFY(offThread([&] { return client.upgrade(port, path, slow ? 4096 : 0); }));

    Behaviour b;
    b.filler = pingJson();
    if (trigger == u"idle"_s)
        b.filler.clear(); // idle is silence; the in-flight frames are the race here
    if (trigger == u"flood"_s)
        b.fillerGapMs = 0;
    if (slow)
        b.fillerGapMs = 20;
    std::atomic<bool> gate{!slow};
    b.readGate = &gate;

    if (trigger == u"badframe"_s)
        client.sendAll(QByteArray("\x81\x05hello", 7)); // unmasked: a protocol error
    else if (trigger == u"badutf8"_s)
        client.sendFrame(Opcode::Text, QByteArray("\xff\xfe\xfd"), true);
    else if (trigger == u"toobig"_s)
        client.sendFrame(Opcode::Text, QByteArray(8192, 'x'), true);

    Outcome out;
    std::atomic<bool> done{false};
    std::thread runner([&] {
        out = runUntilClose(client, b);
        done = true;
    });
    auto joinRunner = qScopeGuard([&] {
        gate = true;
        if (runner.joinable())
            runner.join();
    });

    if (trigger == u"kick"_s) {
        QTest::qWait(200);
        WsClient admin;
        QVERIFY(admin.open(port, u"/ws/server"_s));
        admin.send(QJsonObject{{"action"_L1, "disconnect"_L1}, {"client_id"_L1, "victim"_L1}});
        QVERIFY(admin.waitFor(u"disconnected"_s));
    } else if (trigger == u"slow"_s) {
        // The client neither reads nor stops sending; the server's queue for it overflows.
        Herald::Hub *hub = server->hub();
        const qint64 cutBefore = hub->metrics().slowConsumers.load();
        const QString body(8000, u'm');
        for (int i = 0; i < 4000 && hub->metrics().slowConsumers.load() == cutBefore; ++i) {
            Herald::Message m;
            m.channel = u"slow.feed"_s;
            m.type = u"message"_s;
            m.message = body;
            QVERIFY(hub->publish(std::move(m)));
            if (i % 50 == 0)
                QTest::qWait(5);
        }
        QTRY_VERIFY(hub->metrics().slowConsumers.load() > cutBefore);
        QTest::qWait(300); // still not reading, still sending
        gate = true;
    } else if (trigger == u"stop"_s) {
        QTest::qWait(200);
        QSignalSpy stopped(server.get(), &Herald::Server::stopped);
        server->stop();
        QTRY_VERIFY_WITH_TIMEOUT(stopped.count() > 0, 5000);
    }
    // Let the event loop run while the client finishes.
    QTRY_VERIFY_WITH_TIMEOUT(done.load(), 20000);
    runner.join();

    QCOMPARE(out.closeCode, expectedCode);
    QVERIFY2(out.end == End::Fin, out.end == End::Reset ? "connection reset" : "connection never ended");
    if (waitsForClose)
        QVERIFY2(!out.endedEarly, "the server closed before the client's Close");

    if (trigger == u"flood"_s) {
        QVERIFY2(countType(out.before, u"pong"_s) > 0, "no pong before the Close");
        QVERIFY2(hasError(out.before, u"rate_limited"_s), "no rate_limited error before the Close");
    } else if (slow) {
        // Whole frames, the messages it had been sent, then the Close.
        QVERIFY(countType(out.before, u"message"_s) > 0);
    } else if (trigger == u"idle"_s) {
        bool pinged = false;
        for (const auto &f : out.before)
            pinged = pinged || f.opcode == int(Opcode::Ping);
        QVERIFY2(pinged, "the idle client was not pinged first");
    } else if (trigger == u"kick"_s || trigger == u"stop"_s || trigger == u"expiry"_s) {
        QVERIFY(countType(out.before, u"pong"_s) > 0);
    }
}

void TestClosing::closeWaitsForPeer_data()
{
    QTest::addColumn<int>("answerAfterMs");
    QTest::addColumn<int>("closeTimeoutMs");
    QTest::addColumn<int>("minEndMs");
    QTest::addColumn<int>("maxEndMs");

    // The FIN comes right after the client's Close, however late it is within the timeout.
    QTest::newRow("answers late") << 800 << 3000 << 800 << 1500;
    // No answer: the server ends the connection once the timeout is over, with a FIN.
    QTest::newRow("never answers") << -1 << 600 << 500 << 2500;
}

void TestClosing::closeWaitsForPeer()
{
    QFETCH(int, answerAfterMs);
    QFETCH(int, closeTimeoutMs);
    QFETCH(int, minEndMs);
    QFETCH(int, maxEndMs);

    QTemporaryDir dir;
    auto server = startTestServer(dir.path(), [&](Herald::ServerConfig &c) {
        c.closeTimeout = std::chrono::milliseconds(closeTimeoutMs);
        c.rateLimit = 0;
    });
    QVERIFY(server);
    BlockingClient client;
    QVERIFY(offThread([&] { return client.upgrade(server->port(), "/ws?client_id=victim"); }));

    Behaviour b;
    b.answerAfterMs = answerAfterMs;
    Outcome out;
    std::atomic<bool> done{false};
    std::thread runner([&] {
        out = runUntilClose(client, b);
        done = true;
    });
    QTest::qWait(100);
    QCOMPARE(server->hub()->disconnectClient(u"victim"_s, 4001, u"bye"_s), 1);
    QTRY_VERIFY_WITH_TIMEOUT(done.load(), 20000);
    runner.join();

    QCOMPARE(out.closeCode, 4001);
    QVERIFY2(out.end == End::Fin, "connection reset");
    QVERIFY2(out.endAfterCloseMs >= minEndMs, qPrintable(u"ended after %1 ms"_s.arg(out.endAfterCloseMs)));
    QVERIFY2(out.endAfterCloseMs <= maxEndMs, qPrintable(u"ended after %1 ms"_s.arg(out.endAfterCloseMs)));
}

void TestClosing::sseStreamEndsWithFin()
{
    QTemporaryDir dir;
    auto server = startTestServer(dir.path());
    QVERIFY(server);
    BlockingClient client;
    QVERIFY(offThread([&] {
        // A small receive buffer: the end of the stream is still in the server's kernel when it closes.
        if (!client.connectTo(server->port(), 4096))
            return false;
        client.sendAll("GET /events?channels=news&client_id=reader HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        QElapsedTimer t;
        t.start();
        while (!client.input().contains(": connected") && t.elapsed() < 5000) {
            if (client.readSome(100) != End::Open)
                return false;
        }
        return client.input().contains(": connected");
    }));
    for (int i = 0; i < 40; ++i) {
        Herald::Message m;
        m.channel = u"news"_s;
        m.type = u"message"_s;
        m.message = i < 39 ? QString(4000, u'e') : u"last words"_s;
        QVERIFY(server->hub()->publish(std::move(m)));
    }
    // The client keeps sending (a misbehaving proxy, say), and reads only a while after the stream ended.
    std::atomic<bool> stop{false};
    std::thread sender([&] {
        while (!stop)
            client.sendNoWait(QByteArray(512, 'z'));
    });
    auto stopSender = qScopeGuard([&] {
        stop = true;
        sender.join();
    });
    QTest::qWait(100);
    QCOMPARE(server->hub()->disconnectClient(u"reader"_s, 4001, u"bye"_s), 1);
    QTest::qWait(300);
    End e = End::Open;
    for (int i = 0; i < 500 && e == End::Open; ++i) {
        e = client.readSome(0);
        QTest::qWait(5);
    }
    stopSender.dismiss();
    stop = true;
    sender.join();
    QTest::qWait(150);
    QVERIFY2(client.input().contains("last words"), "the last event was lost");
    QVERIFY2(client.settledEnd() == End::Fin, "the stream ended with a reset");
}

QTEST_GUILESS_MAIN(TestClosing)
#include "tst_closing.moc"
