// herald-loadgen: fan-out load generator for Herald and nchan (plain C++20 + Linux epoll, no Qt).
//
// Opens N subscriber connections (WebSocket or Server-Sent Events), waits until all are subscribed, publishes
// M messages back to back over one keep-alive HTTP connection, then counts deliveries and publish-to-receive
// latency. Every payload carries "t=<ns since epoch>" and "seq=<n>"; the receiver finds them anywhere in the
// frame, so the same parser works for Herald's JSON envelope and nchan's raw body.
//
// A Node or Qt client saturates well below the servers under test; one epoll thread reading 64 KiB at a time
// does not, which is the point of writing this in C++.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t wallNs()
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double msSince(Clock::time_point t0, Clock::time_point t1)
{
    return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

[[noreturn]] void die(const std::string &what)
{
    std::fprintf(stderr, "herald-loadgen: %s\n", what.c_str());
    std::exit(2);
}

enum class Transport
{
    Ws,
    Sse
};

struct Options
{
    std::string host = "127.0.0.1";
    int port = 8000;
    std::string path = "/ws?channels=bench";
    Transport transport = Transport::Ws;
    int subs = 1000;
    int msgs = 100;
    std::string pubUrl;     // http://host:port/path; empty = no publishing
    std::string pubChannel; // set: body is Herald's JSON {"channel":..,"message":..}; empty: raw body (nchan)
    int payload = 100;
    double pubIntervalMs = 0; // 0 = back to back (wait for each response, then send the next)
    double timeoutS = 60;     // overall deadline for deliveries after the first publish
    double idleTimeoutS = 5;  // give up when nothing arrived for this long after the last publish
    double connectTimeoutS = 30;
    int settleMs = 300;
    bool readyOnData =
        false;          // ready = first frame / first body byte after the handshake (Herald's `connected`)
    int srcIps = 8;     // spread source addresses over 127.0.0.1..N: 28k ephemeral ports each
    int maxPending = 0; // at most this many connects in flight (0 = all at once)
    double holdS = -1;  // >= 0: idle mode, hold the connections (0 = until SIGTERM/SIGINT)
    std::string label;
    int serverPid = 0;
    double pubTimeoutMs = 2000; // a publish response later than this is a stall // > 0: report this process's
                                // VmRSS growth per ready connection
};

void usage()
{
    std::puts(
        "usage: herald-loadgen [options]\n"
        "  --host H              subscriber host (127.0.0.1)\n"
        "  --port P              subscriber port (8000)\n"
        "  --path P              subscriber path (/ws?channels=bench)\n"
        "  --transport ws|sse    subscriber protocol (ws)\n"
        "  --subs N              subscriber connections (1000)\n"
        "  --msgs M              messages to publish (100)\n"
        "  --pub-url URL         http://host:port/path to POST to (none: connect only)\n"
        "  --pub-channel C       POST Herald JSON {\"channel\":C,\"message\":...}; without it the body is "
        "raw (nchan)\n"
        "  --payload B           message text size in bytes (100)\n"
        "  --pub-interval-ms X   pause between publishes (0 = back to back)\n"
        "  --pub-timeout-ms X    a publish answer later than this is a stall: reconnect, send again (2000)\n"
        "  --ready-on-data       a subscriber is ready at its first frame/data, not at the handshake "
        "response\n"
        "  --settle-ms X         pause between 'all ready' and the first publish (300)\n"
        "  --timeout S           deadline for all deliveries (60)\n"
        "  --idle-timeout S      stop when nothing arrived for S after the last publish (5)\n"
        "  --connect-timeout S   deadline for all connections to be ready (30)\n"
        "  --src-ips K           bind sources round-robin to 127.0.0.1..K (8)\n"
        "  --max-pending K       at most K connects/handshakes in flight (0 = all at once)\n"
        "  --hold S              idle mode: connect, print READY, hold S seconds (0 = until SIGTERM)\n"
        "  --label L             copied into the JSON line\n"
        "  --server-pid PID      report the server's VmRSS before connecting and once all are ready\n"
        "Prints a '# ' human line and one JSON line on stdout.");
}

Options parseOptions(int argc, char **argv)
{
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                die("missing value for " + std::string(a));
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            usage();
            std::exit(0);
        } else if (a == "--host") {
            o.host = value();
        } else if (a == "--port") {
            o.port = std::atoi(value().c_str());
        } else if (a == "--path") {
            o.path = value();
        } else if (a == "--transport") {
            const std::string v = value();
            if (v == "ws")
                o.transport = Transport::Ws;
            else if (v == "sse")
                o.transport = Transport::Sse;
            else
                die("--transport must be ws or sse");
        } else if (a == "--subs") {
            o.subs = std::atoi(value().c_str());
        } else if (a == "--msgs") {
            o.msgs = std::atoi(value().c_str());
        } else if (a == "--pub-url") {
            o.pubUrl = value();
        } else if (a == "--pub-channel") {
            o.pubChannel = value();
        } else if (a == "--payload") {
            o.payload = std::atoi(value().c_str());
        } else if (a == "--pub-interval-ms") {
            o.pubIntervalMs = std::atof(value().c_str());
        } else if (a == "--pub-timeout-ms") {
            o.pubTimeoutMs = std::max(1.0, std::atof(value().c_str()));
        } else if (a == "--ready-on-data") {
            o.readyOnData = true;
        } else if (a == "--settle-ms") {
            o.settleMs = std::atoi(value().c_str());
        } else if (a == "--timeout") {
            o.timeoutS = std::atof(value().c_str());
        } else if (a == "--idle-timeout") {
            o.idleTimeoutS = std::atof(value().c_str());
        } else if (a == "--connect-timeout") {
            o.connectTimeoutS = std::atof(value().c_str());
        } else if (a == "--src-ips") {
            o.srcIps = std::clamp(std::atoi(value().c_str()), 1, 250);
        } else if (a == "--max-pending") {
            o.maxPending = std::atoi(value().c_str());
        } else if (a == "--hold") {
            o.holdS = std::atof(value().c_str());
        } else if (a == "--server-pid") {
            o.serverPid = std::atoi(value().c_str());
        } else if (a == "--label") {
            o.label = value();
        } else {
            die("unknown option " + std::string(a) + " (see --help)");
        }
    }
    if (o.subs < 0 || o.msgs < 0 || o.port <= 0 || o.port > 65535)
        die("bad --subs, --msgs or --port");
    o.payload = std::max(o.payload, 48);
    return o;
}

