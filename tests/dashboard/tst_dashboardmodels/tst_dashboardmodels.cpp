#include "adminclient.h"
#include "backoff.h"
#include "clientmodel.h"
#include "dashboardoptions.h"
#include "messagemodel.h"
#include "nodemodel.h"
#include "settings.h"
#include "soundplayer.h"
#include "statshistory.h"

#include <QAbstractItemModelTester>
#include <QAudioDevice>
#include <QColor>
#include <QFont>
#include <QJsonArray>
#include <QJsonDocument>
#include <QMediaDevices>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace Qt::StringLiterals;
using namespace Herald;
using ms = std::chrono::milliseconds;

// The dashboard's building blocks without a server: backoff, URL handling, models, history, options,
// settings and the sound player's behaviour without an audio device.
class tst_DashboardModels : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void backoffGrowsThenCaps_data();
    void backoffGrowsThenCaps();
    void backoffRandomDelaysGrowAndReset();
    void feedUrl_data();
    void feedUrl();
    void messageModelNewestFirstAndBounded();
    void messageModelBurstLargerThanCapacity();
    void messageModelShrinkCapacity();
    void messageRowText_data();
    void messageRowText();
    void messageFilter();
    void clientModelFollowsEvents();
    void nodeModelFromStats_data();
    void nodeModelFromStats();
    void nodeModelRowText();
    void nodeModelUpdatesInPlace();
    void statsHistoryRateAndWindow();
    void statsHistoryGaps();
    void clientModelStale();
    void dashboardOptions_data();
    void dashboardOptions();
    void settingsRoundTrip();
    void soundPlayerDegradesQuietly();
};

namespace {
Message makeMessage(qint64 id, const QString &channel, const QString &text,
                    const QString &type = u"message"_s)
{
    Message m;
    m.id = id;
    m.channel = channel;
    m.type = type;
    m.sender = u"tester"_s;
    m.message = text;
    m.timestamp = QDateTime::currentDateTimeUtc();
    return m;
}

QJsonObject json(const char *text)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray(text), &error);
    if (!doc.isObject())
        qWarning("bad fixture: %s", qPrintable(error.errorString()));
    return doc.object();
}

// Stats replies as a single server and a cluster send them (docs/protocol.md, get_stats).
const char singleStats[] =
    R"({"total_channels":3,"channels":{"news":2},"clients":4,"subscribers":3,"total_connections":4})";
const char threeNodes[] = R"({"total_channels":3,"channels":{"news":12},"clients":40,"subscribers":35,
    "total_connections":40,"node":"host-8001-1a2b","cluster":"ok","nodes":[
    {"id":"host-8001-1a2b","clients":10,"subscribers":9,"self":true},
    {"id":"host-8002-77aa","address":"127.0.0.1:8002","started_at":"2026-11-22T10:00:00.000Z","clients":30,
     "subscribers":26,"last_id":1234},
    {"id":"host-8003-c0de","address":"127.0.0.1:8003","clients":0,"subscribers":0}]})";
const char twoNodes[] = R"({"clients":10,"node":"host-8001-1a2b","cluster":"ok","nodes":[
    {"id":"host-8001-1a2b","clients":10,"subscribers":9,"self":true},
    {"id":"host-8003-c0de","address":"127.0.0.1:8003","clients":0,"subscribers":0}]})";

ClientEntry makeClient(const QString &id, const QStringList &subs = {})
{
    ClientEntry c;
    c.clientId = id;
    c.transport = u"websocket"_s;
    c.route = u"ws"_s;
    c.address = u"127.0.0.1"_s;
    c.connectedAt = QDateTime::currentDateTimeUtc();
    c.subscriptions = subs;
    return c;
}
} // namespace

void tst_DashboardModels::backoffGrowsThenCaps_data()
{
    QTest::addColumn<double>("random");
    QTest::newRow("no jitter drawn") << 0.0;
    QTest::newRow("middle") << 0.5;
    QTest::newRow("most jitter") << 0.999;
}

