#include "auth.h"
#include "cluster.h"
#include "hub.h"
#include "rawclient.h"
#include "redishistory.h"
#include "redisserver.h"
#include "server.h"
#include "testclient.h"
#include "testserver.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QUuid>

using namespace Qt::StringLiterals;
using namespace HeraldTest;

namespace {

// One node: its own data dir, on the shared Redis under the test's prefix.
struct Node
{
    QTemporaryDir dir;
    std::unique_ptr<Herald::Server> server;
    quint16 port() const { return server ? server->port() : 0; }
};

QJsonObject publishOn(quint16 port, const QString &channel, const QString &text, int *status = nullptr)
{
    const HttpResult r =
        http("POST", port, u"/api/publish"_s,
             QJsonDocument(QJsonObject{{"channel"_L1, channel}, {"type"_L1, "note"_L1}, {"message"_L1, text}})
                 .toJson(QJsonDocument::Compact));
    if (status)
        *status = r.status;
    return r.json();
}

// The ids of the next `n` "note" frames the client gets, fewer where one does not come.
QList<qint64> noteIds(WsClient &ws, int n)
{
    QList<qint64> ids;
    for (int i = 0; i < n; ++i) {
        const auto m = ws.waitFor(u"note"_s);
        if (!m)
            break;
        ids.append(m->value("id"_L1).toInteger());
    }
    return ids;
}

// A request of a concurrent batch, to one node.
Flight at(quint16 port, const QByteArray &method, const QString &path, const QByteArray &body)
{
    return Flight{method, path, body, port};
}

bool isConnectedTo(const Node *node, const QString &clientId)
{
    const QList<Herald::ClientInfo> clients = node->server->hub()->clients();
    return std::any_of(clients.begin(), clients.end(),
                       [&](const Herald::ClientInfo &c) { return c.clientId == clientId; });
}

int statsField(quint16 port, const char *field)
{
    return http("GET", port, u"/api/stats"_s).json().value(QLatin1StringView(field)).toInt(-1);
}

QJsonArray parseArray(const QByteArray &bytes)
{
    return QJsonDocument::fromJson(bytes).array();
}

HttpResult sendJson(const QByteArray &method, quint16 port, const QString &path, const QJsonObject &body)
{
    return http(method, port, path, Herald::compactJson(body));
}

QList<QJsonObject> modelEvents(const QList<QJsonObject> &frames)
{
    QList<QJsonObject> events;
    for (const QJsonObject &f : frames) {
        const QString type = f.value("type"_L1).toString();
        if (type == "created"_L1 || type == "updated"_L1 || type == "deleted"_L1)
            events.append(f);
    }
    return events;
}

qint64 lastIdHeader(const HttpResult &r)
{
    for (const auto &[name, value] : r.headers) {
        if (name.compare("X-Herald-Last-Id", Qt::CaseInsensitive) == 0)
            return value.toLongLong();
    }
    return -1;
}

// One complete response at the front of `buffer` (with a Content-Length), taken off it; nullopt if it is not
// all there yet.
std::optional<HttpResult> takeResponse(QByteArray &buffer)
{
    const qsizetype end = buffer.indexOf("\r\n\r\n");
    if (end < 0)
        return std::nullopt;
    HttpResult r;
    const QList<QByteArray> lines = buffer.left(end).split('\n');
    r.status = lines.value(0).split(' ').value(1).toInt();
    qint64 length = 0;
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const qsizetype colon = lines.at(i).indexOf(':');
        if (colon <= 0)
            continue;
        const QByteArray name = lines.at(i).left(colon).trimmed();
        const QByteArray value = lines.at(i).mid(colon + 1).trimmed();
        r.headers.append({name, value});
        if (name.compare("Content-Length", Qt::CaseInsensitive) == 0)
            length = value.toLongLong();
    }
    if (buffer.size() < end + 4 + length)
        return std::nullopt;
    r.body = buffer.mid(end + 4, length);
    buffer.remove(0, end + 4 + length);
    return r;
}

// An HTTP/1.1 connection kept open. Its first request is answered with this thread's event loop running (the
// node accepts on its main thread, which is this one); later ones block this thread, so the node's
// main-thread work (its cluster bus) waits until they are answered: what they get comes from a worker thread
// and Redis only.
class KeptConnection
{
public:
    bool open(quint16 port)
    {
        m_socket.connectToHost(QHostAddress::LocalHost, port);
        if (!m_socket.waitForConnected(5000))
            return false;
        m_socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 5000) {
            QTest::qWait(5);
            m_buffer += m_socket.readAll();
            if (auto r = takeResponse(m_buffer))
                return r->status == 200;
        }
        return false;
    }
    HttpResult blockingGet(const QString &path) { return blockingRequest("GET", path); }
    HttpResult blockingRequest(const QByteArray &method, const QString &path, const QByteArray &body = {})
    {
        QByteArray request = method + ' ' + path.toUtf8() + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        if (!body.isEmpty())
            request +=
                "Content-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size()) +
                "\r\n";
        m_socket.write(request + "\r\n" + body);
        m_socket.waitForBytesWritten(5000);
        while (m_socket.waitForReadyRead(5000)) {
            m_buffer += m_socket.readAll();
            if (auto r = takeResponse(m_buffer))
                return *r;
        }
        return {};
    }

private:
    QTcpSocket m_socket;
    QByteArray m_buffer;
};

// The status of a WebSocket upgrade or an event stream's answer (0 if none came): a refusal is an HTTP error.
int handshakeStatus(quint16 port, const QByteArray &target)
{
    RawClient c;
    if (!c.connectTo(port))
        return 0;
    c.write(target.startsWith("/ws") ? upgradeRequest(target) : httpRequest("GET", target));
    return c.readResponse().status;
}

} // namespace