struct Url
{
    std::string host;
    int port = 80;
    std::string path = "/";
};

Url parseUrl(const std::string &url)
{
    const std::string prefix = "http://";
    if (url.compare(0, prefix.size(), prefix) != 0)
        die("only http:// URLs are supported: " + url);
    Url u;
    const std::string rest = url.substr(prefix.size());
    const auto slash = rest.find('/');
    const std::string hostPort = rest.substr(0, slash);
    if (slash != std::string::npos)
        u.path = rest.substr(slash);
    const auto colon = hostPort.rfind(':');
    u.host = hostPort.substr(0, colon);
    if (colon != std::string::npos)
        u.port = std::atoi(hostPort.c_str() + colon + 1);
    return u;
}

sockaddr_in makeAddr(const std::string &host, int port)
{
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(std::uint16_t(port));
    const std::string h = host == "localhost" ? "127.0.0.1" : host;
    if (inet_pton(AF_INET, h.c_str(), &sa.sin_addr) != 1)
        die("not an IPv4 address: " + host);
    return sa;
}

void raiseFileLimit(int needed)
{
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0)
        rl = want;
    if (rl.rlim_cur != RLIM_INFINITY && rlim_t(needed) + 16 > rl.rlim_cur)
        std::fprintf(stderr, "herald-loadgen: warning: RLIMIT_NOFILE is %llu, %d connections need more\n",
                     static_cast<unsigned long long>(rl.rlim_cur), needed);
}

// "t=<digits>" anywhere in the payload: the publish wall-clock time in ns. Returns 0 when absent.
std::int64_t findNumber(const char *p, std::size_t n, std::string_view key)
{
    const char *end = p + n;
    while (p < end) {
        const void *hit = memmem(p, std::size_t(end - p), key.data(), key.size());
        if (!hit)
            return 0;
        const char *d = static_cast<const char *>(hit) + key.size();
        std::int64_t v = 0;
        int digits = 0;
        while (d < end && *d >= '0' && *d <= '9' && digits < 19) {
            v = v * 10 + (*d - '0');
            ++d;
            ++digits;
        }
        if (digits > 0)
            return v;
        p = static_cast<const char *>(hit) + 1;
    }
    return 0;
}

enum class ConnState : std::uint8_t
{
    Queued,
    Connecting,
    Handshake,
    Open,
    Closed
};
enum class ChunkState : std::uint8_t
{
    Size,
    Data,
    DataEnd
};

struct Conn
{
    int fd = -1;
    ConnState state = ConnState::Queued;
    bool ready = false;
    bool chunked = false;
    bool failed = false;
    ChunkState chunkState = ChunkState::Size;
    std::size_t chunkLeft = 0;
    std::uint32_t received = 0;
    std::int64_t lastSeq = -1;
    std::string buf;  // handshake bytes, then an incomplete frame / SSE line
    std::string line; // SSE: chunk-size line being read
    std::string out;  // request bytes not yet written
    Clock::time_point started;
};

struct Stats
{
    std::uint64_t delivered = 0;
    std::uint64_t outOfOrder = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t foreign = 0; // frames without a timestamp (Herald's `connected`, pings, comments)
    int readyCount = 0;
    int failedCount = 0;
    int droppedAfterReady = 0;
    int refused = 0;
    int resetOrError = 0;
    int badStatus = 0;
    int timedOut = 0;
    int tcpEstablished = 0;
    Clock::time_point allTcpAt{};
    Clock::time_point lastDelivery{};
    std::vector<std::int32_t> latUs; // publish-to-receive latency in microseconds
};