void tst_DashboardModels::backoffGrowsThenCaps()
{
    QFETCH(double, random);
    const ms initial(100), maximum(5000);
    const double jitter = 0.3;
    ms previous(0);
    for (int attempt = 1; attempt <= 30; ++attempt) {
        const ms d = Backoff::delayFor(attempt, initial, maximum, jitter, random);
        QVERIFY2(d <= maximum, qPrintable(u"attempt %1: %2 ms"_s.arg(attempt).arg(d.count())));
        const double base = std::min(100.0 * double(1LL << std::min(attempt - 1, 20)), 5000.0);
        QVERIFY(double(d.count()) >= base * (1 - jitter) - 1);
        if (base < 5000.0)
            QVERIFY2(d > previous, qPrintable(u"attempt %1 did not grow"_s.arg(attempt)));
        previous = d;
    }
    // Far past the cap, still capped and positive.
    QVERIFY(Backoff::delayFor(1000, initial, maximum, jitter, random) <= maximum);
    QVERIFY(Backoff::delayFor(1000, initial, maximum, jitter, random) > ms(0));
}

void tst_DashboardModels::backoffRandomDelaysGrowAndReset()
{
    Backoff b(ms(50), ms(60000), 0.3);
    QList<ms> delays;
    for (int i = 0; i < 8; ++i)
        delays.append(b.next());
    QCOMPARE(b.attempts(), 8);
    for (qsizetype i = 1; i < delays.size(); ++i)
        QVERIFY2(delays.at(i) > delays.at(i - 1), qPrintable(u"delay %1 did not grow"_s.arg(i)));
    b.reset();
    QCOMPARE(b.attempts(), 0);
    QVERIFY(b.next() <= ms(50));
}

void tst_DashboardModels::feedUrl_data()
{
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("expected");
    QTest::newRow("ws host port") << u"ws://example.org:8000"_s << u"ws://example.org:8000/ws/server"_s;
    QTest::newRow("trailing slash") << u"ws://example.org:8000/"_s << u"ws://example.org:8000/ws/server"_s;
    QTest::newRow("full path kept") << u"ws://h:1/ws/server"_s << u"ws://h:1/ws/server"_s;
    QTest::newRow("http becomes ws") << u"http://h:8000"_s << u"ws://h:8000/ws/server"_s;
    QTest::newRow("https becomes wss") << u"https://h"_s << u"wss://h/ws/server"_s;
    QTest::newRow("bare host") << u" 127.0.0.1:8000 "_s << u"ws://127.0.0.1:8000/ws/server"_s;
    QTest::newRow("other scheme") << u"ftp://h"_s << QString();
    QTest::newRow("empty") << QString() << QString();
    QTest::newRow("no host") << u"ws://"_s << QString();
}

void tst_DashboardModels::feedUrl()
{
    QFETCH(QString, input);
    QFETCH(QString, expected);
    QCOMPARE(AdminClient::feedUrl(input).toString(), expected);
}

void tst_DashboardModels::messageModelNewestFirstAndBounded()
{
    MessageModel model;
    model.setCapacity(3);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    for (int i = 1; i <= 5; ++i)
        model.addMessage(makeMessage(i, u"news"_s, u"text %1"_s.arg(i)));
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.totalAdded(), 5);
    QCOMPARE(model.data(model.index(0, MessageModel::Text)).toString(), u"text 5"_s);
    QCOMPARE(model.data(model.index(2, MessageModel::Text)).toString(), u"text 3"_s);
    QCOMPARE(model.data(model.index(0, 0), MessageModel::IdRole).toLongLong(), 5);
    QCOMPARE(removed.count(), 2);
    QCOMPARE(model.columnCount(), int(MessageModel::ColumnCount));
    QCOMPARE(model.headerData(MessageModel::Channel, Qt::Horizontal).toString(), u"Channel"_s);
    QCOMPARE(model.data(model.index(1, MessageModel::Channel)).toString(), u"news"_s);
    QCOMPARE(model.data(model.index(1, MessageModel::Sender)).toString(), u"tester"_s);
    QCOMPARE(model.data(model.index(1, MessageModel::Type)).toString(), u"message"_s);
    QVERIFY(
        model.data(model.index(1, MessageModel::Text), Qt::ToolTipRole).toString().contains("\"id\":4"_L1));
    QVERIFY(!model.data(model.index(7, 0)).isValid());
    model.clear();
    QCOMPARE(model.rowCount(), 0);
}

void tst_DashboardModels::messageModelBurstLargerThanCapacity()
{
    MessageModel model;
    model.setCapacity(4);
    model.addMessage(makeMessage(1, u"a"_s, u"old"_s));
    QList<Message> burst;
    for (int i = 2; i <= 11; ++i)
        burst.append(makeMessage(i, u"a"_s, u"m%1"_s.arg(i)));
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    model.addMessages(burst);
    QCOMPARE(inserted.count(), 1); // one insertion for the whole burst
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.rowAt(0).id, 11);
    QCOMPARE(model.rowAt(3).id, 8);
    QCOMPARE(model.totalAdded(), 11);
}