// Three herald-server nodes on one real redis-server (SPEC section 8): cross-node delivery, resume on another
// node, cluster counts, node death, personal delivery, and Redis going away and coming back.
class tst_Cluster : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void publishReachesEveryNode();
    void resumeOnAnotherNodeMissesNothing();
    void clusterCountsAndNodes();
    void personalDeliveryAcrossNodes();
    void kickAcrossNodes();
    void deadNodeLeavesTotalsWithinTtl();
    void redisLostThenBack();
    void lostAnswerIsOutcomeUnknown();
    void redisUnavailableAtStart();
    void historyIsShared();
    void recordsSharedAcrossNodes();
    void sameEmailOnTwoNodes();
    void referencesHoldAcrossNodes();
    void lateJoinerOnAnotherNode();
    void listPositionIsTheClusters();
    void epochSharedAcrossNodes();
    void resetOnTheClusterGoesLive();
    void busLostTwiceDeliversOnce();
    void clientIdClaimedAcrossNodes();
    void readStateAcrossNodes();

private:
    Node *startNode(const QString &name = {}, const std::function<void(Herald::ServerConfig &)> &tweak = {});

    RedisServer m_redis;
    QString m_prefix;
    std::vector<std::unique_ptr<Node>> m_nodes;
};

void tst_Cluster::initTestCase()
{
    QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
}

void tst_Cluster::init()
{
    // A fresh key space per test: the tests share one redis-server.
    m_prefix = u"t%1:"_s.arg(QUuid::createUuid().toString(QUuid::Id128).left(8));
}

void tst_Cluster::cleanup()
{
    m_nodes.clear();
    if (!m_redis.isRunning())
        QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
}

Node *tst_Cluster::startNode(const QString &name, const std::function<void(Herald::ServerConfig &)> &tweak)
{
    auto node = std::make_unique<Node>();
    const QString url = m_redis.url();
    const QString prefix = m_prefix;
    node->server = startTestServer(node->dir.path(), [&](Herald::ServerConfig &c) {
        c.redisUrl = url;
        c.redisPrefix = prefix;
        c.nodeId = name;
        c.nodeTtl = std::chrono::seconds(1);
        if (tweak)
            tweak(c);
    });
    if (!node->server)
        return nullptr;
    m_nodes.push_back(std::move(node));
    Node *n = m_nodes.back().get();
    // On the bus before the test publishes: a node delivers from the moment Redis confirms its subscription.
    QElapsedTimer t;
    t.start();
    while (!n->server->cluster()->isBusUp() && t.elapsed() < 5000)
        QTest::qWait(10);
    return n->server->cluster()->isBusUp() ? n : nullptr;
}

void tst_Cluster::publishReachesEveryNode()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    Node *c = startNode(u"c"_s);
    QVERIFY(a && b && c);
    WsClient onA, onB, onC;
    QVERIFY(onA.open(a->port(), u"/ws?channels=news"_s));
    QVERIFY(onB.open(b->port(), u"/ws?channels=news"_s));
    QVERIFY(onC.open(c->port(), u"/ws?channels=news"_s));

    int status = 0;
    const QJsonObject ack = publishOn(a->port(), u"news"_s, u"from a"_s, &status);
    QCOMPARE(status, 202);
    const qint64 id = ack.value("id"_L1).toInteger();
    QVERIFY(id > 0);
    for (WsClient *ws : {&onA, &onB, &onC}) {
        const auto m = ws->waitFor(u"note"_s);
        QVERIFY(m);
        QCOMPARE(m->value("id"_L1).toInteger(), id);
        QCOMPARE(m->value("message"_L1).toString(), u"from a"_s);
        QCOMPARE(m->value("channel"_L1).toString(), u"news"_s);
    }

    // A publish on another node takes the next id of the one cluster sequence, and arrives once per client.
    publishOn(c->port(), u"news"_s, u"from c"_s, &status);
    QCOMPARE(status, 202);
    for (WsClient *ws : {&onA, &onB, &onC}) {
        const auto m = ws->waitFor(u"note"_s);
        QVERIFY(m);
        QCOMPARE(m->value("id"_L1).toInteger(), id + 1);
        QVERIFY(ws->noFrame(u"note"_s, 200));
    }
}

void tst_Cluster::resumeOnAnotherNodeMissesNothing()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    Node *c = startNode(u"c"_s);
    QVERIFY(a && b && c);
    qint64 lastSeen = 0;
    {
        WsClient onB;
        QVERIFY(onB.open(b->port(), u"/ws?channels=orders"_s));
        publishOn(a->port(), u"orders"_s, u"1"_s);
        const auto m = onB.waitFor(u"note"_s);
        QVERIFY(m);
        lastSeen = m->value("id"_L1).toInteger();
        onB.close();
        QVERIFY(onB.waitDisconnected());
    }
    // Published while the client moves from B to C, on all three nodes and on another channel in between.
    QList<qint64> missed;
    for (int i = 0; i < 30; ++i) {
        Node *via = m_nodes.at(size_t(i % 3)).get();
        missed.append(publishOn(via->port(), u"orders"_s, QString::number(i)).value("id"_L1).toInteger());
        publishOn(via->port(), u"other"_s, u"noise"_s);
    }
    WsClient onC;
    QVERIFY(onC.open(c->port(), u"/ws?channels=orders&since=%1"_s.arg(lastSeen)));
    const QJsonObject replay{{"count"_L1, 30}, {"recovered"_L1, true}};
    QCOMPARE(replayNotice(onC, replay), replay);
    QCOMPARE(noteIds(onC, 30), missed);
    // And live after the replay, from a node the client never used.
    const qint64 live = publishOn(a->port(), u"orders"_s, u"live"_s).value("id"_L1).toInteger();
    QCOMPARE(noteIds(onC, 1), QList<qint64>({live}));
    QVERIFY(onC.noFrame(u"note"_s, 200));
}