std::atomic<bool> g_stop{false};

void onSignal(int)
{
    g_stop.store(true);
}

class LoadGen
{
public:
    explicit LoadGen(const Options &o)
        : m_o(o)
        , m_conns(std::size_t(o.subs))
    {}

    void run();

private:
    void startConnect(int i);
    void onEvent(int i, std::uint32_t events);
    void fail(int i, int &reason);
    void closeConn(int i);
    void writeOut(int i);
    void onReadable(int i);
    void onHandshakeBytes(int i);
    void feedWs(int i, const char *data, std::size_t n);
    void feedSse(int i, const char *data, std::size_t n);
    void feedSseDecoded(int i, const char *data, std::size_t n);
    void onPayload(int i, const char *p, std::size_t n);
    void markReady(int i);
    void pumpQueue();
    void poll(int timeoutMs);
    void publisher();

    const Options &m_o;
    std::vector<Conn> m_conns;
    Stats m_s;
    int m_ep = -1;
    sockaddr_in m_target{};
    std::string m_request;
    int m_nextQueued = 0;
    int m_inFlight = 0;
    std::int64_t m_now = 0; // wall clock of the current read, ns

    // Publisher thread results.
    std::atomic<bool> m_pubGo{false};
    std::atomic<bool> m_pubDone{false};
    std::atomic<std::int64_t> m_pubFirstNs{0};
    int m_published = 0;
    int m_pubErrors = 0;
    int m_pubStalls = 0;
    int m_pubOnConn = 0;
    double m_pubMs = 0;
    std::vector<double> m_pubRtt;
    Clock::time_point m_pubStart{};
    std::atomic<std::int64_t> m_pubEndNs{0};
};

void LoadGen::startConnect(int i)
{
    Conn &c = m_conns[std::size_t(i)];
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
        c.failed = true;
        c.state = ConnState::Closed;
        ++m_s.failedCount;
        ++m_s.resetOrError;
        return;
    }
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (m_o.srcIps > 1) {
        // Bind only the address: the kernel picks the port at connect(), so each source IP has its own range.
        setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        sockaddr_in src{};
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl((127u << 24) | std::uint32_t(1 + i % m_o.srcIps));
        bind(c.fd, reinterpret_cast<sockaddr *>(&src), sizeof src);
    }
    c.state = ConnState::Connecting;
    c.started = Clock::now();
    c.out = m_request;
    ++m_inFlight;
    const int r = connect(c.fd, reinterpret_cast<const sockaddr *>(&m_target), sizeof m_target);
    if (r < 0 && errno != EINPROGRESS) {
        if (errno == ECONNREFUSED)
            fail(i, m_s.refused);
        else
            fail(i, m_s.resetOrError);
        return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u32 = std::uint32_t(i);
    epoll_ctl(m_ep, EPOLL_CTL_ADD, c.fd, &ev);
}

void LoadGen::closeConn(int i)
{
    Conn &c = m_conns[std::size_t(i)];
    if (c.fd >= 0) {
        // An abortive close leaves no TIME_WAIT behind, so back-to-back runs do not run out of ports.
        const linger lg{1, 0};
        setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(c.fd);
        c.fd = -1;
    }
    if (!c.ready && c.state != ConnState::Queued && c.state != ConnState::Closed)
        --m_inFlight;
    c.state = ConnState::Closed;
}

void LoadGen::fail(int i, int &reason)
{
    Conn &c = m_conns[std::size_t(i)];
    if (c.ready)
        ++m_s.droppedAfterReady;
    else if (!c.failed) {
        c.failed = true;
        ++m_s.failedCount;
        ++reason;
    }
    closeConn(i);
}

void LoadGen::writeOut(int i)
{
    Conn &c = m_conns[std::size_t(i)];
    while (!c.out.empty()) {
        const ssize_t w = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN)
                return;
            fail(i, m_s.resetOrError);
            return;
        }
        c.out.erase(0, std::size_t(w));
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u32 = std::uint32_t(i);
    epoll_ctl(m_ep, EPOLL_CTL_MOD, c.fd, &ev);
}

void LoadGen::markReady(int i)
{
    Conn &c = m_conns[std::size_t(i)];
    if (c.ready)
        return;
    c.ready = true;
    ++m_s.readyCount;
    --m_inFlight;
}

void LoadGen::onEvent(int i, std::uint32_t events)
{
    Conn &c = m_conns[std::size_t(i)];
    if (c.state == ConnState::Closed)
        return;
    if (c.state == ConnState::Connecting) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
                fail(i, err == ECONNREFUSED ? m_s.refused : m_s.resetOrError);
                return;
            }
            c.state = ConnState::Handshake;
            if (++m_s.tcpEstablished == m_o.subs)
                m_s.allTcpAt = Clock::now();
            writeOut(i);
            if (c.state == ConnState::Closed)
                return;
        }
    } else if (events & EPOLLOUT) {
        writeOut(i);
        if (c.state == ConnState::Closed)
            return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        onReadable(i);
}