void tst_DashboardModels::messageModelShrinkCapacity()
{
    MessageModel model;
    QCOMPARE(model.capacity(), MessageModel::DefaultCapacity);
    for (int i = 1; i <= 10; ++i)
        model.addMessage(makeMessage(i, u"a"_s, u"m"_s));
    model.setCapacity(6);
    QCOMPARE(model.rowCount(), 6);
    QCOMPARE(model.rowAt(0).id, 10);
    QCOMPARE(model.rowAt(5).id, 5);
}

void tst_DashboardModels::messageRowText_data()
{
    QTest::addColumn<QString>("title");
    QTest::addColumn<QString>("text");
    QTest::addColumn<QJsonValue>("data");
    QTest::addColumn<QString>("expected");
    const QJsonValue none(QJsonValue::Undefined);
    QTest::newRow("message") << QString() << u"hello"_s << none << u"hello"_s;
    QTest::newRow("title only") << u"Heads up"_s << QString() << none << u"Heads up"_s;
    QTest::newRow("title and message") << u"Heads up"_s << u"hello"_s << none << u"Heads up: hello"_s;
    QTest::newRow("data object") << QString() << QString() << QJsonValue(QJsonObject{{"id"_L1, 3}})
                                 << u"{\"id\":3}"_s;
    QTest::newRow("data number") << QString() << QString() << QJsonValue(7) << u"7"_s;
    QTest::newRow("nothing") << QString() << QString() << none << QString();
}

void tst_DashboardModels::messageRowText()
{
    QFETCH(QString, title);
    QFETCH(QString, text);
    QFETCH(QJsonValue, data);
    QFETCH(QString, expected);
    Message m = makeMessage(1, u"c"_s, text);
    m.title = title;
    m.data = data;
    QCOMPARE(MessageRow::fromMessage(m).text, expected);
}

void tst_DashboardModels::messageFilter()
{
    MessageModel model;
    MessageFilterModel filter;
    filter.setSourceModel(&model);
    model.addMessages({makeMessage(1, u"news"_s, u"Election results"_s),
                       makeMessage(2, u"sports"_s, u"Match tonight"_s),
                       makeMessage(3, u"user:7"_s, u"Your NEWS digest"_s, u"notification"_s)});
    QCOMPARE(filter.rowCount(), 3);
    filter.setFilterText(u"news"_s); // channel of one, text of another, any case
    QCOMPARE(filter.rowCount(), 2);
    filter.setFilterText(u"  match "_s);
    QCOMPARE(filter.rowCount(), 1);
    QCOMPARE(filter.index(0, MessageModel::Channel).data().toString(), u"sports"_s);
    filter.setFilterText(u"notification"_s); // the type column
    QCOMPARE(filter.rowCount(), 1);
    filter.setFilterText(u"nothing like this"_s);
    QCOMPARE(filter.rowCount(), 0);
    // New rows are filtered as they arrive.
    filter.setFilterText(u"sports"_s);
    model.addMessage(makeMessage(4, u"sports"_s, u"Final score"_s));
    model.addMessage(makeMessage(5, u"news"_s, u"Weather"_s));
    QCOMPARE(filter.rowCount(), 2);
    filter.setFilterText(QString());
    QCOMPARE(filter.rowCount(), 5);
}