void tst_Cluster::clusterCountsAndNodes()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    Node *c = startNode(u"c"_s);
    QVERIFY(a && b && c);
    std::vector<std::unique_ptr<WsClient>> clients;
    auto connect = [&](Node *n, const QString &path) {
        clients.push_back(std::make_unique<WsClient>());
        return clients.back()->open(n->port(), path);
    };
    QVERIFY(connect(a, u"/ws?channels=x"_s));
    QVERIFY(connect(a, u"/ws"_s));
    QVERIFY(connect(b, u"/ws?channels=x"_s));
    QVERIFY(connect(b, u"/ws?channels=y"_s));
    QVERIFY(connect(b, u"/ws?channels=x,y"_s));
    // Each node's /api/stats adds the others' figures (heartbeat every TTL/3).
    for (Node *n : {a, b, c}) {
        QTRY_COMPARE_WITH_TIMEOUT(statsField(n->port(), "clients"), 5, 5000);
        QTRY_COMPARE_WITH_TIMEOUT(statsField(n->port(), "subscribers"), 4, 5000);
    }
    const QJsonObject stats = http("GET", c->port(), u"/api/stats"_s).json();
    QCOMPARE(stats.value("node"_L1).toString(), u"c"_s);
    QCOMPARE(stats.value("channels"_L1).toObject().value("x"_L1).toInt(), 3);
    QCOMPARE(stats.value("channels"_L1).toObject().value("y"_L1).toInt(), 2);
    QHash<QString, int> perNode;
    for (const QJsonValue &v : stats.value("nodes"_L1).toArray())
        perNode.insert(v.toObject().value("id"_L1).toString(), v.toObject().value("clients"_L1).toInt());
    QCOMPARE(perNode, (QHash<QString, int>{{u"a"_s, 2}, {u"b"_s, 3}, {u"c"_s, 0}}));

    // The counts frame of seed 003's /ws/client carries the totals too.
    WsClient counter;
    QVERIFY(counter.open(c->port(), u"/ws/client"_s));
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            for (const QJsonObject &f : counter.frames()) {
                if (f.value("type"_L1) == u"counts"_s && f.value("clients"_L1).toInt() == 6)
                    return true;
            }
            return false;
        }(),
        5000);
    const QJsonObject health = http("GET", a->port(), u"/healthz"_s).json();
    QCOMPARE(health.value("status"_L1).toString(), u"ok"_s);
    QCOMPARE(health.value("node"_L1).toString(), u"a"_s);
    QCOMPARE(health.value("nodes"_L1).toInt(), 3);
}

void tst_Cluster::personalDeliveryAcrossNodes()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    QVERIFY(a && b);
    WsClient user;
    QVERIFY(user.open(b->port(), u"/ws?user_id=42"_s));
    WsClient chat;
    QVERIFY(chat.open(b->port(), u"/ws/alice"_s));
    QTRY_VERIFY(isConnectedTo(b, u"alice"_s));

    publishOn(a->port(), u"user:42"_s, u"for 42"_s);
    auto m = user.waitFor(u"note"_s);
    QVERIFY(m);
    QCOMPARE(m->value("message"_L1).toString(), u"for 42"_s);

    Herald::Message direct;
    direct.type = u"personal"_s;
    direct.message = u"for alice"_s;
    QVERIFY(a->server->hub()->sendToClient(u"alice"_s, direct));
    m = chat.waitFor(u"personal"_s);
    QVERIFY(m);
    QCOMPARE(m->value("message"_L1).toString(), u"for alice"_s);
}

void tst_Cluster::kickAcrossNodes()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    QVERIFY(a && b);
    WsClient victim;
    QVERIFY(victim.open(b->port(), u"/ws/mallory"_s));
    QTRY_VERIFY(isConnectedTo(b, u"mallory"_s));
    WsClient admin;
    QVERIFY(admin.open(a->port(), u"/ws/server"_s));
    admin.send(QJsonObject{{"type"_L1, "disconnect"_L1}, {"client_id"_L1, "mallory"_L1}});
    QVERIFY(admin.waitFor(u"disconnected"_s));
    QVERIFY(victim.waitDisconnected());
    QCOMPARE(victim.closeCode(), 4001);
}

void tst_Cluster::deadNodeLeavesTotalsWithinTtl()
{
    Node *a = startNode(u"a"_s);
    QVERIFY(a);
    // Node C is a real process, so that it can die without a word (kill -9).
    QTemporaryDir dir;
    QProcess c;
    const quint16 port = freePort();
    c.start(QStringLiteral(HERALD_SERVER_BINARY),
            {u"--port"_s, QString::number(port), u"--data-dir"_s, dir.path(), u"--redis"_s, m_redis.url(),
             u"--redis-prefix"_s, m_prefix, u"--node-id"_s, u"c"_s, u"--node-ttl"_s, u"1s"_s});
    QVERIFY(c.waitForStarted());
    QTRY_VERIFY2_WITH_TIMEOUT(http("GET", port, u"/healthz"_s).json().value("status"_L1) == u"ok"_s,
                              c.readAllStandardError().constData(), 20000);
    std::vector<std::unique_ptr<WsClient>> onC;
    for (int i = 0; i < 4; ++i) {
        onC.push_back(std::make_unique<WsClient>());
        QVERIFY(onC.back()->open(port, u"/ws?channels=z"_s));
    }
    WsClient onA;
    QVERIFY(onA.open(a->port(), u"/ws?channels=z"_s));
    QTRY_COMPARE_WITH_TIMEOUT(statsField(a->port(), "clients"), 5, 5000);

    c.kill();
    QTRY_VERIFY_WITH_TIMEOUT(c.state() == QProcess::NotRunning, 5000);
    QElapsedTimer gone;
    gone.start();
    // TTL 1 s, and A reads the others every TTL/3: gone from the totals within about 1.4 s.
    QTRY_COMPARE_WITH_TIMEOUT(statsField(a->port(), "clients"), 1, 3000);
    QVERIFY2(gone.elapsed() < 2500, qPrintable(u"took %1 ms"_s.arg(gone.elapsed())));
    QCOMPARE(http("GET", a->port(), u"/api/stats"_s).json().value("nodes"_L1).toArray().size(), 1);
}

// Redis hangs past both tries of a publish (the command timeout is 2 s): the publisher gets 504
// outcome_unknown, not 503, for the script may have run. When Redis is back, the message is there once, not
// once per try, and every node delivers it once.
void tst_Cluster::lostAnswerIsOutcomeUnknown()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    QVERIFY(a && b);
    WsClient onB;
    QVERIFY(onB.open(b->port(), u"/ws?channels=u"_s));
    QVERIFY(onB.waitFor(u"connected"_s));

    QVERIFY(m_redis.pause());
    QTimer::singleShot(6000, a->server.get(), [this] { m_redis.resume(); });
    int status = 0;
    const QJsonObject answer = publishOn(a->port(), u"u"_s, u"maybe"_s, &status);
    QCOMPARE(status, 504);
    QCOMPARE(answer.value("error"_L1).toString(), u"outcome_unknown"_s);
    QVERIFY2(answer.value("detail"_L1).toString().contains(u"may have been published"_s),
             qPrintable(answer.value("detail"_L1).toString()));

    const auto note = onB.waitFor(u"note"_s, 15000);
    QVERIFY(note);
    QCOMPARE(note->value("message"_L1).toString(), u"maybe"_s);
    QVERIFY(onB.noFrame(u"note"_s, 500)); // once, not once per try
    const QJsonArray history =
        http("GET", a->port(), u"/api/channels/u/history"_s).json().value("messages"_L1).toArray();
    QCOMPARE(history.size(), 1);
}