void LoadGen::onReadable(int i)
{
    static char buffer[256 * 1024];
    for (int round = 0; round < 8; ++round) {
        Conn &c = m_conns[std::size_t(i)];
        if (c.state == ConnState::Closed)
            return;
        const ssize_t n = recv(c.fd, buffer, sizeof buffer, 0);
        if (n == 0) {
            fail(i, m_s.resetOrError);
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            fail(i, m_s.resetOrError);
            return;
        }
        m_now = wallNs();
        if (c.state == ConnState::Handshake) {
            c.buf.append(buffer, std::size_t(n));
            onHandshakeBytes(i);
        } else if (m_o.transport == Transport::Ws) {
            feedWs(i, buffer, std::size_t(n));
        } else {
            feedSse(i, buffer, std::size_t(n));
        }
        if (std::size_t(n) < sizeof buffer)
            return;
    }
}

void LoadGen::onHandshakeBytes(int i)
{
    Conn &c = m_conns[std::size_t(i)];
    const auto end = c.buf.find("\r\n\r\n");
    if (end == std::string::npos) {
        if (c.buf.size() > 64 * 1024)
            fail(i, m_s.badStatus);
        return;
    }
    int status = 0;
    if (c.buf.compare(0, 5, "HTTP/") == 0) {
        const auto sp = c.buf.find(' ');
        if (sp != std::string::npos)
            status = std::atoi(c.buf.c_str() + sp + 1);
    }
    const int want = m_o.transport == Transport::Ws ? 101 : 200;
    if (status != want) {
        if (m_s.badStatus < 3)
            std::fprintf(stderr, "herald-loadgen: handshake answered: %.*s\n",
                         int(std::min<std::size_t>(end, 200)), c.buf.c_str());
        fail(i, m_s.badStatus);
        return;
    }
    std::string head = c.buf.substr(0, end);
    std::transform(head.begin(), head.end(), head.begin(),
                   [](unsigned char ch) { return char(std::tolower(ch)); });
    c.chunked = head.find("transfer-encoding: chunked") != std::string::npos;
    std::string rest = c.buf.substr(end + 4);
    c.buf.clear();
    c.state = ConnState::Open;
    if (!m_o.readyOnData)
        markReady(i);
    if (!rest.empty()) {
        if (m_o.transport == Transport::Ws)
            feedWs(i, rest.data(), rest.size());
        else
            feedSse(i, rest.data(), rest.size());
    }
}

void LoadGen::feedWs(int i, const char *data, std::size_t n)
{
    Conn &c = m_conns[std::size_t(i)];
    const char *p = data;
    std::size_t avail = n;
    if (!c.buf.empty()) {
        c.buf.append(data, n);
        p = c.buf.data();
        avail = c.buf.size();
    }
    std::size_t used = 0;
    while (avail - used >= 2) {
        const auto *h = reinterpret_cast<const unsigned char *>(p + used);
        const unsigned opcode = h[0] & 0x0f;
        const bool masked = h[1] & 0x80;
        std::uint64_t len = h[1] & 0x7f;
        std::size_t hdr = 2;
        if (len == 126) {
            if (avail - used < 4)
                break;
            len = (std::uint64_t(h[2]) << 8) | h[3];
            hdr = 4;
        } else if (len == 127) {
            if (avail - used < 10)
                break;
            len = 0;
            for (int k = 0; k < 8; ++k)
                len = (len << 8) | h[2 + k];
            hdr = 10;
        }
        if (masked)
            hdr += 4; // servers must not mask; tolerate it by skipping the key (payload stays unreadable)
        if (avail - used < hdr + len)
            break;
        const char *payload = p + used + hdr;
        switch (opcode) {
        case 0x0: // continuation: Herald and nchan do not fragment small messages; count what it carries
        case 0x1:
        case 0x2:
            onPayload(i, payload, std::size_t(len));
            break;
        case 0x8:
            fail(i, m_s.resetOrError);
            return;
        case 0x9: { // ping: answer with a masked pong carrying the same bytes
            std::string pong;
            pong.push_back(char(0x8a));
            pong.push_back(char(0x80 | std::min<std::uint64_t>(len, 125)));
            pong.append(4, '\0'); // zero mask key: payload unchanged
            pong.append(payload, std::size_t(std::min<std::uint64_t>(len, 125)));
            send(c.fd, pong.data(), pong.size(), MSG_NOSIGNAL);
            break;
        }
        default:
            break;
        }
        used += hdr + std::size_t(len);
    }
    if (c.state == ConnState::Closed)
        return;
    if (!c.buf.empty())
        c.buf.erase(0, used);
    else if (used < n)
        c.buf.assign(data + used, n - used);
}

