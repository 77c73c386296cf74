#include "cluster.h"
#include "hub.h"
#include "redisserver.h"
#include "server.h"
#include "testclient.h"
#include "testserver.h"

#include <QProcess>
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
    void redisUnavailableAtStart();
    void historyIsShared();

private:
    Node *startNode(const QString &name = {});

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

Node *tst_Cluster::startNode(const QString &name)
{
    auto node = std::make_unique<Node>();
    const QString url = m_redis.url();
    const QString prefix = m_prefix;
    node->server = startTestServer(node->dir.path(), [&](Herald::ServerConfig &c) {
        c.redisUrl = url;
        c.redisPrefix = prefix;
        c.nodeId = name;
        c.nodeTtl = std::chrono::seconds(1);
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
    const auto replay = onC.waitFor(u"replay"_s);
    QVERIFY(replay);
    QCOMPARE(replay->value("count"_L1).toInt(), 30);
    QCOMPARE(replay->value("recovered"_L1).toBool(), true);
    QList<qint64> got;
    for (int i = 0; i < 30; ++i) {
        const auto m = onC.waitFor(u"note"_s);
        QVERIFY(m);
        got.append(m->value("id"_L1).toInteger());
    }
    QCOMPARE(got, missed);
    // And live after the replay, from a node the client never used.
    const qint64 live = publishOn(a->port(), u"orders"_s, u"live"_s).value("id"_L1).toInteger();
    const auto m = onC.waitFor(u"note"_s);
    QVERIFY(m);
    QCOMPARE(m->value("id"_L1).toInteger(), live);
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
    QTRY_VERIFY_WITH_TIMEOUT(http("GET", port, u"/healthz"_s).json().value("status"_L1) == u"ok"_s, 5000);
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

    QVERIFY2(m_redis.restart(), qPrintable(m_redis.errorString()));
    for (Node *n : {a, b})
        QTRY_COMPARE_WITH_TIMEOUT(http("GET", n->port(), u"/healthz"_s).json().value("status"_L1).toString(),
                                  u"ok"_s, 10000);
    const qint64 after = publishOn(a->port(), u"r"_s, u"back"_s, &status).value("id"_L1).toInteger();
    QCOMPARE(status, 202);
    // Ids never go back: a client resuming from `before` must get what came after it.
    QVERIFY2(after > before, qPrintable(u"%1 after %2"_s.arg(after).arg(before)));
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

QTEST_MAIN(tst_Cluster)
#include "tst_cluster.moc"