void tst_Cluster::redisLostThenBack()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    QVERIFY(a && b);
    WsClient onA, onB;
    QVERIFY(onA.open(a->port(), u"/ws?channels=r"_s));
    QVERIFY(onB.open(b->port(), u"/ws?channels=r"_s));
    const qint64 before = publishOn(a->port(), u"r"_s, u"before"_s).value("id"_L1).toInteger();
    for (WsClient *ws : {&onA, &onB})
        QVERIFY(ws->waitFor(u"note"_s));
    const QString epoch = a->server->hub()->epoch();
    QCOMPARE(b->server->hub()->epoch(), epoch);

    // This Redis keeps nothing across a restart (no RDB, no AOF): the sequence comes back at 0.
    m_redis.stop();
    QTRY_COMPARE_WITH_TIMEOUT(http("GET", a->port(), u"/healthz"_s).json().value("status"_L1).toString(),
                              u"degraded"_s, 5000);
    QCOMPARE(http("GET", a->port(), u"/healthz"_s).status, 200);
    // Local connections stay; a publish cannot be ordered and stored without Redis, and says so.
    QVERIFY(onA.isConnected());
    QVERIFY(onB.isConnected());
    int status = 0;
    const QJsonObject refused = publishOn(a->port(), u"r"_s, u"lost"_s, &status);
    QCOMPARE(status, 503);
    QCOMPARE(refused.value("error"_L1).toString(), u"unavailable"_s);
    // Model records are in Redis: neither listed nor changed meanwhile, and the refusal says so.
    QCOMPARE(http("GET", b->port(), u"/users/"_s).status, 503);
    const HttpResult change =
        sendJson("POST", a->port(), u"/users/"_s, {{"email"_L1, "lost@example.com"_L1}, {"name"_L1, "L"_L1}});
    QCOMPARE(change.status, 503);
    QCOMPARE(change.json().value("error"_L1).toString(), u"unavailable"_s);

    QVERIFY2(m_redis.restart(), qPrintable(m_redis.errorString()));
    for (Node *n : {a, b})
        QTRY_COMPARE_WITH_TIMEOUT(http("GET", n->port(), u"/healthz"_s).json().value("status"_L1).toString(),
                                  u"ok"_s, 10000);
    const qint64 after = publishOn(a->port(), u"r"_s, u"back"_s, &status).value("id"_L1).toInteger();
    QCOMPARE(status, 202);
    // Ids never go back: a client resuming from `before` must get what came after it.
    QVERIFY2(after > before, qPrintable(u"%1 after %2"_s.arg(after).arg(before)));
    // But the history went with Redis's data: a new epoch, the same on both nodes.
    QVERIFY(a->server->hub()->epoch() != epoch);
    QCOMPARE(b->server->hub()->epoch(), a->server->hub()->epoch());
    QCOMPARE(
        sendJson("POST", a->port(), u"/users/"_s, {{"email"_L1, "back@example.com"_L1}, {"name"_L1, "B"_L1}})
            .status,
        201);
    QCOMPARE(parseArray(http("GET", b->port(), u"/users/"_s).body).size(), 1);
    for (WsClient *ws : {&onA, &onB}) {
        const auto m = ws->waitFor(u"note"_s);
        QVERIFY(m);
        QCOMPARE(m->value("message"_L1).toString(), u"back"_s);
        QCOMPARE(m->value("id"_L1).toInteger(), after);
    }
}

void tst_Cluster::redisUnavailableAtStart()
{
    QTemporaryDir dir;
    const quint16 nothing = freePort();
    Herald::ServerConfig config;
    config.port = 0;
    config.dataDir = dir.path();
    config.redisUrl = u"redis://127.0.0.1:%1"_s.arg(nothing);
    Herald::Server server(config);
    QVERIFY(!server.start());
    QVERIFY2(server.errorString().contains(u"Redis"_s, Qt::CaseInsensitive),
             qPrintable(server.errorString()));

    QProcess p;
    p.start(QStringLiteral(HERALD_SERVER_BINARY),
            {u"--port"_s, u"0"_s, u"--data-dir"_s, dir.path(), u"--redis"_s, config.redisUrl});
    QVERIFY(p.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(p.state() == QProcess::NotRunning, 10000);
    QCOMPARE(p.exitStatus(), QProcess::NormalExit);
    QVERIFY(p.exitCode() != 0);
    const QByteArray err = p.readAllStandardError();
    QVERIFY2(err.contains("Redis") && err.contains(QByteArray::number(nothing)), err.constData());
}

void tst_Cluster::historyIsShared()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    QVERIFY(a && b);
    publishOn(a->port(), u"user:9"_s, u"one"_s);
    publishOn(b->port(), u"user:9"_s, u"two"_s);
    const QJsonObject list = http("GET", b->port(), u"/api/notifications?user_id=9"_s).json();
    const QJsonArray messages = list.value("notifications"_L1).toArray();
    QCOMPARE(messages.size(), 2);
    QCOMPARE(list.value("unread"_L1).toInt(), 2);
    const qint64 first = messages.at(0).toObject().value("id"_L1).toInteger();
    QCOMPARE(http("POST", a->port(), u"/api/notifications/%1/read"_s.arg(first)).status, 200);
    QCOMPARE(http("GET", b->port(), u"/api/notifications?user_id=9"_s).json().value("unread"_L1).toInt(), 1);
    const QJsonObject history = http("GET", a->port(), u"/api/channels/user:9/history"_s).json();
    QCOMPARE(history.value("messages"_L1).toArray().size(), 2);
}