void tst_DashboardModels::clientModelFollowsEvents()
{
    ClientModel model;
    QSignalSpy channels(&model, &ClientModel::channelCountChanged);
    model.reset({makeClient(u"a"_s, {u"news"_s}), makeClient(u"b"_s)});
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.channelCount(), 1);
    QCOMPARE(channels.count(), 1);

    model.addClient(makeClient(u"c"_s, {u"user:7"_s, u"news"_s}));
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.channelCount(), 2);
    const int c = model.rowOf(u"c"_s);
    QCOMPARE(model.index(c, ClientModel::Subscriptions).data().toString(), u"news, user:7"_s);
    QCOMPARE(model.index(c, ClientModel::Transport).data().toString(), u"websocket (/ws)"_s);
    QCOMPARE(model.index(c, ClientModel::Address).data().toString(), u"127.0.0.1"_s);
    QVERIFY(!model.index(c, ClientModel::Since).data().toString().isEmpty());
    QCOMPARE(model.index(c, 0).data(ClientModel::ClientIdRole).toString(), u"c"_s);

    model.addSubscription(u"b"_s, u"sports"_s);
    QCOMPARE(model.channelCount(), 3);
    model.addSubscription(u"b"_s, u"sports"_s); // repeated event: no duplicate
    QCOMPARE(model.index(model.rowOf(u"b"_s), ClientModel::Subscriptions).data().toString(), u"sports"_s);
    // A user's personal queue names the user when the server did not.
    QCOMPARE(model.index(c, ClientModel::User).data().toString(), u"7"_s);
    model.addSubscription(u"b"_s, u"user:42"_s);
    QCOMPARE(model.index(model.rowOf(u"b"_s), ClientModel::User).data().toString(), u"42"_s);
    model.removeSubscription(u"b"_s, u"user:42"_s);
    model.removeSubscription(u"c"_s, u"user:7"_s);
    QCOMPARE(model.channelCount(), 2);

    // Two connections with one client id: a disconnect removes one of them.
    model.addClient(makeClient(u"a"_s));
    QCOMPARE(model.rowCount(), 4);
    model.removeClient(u"a"_s);
    QCOMPARE(model.rowCount(), 3);
    QVERIFY(model.rowOf(u"a"_s) >= 0);
    model.removeClient(u"a"_s);
    model.removeClient(u"nobody"_s);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.rowOf(u"a"_s), -1);
    QCOMPARE(model.channelCount(), 2); // news (c) and sports (b)
}

void tst_DashboardModels::nodeModelFromStats_data()
{
    QTest::addColumn<QByteArray>("before"); // stats applied first, if any
    QTest::addColumn<QByteArray>("stats");
    QTest::addColumn<QStringList>("ids");
    QTest::addColumn<QString>("self");
    QTest::addColumn<NodeModel::ClusterState>("state");
    using S = NodeModel::ClusterState;
    const QString n1 = u"host-8001-1a2b"_s, n2 = u"host-8002-77aa"_s, n3 = u"host-8003-c0de"_s;

    QTest::newRow("single server") << QByteArray() << QByteArray(singleStats) << QStringList() << QString()
                                   << S::Single;
    QTest::newRow("empty stats") << QByteArray() << QByteArray("{}") << QStringList() << QString()
                                 << S::Single;
    QTest::newRow("three nodes in order")
        << QByteArray() << QByteArray(threeNodes) << QStringList{n1, n2, n3} << n1 << S::Ok;
    QTest::newRow("a node gone") << QByteArray(threeNodes) << QByteArray(twoNodes) << QStringList{n1, n3}
                                 << n1 << S::Ok;
    QTest::newRow("a node joins in the middle")
        << QByteArray(twoNodes) << QByteArray(threeNodes) << QStringList{n1, n2, n3} << n1 << S::Ok;
    QTest::newRow("reordered") << QByteArray(threeNodes)
                               << QByteArray(R"({"node":"b","nodes":[{"id":"c"},{"id":"a"},{"id":"b"}]})")
                               << QStringList{u"c"_s, u"a"_s, u"b"_s} << u"b"_s << S::Ok;
    QTest::newRow("back to a single server")
        << QByteArray(threeNodes) << QByteArray(singleStats) << QStringList() << QString() << S::Single;
    QTest::newRow("degraded") << QByteArray(threeNodes)
                              << QByteArray(R"({"node":"host-8001-1a2b","cluster":"degraded","nodes":[
                                     {"id":"host-8001-1a2b","clients":10,"subscribers":9,"self":true}]})")
                              << QStringList{n1} << n1 << S::Degraded;
    QTest::newRow("degraded without nodes")
        << QByteArray(threeNodes) << QByteArray(R"({"node":"n1","cluster":"degraded"})") << QStringList()
        << u"n1"_s << S::Degraded;
    QTest::newRow("recovered") << QByteArray(R"({"node":"n1","cluster":"degraded"})")
                               << QByteArray(threeNodes) << QStringList{n1, n2, n3} << n1 << S::Ok;
    QTest::newRow("unknown cluster value is not degraded")
        << QByteArray() << QByteArray(R"({"cluster":"starting","nodes":[{"id":"a"}]})") << QStringList{u"a"_s}
        << QString() << S::Ok;
    QTest::newRow("self from the node field")
        << QByteArray() << QByteArray(R"({"node":"b","nodes":[{"id":"a"},{"id":"b"}]})")
        << QStringList{u"a"_s, u"b"_s} << u"b"_s << S::Ok;
    QTest::newRow("self from the flag")
        << QByteArray() << QByteArray(R"({"nodes":[{"id":"a"},{"id":"b","self":true}]})")
        << QStringList{u"a"_s, u"b"_s} << u"b"_s << S::Ok;
    QTest::newRow("node field wins over a stray flag")
        << QByteArray() << QByteArray(R"({"node":"a","nodes":[{"id":"a"},{"id":"b","self":true}]})")
        << QStringList{u"a"_s, u"b"_s} << u"a"_s << S::Ok;
    QTest::newRow("malformed entries skipped")
        << QByteArray()
        << QByteArray(R"({"nodes":[1,"x",null,[],{},{"id":""},{"id":7},{"id":"a"},{"id":"a","clients":5},
                       {"id":"b","clients":"many","subscribers":-3,"started_at":"yesterday","last_id":"x"}]})")
        << QStringList{u"a"_s, u"b"_s} << QString() << S::Ok;
    QTest::newRow("nodes not an array") << QByteArray() << QByteArray(R"({"nodes":{"id":"a"},"node":5})")
                                        << QStringList() << QString() << S::Ok;
}