void LoadGen::feedSse(int i, const char *data, std::size_t n)
{
    Conn &c = m_conns[std::size_t(i)];
    if (!c.chunked) {
        feedSseDecoded(i, data, n);
        return;
    }
    const char *p = data;
    const char *end = data + n;
    while (p < end && c.state != ConnState::Closed) {
        switch (c.chunkState) {
        case ChunkState::Size: {
            const char *nl = static_cast<const char *>(memchr(p, '\n', std::size_t(end - p)));
            if (!nl) {
                c.line.append(p, std::size_t(end - p));
                return;
            }
            c.line.append(p, std::size_t(nl - p));
            p = nl + 1;
            c.chunkLeft = std::strtoull(c.line.c_str(), nullptr, 16);
            c.line.clear();
            if (c.chunkLeft == 0) { // last chunk: the stream ended
                fail(i, m_s.resetOrError);
                return;
            }
            c.chunkState = ChunkState::Data;
            break;
        }
        case ChunkState::Data: {
            const std::size_t take = std::min<std::size_t>(c.chunkLeft, std::size_t(end - p));
            feedSseDecoded(i, p, take);
            p += take;
            c.chunkLeft -= take;
            if (c.chunkLeft == 0)
                c.chunkState = ChunkState::DataEnd;
            break;
        }
        case ChunkState::DataEnd: {
            // The CRLF after a chunk's data.
            const char *nl = static_cast<const char *>(memchr(p, '\n', std::size_t(end - p)));
            if (!nl)
                return;
            p = nl + 1;
            c.chunkState = ChunkState::Size;
            break;
        }
        }
    }
}

void LoadGen::feedSseDecoded(int i, const char *data, std::size_t n)
{
    Conn &c = m_conns[std::size_t(i)];
    if (n > 0 && m_o.readyOnData)
        markReady(i);
    const char *p = data;
    const char *end = data + n;
    while (p < end) {
        const char *nl = static_cast<const char *>(memchr(p, '\n', std::size_t(end - p)));
        if (!nl) {
            c.buf.append(p, std::size_t(end - p));
            return;
        }
        const char *lineStart = p;
        std::size_t lineLen = std::size_t(nl - p);
        if (!c.buf.empty()) {
            c.buf.append(p, lineLen);
            lineStart = c.buf.data();
            lineLen = c.buf.size();
        }
        if (lineLen >= 5 && std::memcmp(lineStart, "data:", 5) == 0)
            onPayload(i, lineStart + 5, lineLen - 5);
        c.buf.clear();
        p = nl + 1;
    }
}

void LoadGen::onPayload(int i, const char *p, std::size_t n)
{
    Conn &c = m_conns[std::size_t(i)];
    if (m_o.readyOnData)
        markReady(i);
    const std::int64_t t = findNumber(p, n, "t=");
    if (t == 0) {
        ++m_s.foreign;
        return;
    }
    const std::int64_t seq = findNumber(p, n, "seq=");
    if (seq <= c.lastSeq) {
        ++m_s.outOfOrder;
        if (seq == c.lastSeq)
            ++m_s.duplicates;
    }
    c.lastSeq = std::max(c.lastSeq, seq);
    ++c.received;
    ++m_s.delivered;
    m_s.lastDelivery = Clock::now();
    const std::int64_t us = (m_now - t) / 1000;
    m_s.latUs.push_back(std::int32_t(std::clamp<std::int64_t>(us, 0, INT32_MAX)));
}

void LoadGen::pumpQueue()
{
    while (m_nextQueued < m_o.subs && (m_o.maxPending <= 0 || m_inFlight < m_o.maxPending))
        startConnect(m_nextQueued++);
}

void LoadGen::poll(int timeoutMs)
{
    static epoll_event events[4096];
    const int n = epoll_wait(m_ep, events, 4096, timeoutMs);
    for (int k = 0; k < n; ++k)
        onEvent(int(events[k].data.u32), events[k].events);
}