void tst_Cluster::recordsSharedAcrossNodes()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    Node *c = startNode(u"c"_s);
    QVERIFY(a && b && c);
    WsClient onC;
    QVERIFY(onC.open(c->port(), u"/ws/users"_s));
    QVERIFY(onC.waitFor(u"connection"_s));

    const HttpResult created = sendJson("POST", a->port(), u"/users/"_s,
                                        {{"email"_L1, "ann@example.com"_L1}, {"name"_L1, "Ann"_L1}});
    QCOMPARE(created.status, 201);
    const QJsonObject ann = created.json();
    const qint64 id = ann.value("id"_L1).toInteger();
    QCOMPARE(id, 1);
    // Listed and read on another node…
    QCOMPARE(parseArray(http("GET", b->port(), u"/users/"_s).body), QJsonArray{ann});
    const HttpResult read = http("GET", b->port(), u"/users/1"_s);
    QCOMPARE(read.status, 200);
    QCOMPARE(read.json(), ann);
    // …and announced on a third.
    const auto event = onC.waitFor(u"created"_s);
    QVERIFY(event);
    QCOMPARE(event->value("model"_L1).toString(), u"users"_s);
    QCOMPARE(event->value("data"_L1).toObject(), ann);

    // Changed on B, seen on C; the next id comes from the one sequence.
    const HttpResult patched = sendJson("PATCH", b->port(), u"/users/1"_s, {{"name"_L1, "Ann B"_L1}});
    QCOMPARE(patched.status, 200);
    QCOMPARE(http("GET", c->port(), u"/users/1"_s).json().value("name"_L1).toString(), u"Ann B"_s);
    const auto updated = onC.waitFor(u"updated"_s);
    QVERIFY(updated);
    QCOMPARE(updated->value("data"_L1).toObject(), patched.json());
    const HttpResult second = sendJson("POST", c->port(), u"/users/"_s,
                                       {{"email"_L1, "bob@example.com"_L1}, {"name"_L1, "Bob"_L1}});
    QCOMPARE(second.status, 201);
    QCOMPARE(second.json().value("id"_L1).toInteger(), 2);

    // Deleted on C: gone everywhere.
    QCOMPARE(http("DELETE", c->port(), u"/users/1"_s).status, 200);
    QVERIFY(onC.waitFor(u"deleted"_s));
    for (Node *n : {a, b, c}) {
        QCOMPARE(http("GET", n->port(), u"/users/1"_s).status, 404);
        QCOMPARE(parseArray(http("GET", n->port(), u"/users/"_s).body), QJsonArray{second.json()});
    }
    // A node's own SQLite holds none of it.
    for (Node *n : {a, b, c})
        QCOMPARE(n->server->store()->records()->records(u"users"_s, 10, 0).value().size(), 0);
}

void tst_Cluster::sameEmailOnTwoNodes()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    Node *c = startNode(u"c"_s);
    QVERIFY(a && b && c);
    WsClient watcher;
    QVERIFY(watcher.open(c->port(), u"/ws/users"_s));
    QVERIFY(watcher.waitFor(u"connection"_s));
    // Each round, one address claimed on A and on B at the same time (in different cases): one 201, one 409.
    constexpr int Rounds = 6;
    for (int round = 0; round < Rounds; ++round) {
        const QString email = u"claim%1@example.com"_s.arg(round);
        const QList<HttpResult> results = sendConcurrently({
            at(a->port(), "POST", u"/users/"_s,
               Herald::compactJson({{"email"_L1, email}, {"name"_L1, "On A"_L1}})),
            at(b->port(), "POST", u"/users/"_s,
               Herald::compactJson({{"email"_L1, email.toUpper()}, {"name"_L1, "On B"_L1}})),
        });
        QList<int> statuses{results.at(0).status, results.at(1).status};
        std::sort(statuses.begin(), statuses.end());
        QVERIFY2(statuses == (QList<int>{201, 409}),
                 qPrintable(u"round %1: %2 %3"_s.arg(round).arg(QString::fromUtf8(results.at(0).body),
                                                                QString::fromUtf8(results.at(1).body))));
        const HttpResult &refused = results.at(0).status == 409 ? results.at(0) : results.at(1);
        QCOMPARE(refused.json().value("error"_L1).toString(), u"conflict"_s);
    }
    const QJsonArray users = parseArray(http("GET", c->port(), u"/users/"_s).body);
    QCOMPARE(users.size(), Rounds);
    // Taken on A, refused on B later too, whatever the case; a patch to a taken address as well.
    QCOMPARE(sendJson("POST", b->port(), u"/users/"_s,
                      {{"email"_L1, "CLAIM0@Example.com"_L1}, {"name"_L1, "X"_L1}})
                 .status,
             409);
    const qint64 first = users.at(0).toObject().value("id"_L1).toInteger();
    QCOMPARE(sendJson("PATCH", c->port(), u"/users/%1"_s.arg(first), {{"email"_L1, "claim1@EXAMPLE.com"_L1}})
                 .status,
             409);
    // One event per user created, none for the refusals: a marker published after everything comes right
    // after the six.
    QCOMPARE(sendJson("POST", a->port(), u"/api/channels/users/events"_s, {{"type"_L1, "marker"_L1}}).status,
             202);
    QVERIFY(watcher.waitFor(u"marker"_s));
    QCOMPARE(modelEvents(watcher.frames()).size(), Rounds);
}

void tst_Cluster::referencesHoldAcrossNodes()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    QVERIFY(a && b);
    const HttpResult user = sendJson("POST", a->port(), u"/users/"_s,
                                     {{"email"_L1, "ann@example.com"_L1}, {"name"_L1, "Ann"_L1}});
    QCOMPARE(user.status, 201);
    const qint64 author = user.json().value("id"_L1).toInteger();
    // A post on B naming A's user; one naming nobody is refused.
    const HttpResult post =
        sendJson("POST", b->port(), u"/posts/"_s, {{"user_id"_L1, author}, {"title"_L1, "Hello"_L1}});
    QCOMPARE(post.status, 201);
    QCOMPARE(
        sendJson("POST", b->port(), u"/posts/"_s, {{"user_id"_L1, 99}, {"title"_L1, "Orphan"_L1}}).status,
        422);
    QCOMPARE(parseArray(http("GET", a->port(), u"/posts/?user_id=%1"_s.arg(author)).body),
             QJsonArray{post.json()});
    QCOMPARE(parseArray(http("GET", a->port(), u"/posts/?user_id=99"_s).body), QJsonArray());
    // The user cannot go while B's post refers to it, on either node.
    const HttpResult refused = http("DELETE", a->port(), u"/users/%1"_s.arg(author));
    QCOMPARE(refused.status, 409);
    QCOMPARE(refused.json().value("error"_L1).toString(), u"conflict"_s);
    QCOMPARE(http("DELETE", b->port(), u"/users/%1"_s.arg(author)).status, 409);
    QCOMPARE(http("DELETE", a->port(), u"/posts/%1"_s.arg(post.json().value("id"_L1).toInteger())).status,
             200);
    QCOMPARE(http("DELETE", b->port(), u"/users/%1"_s.arg(author)).status, 200);
}