void tst_DashboardModels::nodeModelFromStats()
{
    QFETCH(QByteArray, before);
    QFETCH(QByteArray, stats);
    QFETCH(QStringList, ids);
    QFETCH(QString, self);
    QFETCH(NodeModel::ClusterState, state);

    NodeModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    if (!before.isEmpty())
        model.updateFromStats(json(before.constData()));
    model.updateFromStats(json(stats.constData()));

    QStringList rows;
    QStringList marked;
    for (int row = 0; row < model.rowCount(); ++row) {
        const QModelIndex index = model.index(row, NodeModel::Node);
        rows.append(index.data(NodeModel::NodeIdRole).toString());
        if (index.data(NodeModel::SelfRole).toBool())
            marked.append(rows.last());
    }
    QCOMPARE(rows, ids);
    QCOMPARE(model.selfId(), self);
    QCOMPARE(marked, ids.contains(self) ? QStringList{self} : QStringList());
    QCOMPARE(model.clusterState(), state);
    QCOMPARE(model.isCluster(), state != NodeModel::ClusterState::Single);
    QCOMPARE(model.isDegraded(), state == NodeModel::ClusterState::Degraded);
}

void tst_DashboardModels::nodeModelRowText()
{
    NodeModel model;
    model.updateFromStats(json(threeNodes));
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.columnCount(), int(NodeModel::ColumnCount));
    const auto cell = [&](int row, int column, int role = Qt::DisplayRole) {
        return model.index(row, column).data(role);
    };
    // The connected node: marked in words and in bold; it announced no address or start time.
    QCOMPARE(cell(0, NodeModel::Node).toString(), u"host-8001-1a2b (this node)"_s);
    QVERIFY(cell(0, NodeModel::Node, Qt::FontRole).value<QFont>().bold());
    QVERIFY(cell(0, NodeModel::Clients, Qt::FontRole).value<QFont>().bold());
    QCOMPARE(cell(0, NodeModel::Address).toString(), QString());
    QCOMPARE(cell(0, NodeModel::Clients).toInt(), 10);
    QCOMPARE(cell(0, NodeModel::Subscribers).toInt(), 9);
    QCOMPARE(cell(0, NodeModel::Started).toString(), QString());

    QCOMPARE(cell(1, NodeModel::Node).toString(), u"host-8002-77aa"_s);
    QVERIFY(!cell(1, NodeModel::Node, Qt::FontRole).isValid());
    QCOMPARE(cell(1, NodeModel::Address).toString(), u"127.0.0.1:8002"_s);
    QCOMPARE(cell(1, NodeModel::Clients).toInt(), 30);
    QCOMPARE(cell(1, NodeModel::Subscribers).toInt(), 26);
    const QDateTime started(QDate(2026, 11, 22), QTime(10, 0), Qt::UTC);
    QCOMPARE(cell(1, NodeModel::Started).toString(),
             started.toLocalTime().toString(u"yyyy-MM-dd HH:mm:ss"_s));
    QCOMPARE(model.nodeAt(1).startedAt, started);
    QCOMPARE(model.nodeAt(1).lastId, qint64(1234));
    QVERIFY(cell(1, NodeModel::Node, Qt::ToolTipRole).toString().contains(u"1234"_s));
    QCOMPARE(cell(1, NodeModel::Clients, Qt::TextAlignmentRole).value<Qt::Alignment>(),
             Qt::AlignRight | Qt::AlignVCenter);
    QCOMPARE(model.rowOf(u"host-8003-c0de"_s), 2);
    QCOMPARE(model.rowOf(u"nobody"_s), -1);
    QVERIFY(!model.index(3, 0).data().isValid());

    const QStringList headers = {u"Node"_s, u"Address"_s, u"Clients"_s, u"Subscribers"_s, u"Started"_s};
    for (int c = 0; c < headers.size(); ++c)
        QCOMPARE(model.headerData(c, Qt::Horizontal).toString(), headers.at(c));
}