// Blocking HTTP/1.1 keep-alive publisher on its own thread, so reading subscribers never delays a publish.
// A response that does not come within --pub-timeout-ms is a stall: it is counted, the connection is replaced
// and the same message is sent again (a late answer to the first try would show up as a duplicate).
namespace {
int connectPublisher(const sockaddr_in &sa, double timeoutMs)
{
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{};
    tv.tv_sec = time_t(timeoutMs / 1000);
    tv.tv_usec = suseconds_t(std::fmod(timeoutMs, 1000.0) * 1000);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, reinterpret_cast<const sockaddr *>(&sa), sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

enum class Exchange
{
    Ok,
    Broken,
    Stalled
};

// Sends one request and reads one response (head, then Content-Length bytes or chunks up to the last one).
Exchange exchange(int fd, const std::string &req, std::string &in, int &status)
{
    std::size_t off = 0;
    while (off < req.size()) {
        const ssize_t w = send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
        if (w <= 0)
            return w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? Exchange::Stalled : Exchange::Broken;
        off += std::size_t(w);
    }
    char rbuf[16384];
    for (;;) {
        const auto he = in.find("\r\n\r\n");
        if (he != std::string::npos) {
            status = std::atoi(in.c_str() + in.find(' ') + 1);
            std::string lower = in.substr(0, he);
            std::transform(lower.begin(), lower.end(), lower.begin(),
                           [](unsigned char ch) { return char(std::tolower(ch)); });
            std::size_t total = std::string::npos;
            const auto cl = lower.find("content-length:");
            if (cl != std::string::npos) {
                total = he + 4 + std::strtoull(lower.c_str() + cl + 15, nullptr, 10);
            } else if (lower.find("transfer-encoding: chunked") != std::string::npos) {
                const auto last = in.find("\r\n0\r\n\r\n", he);
                if (last != std::string::npos)
                    total = last + 7;
            } else {
                total = he + 4;
            }
            if (total != std::string::npos && in.size() >= total) {
                in.erase(0, total);
                return Exchange::Ok;
            }
        }
        const ssize_t r = recv(fd, rbuf, sizeof rbuf, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return Exchange::Stalled;
        if (r <= 0)
            return Exchange::Broken;
        in.append(rbuf, std::size_t(r));
    }
}
} // namespace

void LoadGen::publisher()
{
    const Url url = parseUrl(m_o.pubUrl);
    const sockaddr_in sa = makeAddr(url.host, url.port);
    while (!m_pubGo.load())
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    int fd = connectPublisher(sa, m_o.pubTimeoutMs);
    if (fd < 0) {
        std::fprintf(stderr, "herald-loadgen: cannot connect to publisher %s: %s\n", m_o.pubUrl.c_str(),
                     std::strerror(errno));
        m_pubErrors = m_o.msgs;
        m_pubMs = 0;
        m_pubDone.store(true);
        return;
    }
    const bool json = !m_o.pubChannel.empty();
    const std::string contentType = json ? "application/json" : "text/plain";
    std::string in;
    m_pubStart = Clock::now();
    for (int seq = 0; seq < m_o.msgs && fd >= 0; ++seq) {
        if (seq > 0 && m_o.pubIntervalMs > 0)
            std::this_thread::sleep_for(std::chrono::microseconds(std::int64_t(m_o.pubIntervalMs * 1000)));
        bool done = false;
        for (int attempt = 0; attempt < 3 && !done && fd >= 0; ++attempt) {
            const std::int64_t t = wallNs();
            if (seq == 0 && attempt == 0)
                m_pubFirstNs.store(t);
            char head[64];
            std::snprintf(head, sizeof head, "t=%lld seq=%d ", static_cast<long long>(t), seq);
            std::string text = head;
            if (int(text.size()) < m_o.payload)
                text.append(std::size_t(m_o.payload) - text.size(), 'x');
            const std::string body =
                json ? "{\"channel\":\"" + m_o.pubChannel + "\",\"message\":\"" + text + "\"}" : text;
            const std::string req = "POST " + url.path + " HTTP/1.1\r\nHost: " + url.host + ":" +
                                    std::to_string(url.port) + "\r\nContent-Type: " + contentType +
                                    "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
            const auto sent = Clock::now();
            int status = 0;
            const Exchange r = exchange(fd, req, in, status);
            m_pubRtt.push_back(msSince(sent, Clock::now()));
            if (r == Exchange::Ok) {
                done = true;
                if (status < 200 || status >= 300) {
                    if (m_pubErrors < 3)
                        std::fprintf(stderr, "herald-loadgen: publish answered %d\n", status);
                    ++m_pubErrors;
                } else {
                    ++m_published;
                }
                continue;
            }
            if (r == Exchange::Stalled) {
                ++m_pubStalls;
                std::fprintf(
                    stderr,
                    "herald-loadgen: publish %d (request %d on its connection) unanswered after %.0f ms; "
                    "reconnecting and sending it again\n",
                    seq, m_pubOnConn, m_o.pubTimeoutMs);
            } else {
                std::fprintf(stderr, "herald-loadgen: publisher connection broke at message %d\n", seq);
            }
            close(fd);
            in.clear();
            m_pubOnConn = 0;
            fd = connectPublisher(sa, m_o.pubTimeoutMs);
        }
        ++m_pubOnConn;
        if (!done)
            ++m_pubErrors;
    }
    m_pubMs = msSince(m_pubStart, Clock::now());
    m_pubEndNs.store(wallNs());
    if (fd >= 0)
        close(fd);
    m_pubDone.store(true);
}

double percentile(std::vector<std::int32_t> &v, double q)
{
    if (v.empty())
        return 0;
    const std::size_t k = std::min(v.size() - 1, std::size_t(q * double(v.size() - 1) + 0.5));
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
    return v[k] / 1000.0;
}

long vmRssKb(int pid = 0)
{
    const std::string path = pid > 0 ? "/proc/" + std::to_string(pid) + "/status" : "/proc/self/status";
    FILE *f = std::fopen(path.c_str(), "r");
    if (!f)
        return 0;
    char line[256];
    long kb = 0;
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, "VmRSS:", 6) == 0)
            kb = std::atol(line + 6);
    }
    std::fclose(f);
    return kb;
}