void tst_Cluster::lateJoinerOnAnotherNode()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    Node *c = startNode(u"c"_s);
    QVERIFY(a && b && c);
    for (int i = 1; i <= 6; ++i)
        QCOMPARE(sendJson("POST", a->port(), u"/users/"_s,
                          {{"email"_L1, u"s%1@example.com"_s.arg(i)}, {"name"_L1, u"Setup %1"_s.arg(i)}})
                     .status,
                 201);
    // Changes in flight on A and C with the list read on B in the middle of them: the list shows some of
    // them, and X-Herald-Last-Id says exactly which.
    QList<Flight> flights;
    for (int i = 0; i < 4; ++i) {
        Node *via = i % 2 ? c : a;
        flights.append(at(via->port(), "POST", u"/users/"_s,
                          Herald::compactJson({{"email"_L1, u"flight%1@example.com"_s.arg(i)},
                                               {"name"_L1, u"Flight %1"_s.arg(i)}})));
        flights.append(at(via->port(), "PATCH", u"/users/%1"_s.arg(1 + i),
                          Herald::compactJson({{"name"_L1, u"Setup %1, in flight"_s.arg(1 + i)}})));
        if (i == 1)
            flights.append(at(b->port(), "GET", u"/users/"_s, {}));
        if (i < 2)
            flights.append(at(via->port(), "DELETE", u"/users/%1"_s.arg(5 + i), {}));
    }
    const QList<HttpResult> results = sendConcurrently(flights);
    HttpResult list;
    for (qsizetype i = 0; i < flights.size(); ++i) {
        if (flights.at(i).method == "GET") {
            list = results.at(i);
            continue;
        }
        QVERIFY2(results.at(i).status == 200 || results.at(i).status == 201, results.at(i).body.constData());
    }
    QCOMPARE(list.status, 200);
    const qint64 since = lastIdHeader(list);
    QVERIFY(since > 0);
    // After the list for certain, on A.
    QCOMPARE(sendJson("POST", a->port(), u"/users/"_s,
                      {{"email"_L1, "late@example.com"_L1}, {"name"_L1, "Late"_L1}})
                 .status,
             201);

    // The joiner, on C, from the list's id: the list plus its events is the final state, nothing twice.
    QMap<qint64, QJsonObject> state;
    for (const QJsonValue &v : parseArray(list.body))
        state.insert(v.toObject().value("id"_L1).toInteger(), v.toObject());
    WsClient joiner;
    QVERIFY(joiner.open(c->port(), u"/ws/users?since=%1"_s.arg(since)));
    const HttpResult final = http("GET", b->port(), u"/users/"_s);
    const qint64 finalId = lastIdHeader(final);
    QTRY_VERIFY_WITH_TIMEOUT(!modelEvents(joiner.frames()).isEmpty() &&
                                 modelEvents(joiner.frames()).constLast().value("id"_L1).toInteger() ==
                                     finalId,
                             5000);
    const QList<QJsonObject> events = modelEvents(joiner.frames());
    qint64 previous = since;
    for (const QJsonObject &e : events) {
        const qint64 eventId = e.value("id"_L1).toInteger();
        QVERIFY2(eventId > previous, "an event twice, out of order or from before the list");
        previous = eventId;
        const QJsonObject data = e.value("data"_L1).toObject();
        const qint64 id = data.value("id"_L1).toInteger();
        const QString type = e.value("type"_L1).toString();
        if (type == "created"_L1) {
            QVERIFY2(!state.contains(id), "the list already had a record created after it");
            state.insert(id, data);
        } else if (type == "updated"_L1) {
            QVERIFY2(state.contains(id), "an update of a record the list did not have");
            state.insert(id, data);
        } else {
            QVERIFY2(state.remove(id) == 1, "a delete of a record the list did not have");
        }
    }
    QJsonArray rebuilt;
    for (const QJsonObject &o : std::as_const(state))
        rebuilt.append(o);
    QCOMPARE(rebuilt, parseArray(final.body));
    QCOMPARE(rebuilt.size(), 6 + 4 - 2 + 1);
}

void tst_Cluster::listPositionIsTheClusters()
{
    Node *b = startNode(u"b"_s);
    QVERIFY(b);
    // Another node's change, written straight into Redis the way Cluster::publish writes it; node B's bus has
    // it waiting, but B runs its bus on this thread, which does not get to it before the list is answered.
    Herald::ServerConfig config;
    config.pruneInterval = std::chrono::hours(1);
    Herald::RedisHistory other(config, *Herald::RedisAddress::parse(m_redis.url()), m_prefix);
    QVERIFY2(other.open(), qPrintable(other.errorString()));
    const qint64 id = other.records()->allocateRecordId(u"users"_s).value();
    const QJsonObject ann{{"id"_L1, id},
                          {"email"_L1, "ann@example.com"_L1},
                          {"name"_L1, "Ann"_L1},
                          {"is_active"_L1, true},
                          {"created_at"_L1, "2026-01-01T00:00:00.000Z"_L1},
                          {"updated_at"_L1, "2026-01-01T00:00:00.000Z"_L1}};
    const Herald::RecordWrite write{Herald::RecordWrite::Op::Upsert, u"users"_s, id, ann, {}};
    Herald::Message created;
    created.channel = u"users"_s;
    created.type = u"created"_s;
    created.data = ann;
    created.timestamp = QDateTime::currentDateTimeUtc();
    created.extra.insert("model"_L1, u"users"_s);
    const QByteArray body = Herald::compactJson(
        QJsonObject{{"target"_L1, "channel"_L1}, {"stored"_L1, true}, {"message"_L1, created.toJson()}});
    KeptConnection connection;
    QVERIFY(connection.open(b->port()));
    const qint64 eventId = other.append(created, true, body, &write).value();

    const HttpResult list = connection.blockingGet(u"/users/"_s);
    QCOMPARE(list.status, 200);
    QCOMPARE(parseArray(list.body), QJsonArray{ann});
    // The position is the cluster's, read with the list: it includes the change the list shows, though B
    // has not delivered it yet. (B's own last id would be one behind, and ?since= would repeat the change.)
    QVERIFY(b->server->hub()->lastId() < eventId);
    QCOMPARE(lastIdHeader(list), eventId);

    WsClient joiner;
    QVERIFY(joiner.open(b->port(), u"/ws/users?since=%1"_s.arg(eventId)));
    QCOMPARE(sendJson("POST", b->port(), u"/api/channels/users/events"_s, {{"type"_L1, "marker"_L1}}).status,
             202);
    QVERIFY(joiner.waitFor(u"marker"_s));
    QVERIFY2(modelEvents(joiner.frames()).isEmpty(), "the joiner got a change its list already showed");
    other.close();
}