void tst_DashboardModels::nodeModelUpdatesInPlace()
{
    NodeModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy cluster(&model, &NodeModel::clusterChanged);
    QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);

    model.updateFromStats(json(singleStats));
    QCOMPARE(cluster.count(), 0); // was and stays a single server
    model.updateFromStats(json(threeNodes));
    QCOMPARE(cluster.count(), 1);
    QCOMPARE(inserted.count(), 3);

    // The same stats again, as every few seconds: nothing moves.
    model.updateFromStats(json(threeNodes));
    QCOMPARE(cluster.count(), 1);
    QCOMPARE(changed.count(), 0);

    // New numbers for one node: that row changes, the table is not rebuilt.
    QJsonObject stats = json(threeNodes);
    QJsonArray nodes = stats.value("nodes"_L1).toArray();
    QJsonObject second = nodes.at(1).toObject();
    second.insert("clients"_L1, 31);
    nodes.replace(1, second);
    stats.insert("nodes"_L1, nodes);
    model.updateFromStats(stats);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(changed.first().at(0).toModelIndex().row(), 1);
    QCOMPARE(model.index(1, NodeModel::Clients).data().toInt(), 31);
    QCOMPARE(cluster.count(), 1);

    // A node leaves: one row removed.
    model.updateFromStats(json(twoNodes));
    QCOMPARE(removed.count(), 1);
    QCOMPARE(cluster.count(), 2);
    QCOMPARE(resets.count(), 0);

    // Degraded is a change of state even with the same nodes.
    QJsonObject degraded = json(twoNodes);
    degraded.insert("cluster"_L1, u"degraded"_s);
    model.updateFromStats(degraded);
    QCOMPARE(cluster.count(), 3);
    QVERIFY(model.isDegraded());

    model.clear();
    QCOMPARE(model.rowCount(), 0);
    QVERIFY(!model.isCluster());
    QCOMPARE(model.selfId(), QString());
    QCOMPARE(cluster.count(), 4);
    QCOMPARE(resets.count(), 0);
}

void tst_DashboardModels::statsHistoryRateAndWindow()
{
    StatsHistory h(4);
    const QDateTime t0 = QDateTime::fromMSecsSinceEpoch(1000000, Qt::UTC);
    h.noteMessages(10);
    QCOMPARE(h.sample(t0, 1, 0, 0, 1000).messagesPerSecond, 10.0); // the first interval is nominal
    h.noteMessages(5);
    QCOMPARE(h.sample(t0.addMSecs(500), 2, 1, 1).messagesPerSecond, 10.0); // 5 in half a second
    QCOMPARE(h.sample(t0.addMSecs(1500), 3, 1, 1).messagesPerSecond, 0.0);
    h.sample(t0.addMSecs(2500), 4, 2, 1);
    h.sample(t0.addMSecs(3500), 5, 2, 2);
    QCOMPARE(qsizetype(h.samples().size()), 4); // bounded
    QCOMPARE(h.latest().clients, 5);
    QCOMPARE(h.maximum(), 10.0);
    const QList<QPointF> clients =
        h.points(StatsHistory::Series::Clients, t0.addMSecs(3500).toMSecsSinceEpoch());
    QCOMPARE(clients.size(), 4);
    QCOMPARE(clients.first(), QPointF(-3.0, 2.0));
    QCOMPARE(clients.last(), QPointF(0.0, 5.0));
    const QList<QPointF> subs =
        h.points(StatsHistory::Series::Subscribers, t0.addMSecs(3500).toMSecsSinceEpoch());
    QCOMPARE(subs.last().y(), 2.0);
    QCOMPARE(h.segments(StatsHistory::Series::Clients, t0.addMSecs(3500).toMSecsSinceEpoch()).size(), 1);
    h.clear();
    QVERIFY(h.isEmpty());
}