// utime + stime of a whole process (all threads), in ms.
double cpuMs(int pid)
{
    const std::string path = "/proc/" + std::to_string(pid) + "/stat";
    FILE *f = std::fopen(path.c_str(), "r");
    if (!f)
        return 0;
    char buf[2048];
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const char *p = std::strrchr(buf, ')');
    if (!p)
        return 0;
    unsigned long long utime = 0, stime = 0;
    if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return 0;
    return double(utime + stime) * 1000.0 / double(sysconf(_SC_CLK_TCK));
}

void LoadGen::run()
{
    raiseFileLimit(m_o.subs + 8);
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGTERM, onSignal);
    std::signal(SIGINT, onSignal);
    m_target = makeAddr(m_o.host, m_o.port);
    const std::string hostHeader = m_o.host + ":" + std::to_string(m_o.port);
    if (m_o.transport == Transport::Ws)
        m_request =
            "GET " + m_o.path + " HTTP/1.1\r\nHost: " + hostHeader +
            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n";
    else
        m_request = "GET " + m_o.path + " HTTP/1.1\r\nHost: " + hostHeader +
                    "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
    m_ep = epoll_create1(EPOLL_CLOEXEC);
    if (m_ep < 0)
        die("epoll_create1 failed");
    m_s.latUs.reserve(std::size_t(m_o.subs) * std::size_t(std::max(m_o.msgs, 0)));

    const long rssBefore = m_o.serverPid > 0 ? vmRssKb(m_o.serverPid) : 0;

    // Phase 1: connect everyone and wait for the subscriptions.
    const auto t0 = Clock::now();
    const auto connectDeadline = t0 + std::chrono::milliseconds(std::int64_t(m_o.connectTimeoutS * 1000));
    while (!g_stop.load()) {
        pumpQueue();
        if (m_s.readyCount + m_s.failedCount >= m_o.subs)
            break;
        if (Clock::now() > connectDeadline) {
            for (int i = 0; i < m_o.subs; ++i) {
                Conn &c = m_conns[std::size_t(i)];
                if (!c.ready && !c.failed) {
                    if (c.state == ConnState::Queued) {
                        c.failed = true;
                        c.state = ConnState::Closed;
                        ++m_s.failedCount;
                        ++m_s.timedOut;
                    } else {
                        fail(i, m_s.timedOut);
                    }
                }
            }
            break;
        }
        poll(20);
    }
    const auto tReady = Clock::now();
    const double connectMs = msSince(t0, tReady);
    const double tcpMs = m_s.tcpEstablished == m_o.subs ? msSince(t0, m_s.allTcpAt) : -1;
    const int ready = m_s.readyCount;
    long rssReady = 0;
    if (m_o.serverPid > 0) {
        // Let the server finish what the last handshakes started before sampling it.
        const auto settleEnd = Clock::now() + std::chrono::milliseconds(std::max(m_o.settleMs, 500));
        while (Clock::now() < settleEnd)
            poll(10);
        rssReady = vmRssKb(m_o.serverPid);
    }
    const double kibPerConn = ready > 0 && m_o.serverPid > 0 ? double(rssReady - rssBefore) / ready : 0;

    char human[1024];
    auto jsonCommon = [&](std::string &j) {
        char b[1024];
        std::snprintf(b, sizeof b,
                      "\"label\":\"%s\",\"transport\":\"%s\",\"subs\":%d,\"ready\":%d,\"failed\":%d,"
                      "\"refused\":%d,\"reset\":%d,\"bad_status\":%d,\"timed_out\":%d,\"connect_ms\":%.1f,"
                      "\"tcp_ms\":%.1f,\"server_rss_before_kb\":%ld,\"server_rss_ready_kb\":%ld,"
                      "\"server_kib_per_conn\":%.2f",
                      m_o.label.c_str(), m_o.transport == Transport::Ws ? "ws" : "sse", m_o.subs, ready,
                      m_s.failedCount, m_s.refused, m_s.resetOrError, m_s.badStatus, m_s.timedOut, connectMs,
                      tcpMs, rssBefore, rssReady, kibPerConn);
        j += b;
    };

    if (m_o.holdS >= 0) {
        std::string j = "{";
        jsonCommon(j);
        j += ",\"loadgen_rss_kb\":" + std::to_string(vmRssKb()) + "}";
        std::snprintf(human, sizeof human,
                      "# %s %s: %d/%d ready in %.0f ms (tcp %.0f ms), %d failed; holding", m_o.label.c_str(),
                      m_o.transport == Transport::Ws ? "ws" : "sse", ready, m_o.subs, connectMs, tcpMs,
                      m_s.failedCount);
        std::printf("%s\n%s\nREADY\n", human, j.c_str());
        std::fflush(stdout);
        const auto holdEnd = Clock::now() + std::chrono::milliseconds(std::int64_t(m_o.holdS * 1000));
        while (!g_stop.load() && (m_o.holdS == 0 || Clock::now() < holdEnd))
            poll(100);
        std::printf("# held; %d dropped by the server while idle\n", m_s.droppedAfterReady);
        for (int i = 0; i < m_o.subs; ++i)
            closeConn(i);
        return;
    }

    // Phase 2: publish on another thread, count deliveries here.
    std::uint64_t expected = std::uint64_t(ready) * std::uint64_t(m_o.msgs);
    std::thread pub;
    double cpuBefore = 0;
    if (!m_o.pubUrl.empty() && m_o.msgs > 0 && ready > 0) {
        const auto settleEnd = Clock::now() + std::chrono::milliseconds(m_o.settleMs);
        while (Clock::now() < settleEnd)
            poll(10);
        m_s.foreign = 0;
        cpuBefore = m_o.serverPid > 0 ? cpuMs(m_o.serverPid) : 0;
        pub = std::thread([this] { publisher(); });
        m_pubGo.store(true);
        const auto deadline = Clock::now() + std::chrono::milliseconds(std::int64_t(m_o.timeoutS * 1000));
        auto lastProgress = Clock::now();
        std::uint64_t lastCount = 0;
        while (!g_stop.load() && m_s.delivered < expected) {
            poll(10);
            const auto now = Clock::now();
            if (m_s.delivered != lastCount) {
                lastCount = m_s.delivered;
                lastProgress = now;
            }
            if (now > deadline)
                break;
            if (m_pubDone.load() && msSince(lastProgress, now) > m_o.idleTimeoutS * 1000)
                break;
        }
        pub.join();
    }
    const double serverCpuMs = m_o.serverPid > 0 ? cpuMs(m_o.serverPid) - cpuBefore : 0;
    // Rate: every counted delivery over the span from the first publish to the last delivery.
    double spanMs = 0;
    if (m_s.delivered > 0) {
        const std::int64_t lastWall =
            wallNs() -
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - m_s.lastDelivery).count();
        spanMs = double(lastWall - m_pubFirstNs.load()) / 1e6;
    }
    const double rate = spanMs > 0 ? double(m_s.delivered) / (spanMs / 1000.0) : 0;
    const double p50 = percentile(m_s.latUs, 0.50);
    const double p99 = percentile(m_s.latUs, 0.99);
    const double pmax =
        m_s.latUs.empty() ? 0 : *std::max_element(m_s.latUs.begin(), m_s.latUs.end()) / 1000.0;
    std::vector<std::int32_t> rttUs;
    for (double r : m_pubRtt)
        rttUs.push_back(std::int32_t(r * 1000));
    const double rttP50 = percentile(rttUs, 0.5);
    const double rttP99 = percentile(rttUs, 0.99);
    std::uint64_t missing = expected > m_s.delivered ? expected - m_s.delivered : 0;
    int incomplete = 0;
    for (const Conn &c : m_conns) {
        if (c.ready && c.received < std::uint32_t(m_o.msgs))
            ++incomplete;
    }

    std::string j = "{";
    jsonCommon(j);
    char b[1024];
    std::snprintf(
        b, sizeof b,
        ",\"msgs\":%d,\"published\":%d,\"publish_errors\":%d,\"publish_stalls\":%d,\"publish_ms\":%.1f,"
        "\"publish_rtt_p50_ms\":%.2f,\"publish_rtt_p99_ms\":%.2f,\"expected\":%llu,\"delivered\":%llu,"
        "\"missing\":%llu,\"incomplete_subs\":%d,\"out_of_order\":%llu,\"duplicates\":%llu,"
        "\"dropped\":%d,\"span_ms\":%.1f,\"rate\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,"
        "\"server_cpu_ms\":%.0f}",
        m_o.msgs, m_published, m_pubErrors, m_pubStalls, m_pubMs, rttP50, rttP99,
        static_cast<unsigned long long>(expected), static_cast<unsigned long long>(m_s.delivered),
        static_cast<unsigned long long>(missing), incomplete, static_cast<unsigned long long>(m_s.outOfOrder),
        static_cast<unsigned long long>(m_s.duplicates), m_s.droppedAfterReady, spanMs, rate, p50, p99, pmax,
        serverCpuMs);
    j += b;
    std::snprintf(
        human, sizeof human,
        "# %s %s: %d/%d subscribers ready in %.0f ms; %d msgs published in %.0f ms; %llu/%llu delivered "
        "(%llu missing) in %.0f ms = %.0f msg/s; latency p50 %.1f ms p99 %.1f ms max %.1f ms",
        m_o.label.c_str(), m_o.transport == Transport::Ws ? "ws" : "sse", ready, m_o.subs, connectMs,
        m_published, m_pubMs, static_cast<unsigned long long>(m_s.delivered),
        static_cast<unsigned long long>(expected), static_cast<unsigned long long>(missing), spanMs, rate,
        p50, p99, pmax);
    std::printf("%s\n%s\n", human, j.c_str());
    std::fflush(stdout);
    for (int i = 0; i < m_o.subs; ++i)
        closeConn(i);
}

} // namespace

int main(int argc, char **argv)
{
    const Options o = parseOptions(argc, argv);
    LoadGen gen(o);
    gen.run();
    return 0;
}