void tst_Cluster::epochSharedAcrossNodes()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    QVERIFY(a && b);
    const QString epoch = http("GET", a->port(), u"/healthz"_s).json().value("epoch"_L1).toString();
    QCOMPARE(epoch.size(), 16);
    QCOMPARE(http("GET", b->port(), u"/healthz"_s).json().value("epoch"_L1).toString(), epoch);
    WsClient onB;
    QVERIFY(onB.open(b->port(), u"/ws"_s));
    const auto hello = onB.waitFor(u"connected"_s);
    QVERIFY(hello);
    QCOMPARE(hello->value("epoch"_L1).toString(), epoch);

    // A node that restarts (its own new data dir) joins the same history.
    m_nodes.erase(m_nodes.begin());
    Node *again = startNode(u"a2"_s);
    QVERIFY(again);
    QCOMPARE(http("GET", again->port(), u"/healthz"_s).json().value("epoch"_L1).toString(), epoch);

    // Another cluster (prefix) on the same Redis is another history.
    m_prefix += u"other:"_s;
    Node *elsewhere = startNode(u"x"_s);
    QVERIFY(elsewhere);
    const QString other = http("GET", elsewhere->port(), u"/healthz"_s).json().value("epoch"_L1).toString();
    QCOMPARE(other.size(), 16);
    QVERIFY(other != epoch);
}

void tst_Cluster::resetOnTheClusterGoesLive()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    QVERIFY(a && b);
    const qint64 first = publishOn(a->port(), u"news"_s, u"first"_s).value("id"_L1).toInteger();
    QVERIFY(first > 0);
    // Ids from another history, far ahead of the cluster's sequence: a reset, judged by Redis's sequence.
    WsClient onB;
    QVERIFY(onB.open(b->port(), u"/ws?channels=news&since=100000"_s));
    const QJsonObject reset{{"recovered"_L1, false},
                            {"reason"_L1, "reset"_L1},
                            {"count"_L1, 0},
                            {"epoch"_L1, b->server->hub()->epoch()}};
    QCOMPARE(replayNotice(onB, reset), reset);
    // Then live, from either node, though below the stale since.
    QList<qint64> live;
    live.append(publishOn(a->port(), u"news"_s, u"1"_s).value("id"_L1).toInteger());
    live.append(publishOn(b->port(), u"news"_s, u"2"_s).value("id"_L1).toInteger());
    QCOMPARE(noteIds(onB, live.size()), live);
    QVERIFY(onB.noFrame(u"note"_s, 200));
}

void tst_Cluster::busLostTwiceDeliversOnce()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    QVERIFY(a && b);
    WsClient onA;
    QVERIFY(onA.open(a->port(), u"/ws?channels=dup"_s));
    QVERIFY(onA.waitFor(u"connected"_s));
    QTRY_VERIFY(a->server->hub()->channelCounts().value(u"dup"_s) == 1);
    KeptConnection toB;
    QVERIFY(toB.open(b->port()));

    // Every node's bus connection dropped, then three publishes on B before either node's main thread (this
    // one) gets to run again: A can only have them from its catch-up read.
    QSignalSpy bus(a->server->cluster(), &Herald::Cluster::busChanged);
    QVERIFY(m_redis.command({"CLIENT", "KILL", "TYPE", "pubsub"}));
    QList<qint64> missed;
    for (int i = 0; i < 3; ++i) {
        const HttpResult r = toB.blockingRequest(
            "POST", u"/api/publish"_s,
            Herald::compactJson(
                {{"channel"_L1, "dup"_L1}, {"type"_L1, "note"_L1}, {"message"_L1, QString::number(i)}}));
        QCOMPARE(r.status, 202);
        missed.append(r.json().value("id"_L1).toInteger());
    }
    auto notes = [&onA] {
        QList<qint64> ids;
        for (const QJsonObject &f : std::as_const(onA.frames())) {
            if (f.value("type"_L1).toString() == u"note"_s)
                ids.append(f.value("id"_L1).toInteger());
        }
        return ids;
    };
    QTRY_COMPARE_WITH_TIMEOUT(notes(), missed, 10000);
    QTRY_VERIFY(!bus.isEmpty() && bus.constLast().at(0).toBool());

    // Lost again before anything newer came: the next catch-up starts after what the last one delivered.
    bus.clear();
    QVERIFY(m_redis.command({"CLIENT", "KILL", "TYPE", "pubsub"}));
    QTRY_VERIFY_WITH_TIMEOUT(bus.size() >= 2 && bus.constLast().at(0).toBool(), 10000);
    QTest::qWait(300);
    QCOMPARE(notes(), missed);

    // And live as ever, once.
    const qint64 live = publishOn(b->port(), u"dup"_s, u"live"_s).value("id"_L1).toInteger();
    QTRY_COMPARE(notes(), missed + QList<qint64>{live});
    QTest::qWait(200);
    QCOMPARE(notes(), missed + QList<qint64>{live});
}