void tst_DashboardModels::statsHistoryGaps()
{
    StatsHistory h(10);
    const QDateTime t0 = QDateTime::fromMSecsSinceEpoch(1000000, Qt::UTC);
    h.sample(t0, 1, 1, 1);
    h.sample(t0.addMSecs(1000), 2, 1, 1);
    // The feed goes down: messages counted before it are dropped, and the next sample starts a new piece.
    h.noteMessages(50);
    h.markGap();
    QVERIFY(h.isInGap());
    h.markGap(); // idempotent
    h.noteMessages(3);
    const StatsSample &after = h.sample(t0.addMSecs(9000), 5, 4, 2, 1000);
    QVERIFY(!h.isInGap());
    QVERIFY(after.startsSegment);
    QCOMPARE(after.messagesPerSecond, 3.0); // over the nominal interval, not the 8 s of outage
    h.sample(t0.addMSecs(10000), 6, 4, 2);
    const qint64 now = t0.addMSecs(10000).toMSecsSinceEpoch();
    const QList<QList<QPointF>> pieces = h.segments(StatsHistory::Series::Clients, now);
    QCOMPARE(pieces.size(), 2);
    QCOMPARE(pieces[0], (QList<QPointF>{{-10.0, 1.0}, {-9.0, 2.0}}));
    QCOMPARE(pieces[1], (QList<QPointF>{{-1.0, 5.0}, {0.0, 6.0}}));
    QCOMPARE(h.points(StatsHistory::Series::Clients, now).size(), 4);
    QCOMPARE(h.maximum(StatsHistory::Series::Subscribers), 4.0);
    QCOMPARE(h.maximum(StatsHistory::Series::MessagesPerSecond), 3.0);
    // The first piece falls out of the window: one piece is left, whatever flag its first sample has.
    for (int i = 0; i < 9; ++i)
        h.sample(t0.addMSecs(11000 + 1000 * i), 6, 4, 2);
    QCOMPARE(h.segments(StatsHistory::Series::Clients, now).size(), 1);
}

void tst_DashboardModels::clientModelStale()
{
    ClientModel model;
    ClientEntry c;
    c.clientId = u"a"_s;
    model.reset({c});
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    QCOMPARE(model.index(0, ClientModel::Id).data(Qt::ForegroundRole), QVariant());
    const QDateTime since = QDateTime::currentDateTime();
    model.setStaleSince(since);
    QVERIFY(model.isStale());
    QCOMPARE(changed.count(), 1);
    QVERIFY(model.index(0, ClientModel::User).data(Qt::ForegroundRole).value<QColor>().isValid());
    QVERIFY(model.index(0, ClientModel::Id)
                .data(Qt::ToolTipRole)
                .toString()
                .startsWith(u"As of %1"_s.arg(since.toString(u"HH:mm:ss"_s))));
    model.setStaleSince(since); // no change, no signal
    QCOMPARE(changed.count(), 1);
    model.setStaleSince({});
    QVERIFY(!model.isStale());
    QCOMPARE(changed.count(), 2);
    QCOMPARE(model.index(0, ClientModel::Id).data(Qt::ForegroundRole), QVariant());
}

void tst_DashboardModels::dashboardOptions_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<bool>("embedded");
    QTest::addColumn<QString>("url");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("errorPart");
    QTest::newRow("no arguments: embedded on 8000")
        << QStringList{} << true << true << QString() << 8000 << QString();
    QTest::newRow("embedded port and dir")
        << QStringList{u"--port"_s, u"9001"_s, u"--data-dir"_s, u"/tmp/x"_s} << true << true << QString()
        << 9001 << QString();
    QTest::newRow("connect") << QStringList{u"--connect"_s, u"ws://h:8000"_s, u"--token"_s, u"T"_s} << true
                             << false << u"ws://h:8000/ws/server"_s << 8000 << QString();
    QTest::newRow("bad url") << QStringList{u"--connect"_s, u"gopher://h"_s} << false << false << QString()
                             << 0 << u"--connect"_s;
    QTest::newRow("port with connect") << QStringList{u"--connect"_s, u"ws://h"_s, u"--port"_s, u"1"_s}
                                       << false << false << QString() << 0 << u"--port"_s;
    QTest::newRow("token without connect")
        << QStringList{u"--token"_s, u"T"_s} << false << false << QString() << 0 << u"--token"_s;
    QTest::newRow("bad port") << QStringList{u"--port"_s, u"70000"_s} << false << false << QString() << 0
                              << u"--port"_s;
    QTest::newRow("unknown option") << QStringList{u"--frobnicate"_s} << false << false << QString() << 0
                                    << u"frobnicate"_s;
    QTest::newRow("positional") << QStringList{u"extra"_s} << false << false << QString() << 0 << u"extra"_s;
}