QTEST_MAIN(tst_Cluster)
#include "tst_cluster.moc"

void tst_Cluster::clientIdClaimedAcrossNodes()
{
    // SPEC section 7 on a cluster: a client id is its identity's on every node. Each node's registry sees
    // only its own connections, and client:<id> messages reach every node on the bus, so without a shared
    // claim Alice on node b could take Bob's id held on node a, and his personal messages with it.
    QTemporaryDir keys;
    const QString secretFile = keys.filePath(u"secret"_s);
    const QByteArray secret = "tst_cluster: a shared HS256 key, 0123456789abcdef";
    {
        QFile f(secretFile);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(secret);
    }
    const auto tokens = [&](Herald::ServerConfig &c) {
        c.authMode = Herald::ServerConfig::AuthMode::Token;
        c.jwtSecretFile = secretFile;
    };
    Node *a = startNode(u"a"_s, tokens);
    Node *b = startNode(u"b"_s, tokens);
    Node *c = startNode(u"c"_s, tokens);
    QVERIFY(a && b && c);
    const std::chrono::milliseconds linger(400);
    for (Node *n : {a, b, c})
        n->server->hub()->setClaimLinger(linger);
    const Herald::TokenVerifier minter(secret);
    const QByteArray bob = minter.mint(u"bob"_s, Herald::Role::Subscriber, std::chrono::hours(1));
    const QByteArray alice = minter.mint(u"alice"_s, Herald::Role::Subscriber, std::chrono::hours(1));
    const auto target = [](const char *path, const QByteArray &token) -> QByteArray {
        return QByteArray(path) + "?client_id=bobtab&token=" + token;
    };

    WsClient tab;
    QVERIFY(tab.open(a->port(), QString::fromLatin1(target("/ws", bob))));
    QVERIFY(tab.waitFor(u"connected"_s));
    // On the other node, on both transports: Alice is refused, Bob is not.
    QCOMPARE(handshakeStatus(b->port(), target("/ws", alice)), 403);
    QCOMPARE(handshakeStatus(b->port(), target("/events", alice)), 403);
    SseClient phone;
    QVERIFY(phone.open(b->port(), target("/events", bob)));
    QTRY_VERIFY(isConnectedTo(b, u"bobtab"_s));

    // Held longer than a claim's TTL in Redis (three renewals at a node TTL of 1 s): the nodes renew it, so
    // a node that never saw Bob refuses Alice too.
    QTest::qWait(int(3 * std::max<qint64>(1000, linger.count())));
    QCOMPARE(handshakeStatus(c->port(), target("/events", alice)), 403);

    // Bob's connections close: the id lingers on every node, then is free.
    tab.close();
    phone.close();
    QTRY_VERIFY(!isConnectedTo(a, u"bobtab"_s) && !isConnectedTo(b, u"bobtab"_s));
    QCOMPARE(handshakeStatus(b->port(), target("/ws", alice)), 403);
    QTRY_COMPARE_WITH_TIMEOUT(handshakeStatus(b->port(), target("/ws", alice)), 101, 10000);
}

// Issue 20: a change of read state on node A reaches user 1's connection on node B (reads:1), with the count;
// a settings change on A reaches B's cache of them, so B's next publish is quiet.
void tst_Cluster::readStateAcrossNodes()
{
    Node *a = startNode(u"a"_s);
    Node *b = startNode(u"b"_s);
    QVERIFY(a && b);
    WsClient onB;
    QVERIFY(onB.open(b->port(), u"/ws?channels=user:1,reads:1"_s));
    QList<qint64> ids;
    for (int i = 0; i < 3; ++i) {
        ids.append(publishOn(a->port(), u"user:1"_s, QString::number(i)).value("id"_L1).toInteger());
        QVERIFY(onB.waitFor(u"note"_s));
    }

    QCOMPARE(http("POST", a->port(), u"/api/notifications/%1/read"_s.arg(ids.at(0))).status, 200);
    auto event = onB.waitFor(u"read"_s);
    QVERIFY(event);
    QCOMPARE(event->value("channel"_L1).toString(), u"reads:1"_s);
    QCOMPARE(event->value("ids"_L1).toArray(), QJsonArray{ids.at(0)});
    QCOMPARE(event->value("unread"_L1).toInt(), 2);

    QCOMPARE(http("DELETE", a->port(), u"/api/notifications/%1"_s.arg(ids.at(1))).status, 200);
    event = onB.waitFor(u"deleted"_s);
    QVERIFY(event);
    QCOMPARE(event->value("ids"_L1).toArray(), QJsonArray{ids.at(1)});
    QCOMPARE(event->value("unread"_L1).toInt(), 1);
    // B reads the store A changed.
    const QJsonObject list = http("GET", b->port(), u"/api/notifications?user_id=1"_s).json();
    QCOMPARE(idsIn(list.value("notifications"_L1).toArray()), (QList<qint64>{ids.at(0), ids.at(2)}));
    QCOMPARE(list.value("unread"_L1).toInt(), 1);

    // B has read user 1's settings (none) for a publish; A changes them: B's next publish sees the change.
    const auto loud = [&](int priority) {
        const HttpResult r = sendJson("POST", b->port(), u"/api/publish"_s,
                                      {{"channel"_L1, "user:1"_L1},
                                       {"type"_L1, "note"_L1},
                                       {"message"_L1, "x"_L1},
                                       {"priority"_L1, priority}});
        const auto m = onB.waitFor(u"note"_s);
        return r.status == 202 && m && !m->value("quiet"_L1).toBool();
    };
    QVERIFY(loud(2));
    const QJsonObject allDay{{"start"_L1, "00:00"_L1}, {"end"_L1, "00:00"_L1}, {"timezone"_L1, "UTC"_L1}};
    QCOMPARE(sendJson("PUT", a->port(), u"/api/users/1/settings"_s,
                      {{"quiet_hours"_L1, allDay}, {"min_priority"_L1, 3}})
                 .status,
             200);
    QVERIFY(onB.waitFor(u"settings"_s));
    QVERIFY(!loud(2));
    QVERIFY(loud(3));
    QCOMPARE(http("GET", b->port(), u"/api/users/1/settings"_s).json().value("min_priority"_L1).toInt(), 3);
}