void tst_DashboardModels::dashboardOptions()
{
    QFETCH(QStringList, args);
    QFETCH(bool, ok);
    QFETCH(bool, embedded);
    QFETCH(QString, url);
    QFETCH(int, port);
    QFETCH(QString, errorPart);
    args.prepend(u"herald-dashboard"_s);
    const auto options = parseDashboardOptions(args);
    QCOMPARE(bool(options), ok);
    if (!ok) {
        QVERIFY2(options.error().contains(errorPart), qPrintable(options.error()));
        return;
    }
    QCOMPARE(options->isEmbedded(), embedded);
    QCOMPARE(options->connectUrl.toString(), url);
    if (embedded)
        QCOMPARE(int(options->port), port);
}

void tst_DashboardModels::settingsRoundTrip()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString file = dir.filePath(u"dashboard.ini"_s);
    {
        Settings s(file);
        QVERIFY(s.serverUrl().isEmpty());
        QVERIFY(!s.soundMuted());
        s.setServerUrl(QUrl(u"ws://h:8000/ws/server"_s));
        s.setToken(u"secret"_s);
        s.setSoundMuted(true);
        s.setSoundVolume(0.25);
        s.sync();
    }
    Settings again(file);
    QCOMPARE(again.fileName(), file);
    QCOMPARE(again.serverUrl(), QUrl(u"ws://h:8000/ws/server"_s));
    QCOMPARE(again.token(), u"secret"_s);
    QVERIFY(again.soundMuted());
    QCOMPARE(again.soundVolume(), 0.25);
    again.setToken(QString());
    QVERIFY(again.token().isEmpty());

    // The operator's name: the login name until one is set, never an invalid client id.
    const QByteArray user = qgetenv("USER");
    qputenv("USER", "Anna Maria/ops");
    QCOMPARE(Settings::defaultOperatorName(), u"Anna_Maria_ops"_s);
    QCOMPARE(again.operatorName(), u"Anna_Maria_ops"_s);
    again.setOperatorName(u"night-shift"_s);
    QCOMPARE(again.operatorName(), u"night-shift"_s);
    again.setOperatorName(u"not valid"_s);
    QCOMPARE(again.operatorName(), u"Anna_Maria_ops"_s);
    again.setOperatorName(QString());
    QCOMPARE(again.operatorName(), u"Anna_Maria_ops"_s);
    qputenv("USER", "");
    qputenv("LOGNAME", "");
    QVERIFY(!Settings::defaultOperatorName().isEmpty());
    qputenv("USER", user);
}

void tst_DashboardModels::soundPlayerDegradesQuietly()
{
    SoundPlayer player;
    const bool hasOutput = !QMediaDevices::audioOutputs().isEmpty();
    // Without a device there is no player at all; with one, it may still fail to load, never the reverse.
    if (!hasOutput)
        QVERIFY(!player.isAvailable());
    QSignalSpy muted(&player, &SoundPlayer::mutedChanged);
    QCOMPARE(player.play(), player.isAvailable());
    QCOMPARE(player.requestCount(), 1);
    QCOMPARE(player.playCount(), player.isAvailable() ? 1 : 0);
    player.setMuted(true);
    QCOMPARE(muted.count(), 1);
    QVERIFY(!player.play());
    QCOMPARE(player.requestCount(), 1); // muted: not even asked
    player.setMuted(false);
    player.setVolume(2.0);
    QCOMPARE(player.volume(), 1.0);
    QCOMPARE(player.play(), player.isAvailable());
    QCOMPARE(player.requestCount(), 2);
}

QTEST_MAIN(tst_DashboardModels)
#include "tst_dashboardmodels.moc"
