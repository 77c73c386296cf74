#include "datarows.h"
#include "hub.h"
#include "modelspec.h"
#include "server.h"
#include "store.h"
#include "testclient.h"
#include "testserver.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMap>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

using namespace Qt::StringLiterals;
using namespace HeraldTest;

namespace {

using Headers = QList<QPair<QByteArray, QByteArray>>;

QJsonArray parseArray(const QByteArray &bytes)
{
    return QJsonDocument::fromJson(bytes).array();
}

QByteArray headerValue(const HttpResult &r, const QByteArray &name)
{
    for (const auto &[key, value] : r.headers) {
        if (key.compare(name, Qt::CaseInsensitive) == 0)
            return value;
    }
    return {};
}

qint64 lastIdOf(const HttpResult &r)
{
    bool ok = false;
    const qint64 id = headerValue(r, "X-Herald-Last-Id").toLongLong(&ok);
    return ok ? id : -1;
}

// The fields named in a 422's "errors", sorted.
QStringList errorFields(const QJsonObject &body)
{
    QStringList fields;
    const QJsonArray errors = body.value("errors"_L1).toArray();
    for (const QJsonValue &e : errors)
        fields.append(e.toObject().value("field"_L1).toString());
    fields.sort();
    return fields;
}

bool isModelEvent(const QJsonObject &frame)
{
    const QString type = frame.value("type"_L1).toString();
    return type == "created"_L1 || type == "updated"_L1 || type == "deleted"_L1;
}

QList<QJsonObject> modelEvents(const QList<QJsonObject> &frames)
{
    QList<QJsonObject> events;
    for (const QJsonObject &f : frames) {
        if (isModelEvent(f))
            events.append(f);
    }
    return events;
}

QList<qint64> eventIds(const QList<QJsonObject> &events)
{
    QList<qint64> ids;
    for (const QJsonObject &e : events)
        ids.append(e.value("id"_L1).toInteger());
    return ids;
}

// Whether each id is above the one before it, the first above `since`.
bool ascendingAfter(const QList<qint64> &ids, qint64 since)
{
    for (qint64 id : ids) {
        if (id <= since)
            return false;
        since = id;
    }
    return true;
}

// Applies model events in order to `state` (the records by id); where one does not fit the state it follows,
// stops and says why. Empty when all applied.
QString applyEvents(QMap<qint64, QJsonObject> &state, const QList<QJsonObject> &events)
{
    for (const QJsonObject &e : events) {
        const QJsonObject data = e.value("data"_L1).toObject();
        const qint64 id = data.value("id"_L1).toInteger();
        const QString type = e.value("type"_L1).toString();
        if (type == "created"_L1) {
            if (state.contains(id))
                return u"a record created twice"_s;
            state.insert(id, data);
        } else if (type == "updated"_L1) {
            if (!state.contains(id))
                return u"an update of a record the joiner never saw"_s;
            state.insert(id, data);
        } else {
            if (!state.contains(id))
                return u"a delete of a record the joiner never saw"_s;
            state.remove(id);
        }
    }
    return {};
}

QJsonArray recordsOf(const QMap<qint64, QJsonObject> &state)
{
    QJsonArray records;
    for (const QJsonObject &o : state)
        records.append(o);
    return records;
}

qint64 lastFrameId(const QList<QJsonObject> &frames)
{
    qint64 last = 0;
    for (const QJsonObject &f : frames)
        last = qMax(last, f.value("id"_L1).toInteger());
    return last;
}

// Seed 004's event frame (type, model, channel, timestamp, data) plus Herald's message id, and nothing else.
const QStringList &eventFrameKeys()
{
    static const QStringList keys = {u"channel"_s, u"data"_s, u"id"_s, u"model"_s, u"timestamp"_s, u"type"_s};
    return keys;
}

// Seed 004's user record (id, email, name, is_active, created_at) plus Herald's updated_at.
const QStringList &userKeys()
{
    static const QStringList keys = {u"created_at"_s, u"email"_s, u"id"_s,
                                     u"is_active"_s,  u"name"_s,  u"updated_at"_s};
    return keys;
}

bool isTimestamp(const QJsonValue &v)
{
    return v.isString() && QDateTime::fromString(v.toString(), Qt::ISODateWithMs).isValid();
}

// Reads a record through a connection of its own, as another process would: proves it is committed.
struct CommittedRead
{
    bool ok = false;
    bool found = false;
    QJsonObject record;
    QString error;
};

CommittedRead readCommitted(const QString &databasePath, const QString &model, qint64 id)
{
    static int serial = 0;
    const QString name = u"tst_models_reader_%1"_s.arg(++serial);
    CommittedRead out;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, name);
        db.setDatabaseName(databasePath);
        if (!db.open()) {
            out.error = db.lastError().text();
        } else {
            QSqlQuery q(db);
            q.prepare(u"SELECT data FROM records WHERE model = ? AND id = ?"_s);
            q.addBindValue(model);
            q.addBindValue(id);
            if (!q.exec()) {
                out.error = q.lastError().text();
            } else {
                out.ok = true;
                if (q.next()) {
                    out.found = true;
                    out.record = QJsonDocument::fromJson(q.value(0).toByteArray()).object();
                }
            }
            q.finish();
            db.close();
        }
    }
    QSqlDatabase::removeDatabase(name);
    return out;
}

// Exactly what seed 004's React and Vue examples do: open /ws/users, fetch('/users/') as the initial list,
// and apply created / updated / deleted by data.id, handling socket messages and the fetch in arrival order.
class Seed004ListClient : public QObject
{
public:
    enum class Flavour
    {
        React,
        Vue
    };

    explicit Seed004ListClient(Flavour flavour)
        : m_flavour(flavour)
    {
        m_ws.setParent(this);
        m_nam.setParent(this);
        QObject::connect(&m_ws, &QWebSocket::textMessageReceived, this, &Seed004ListClient::onMessage);
    }

    // new WebSocket('ws://localhost:8000/ws/users')
    void openSocket(quint16 port) { m_ws.open(QUrl(u"ws://127.0.0.1:%1/ws/users"_s.arg(port))); }
    // fetch('http://localhost:8000/users/').then(res => res.json()).then(data => setUsers(data))
    void loadInitialUsers(quint16 port)
    {
        QNetworkReply *reply = m_nam.get(QNetworkRequest(QUrl(u"http://127.0.0.1:%1/users/"_s.arg(port))));
        QObject::connect(reply, &QNetworkReply::finished, this, [this, reply] {
            m_users.clear();
            const QJsonArray data = QJsonDocument::fromJson(reply->readAll()).array();
            for (const QJsonValue &v : data)
                m_users.append(v.toObject());
            m_loaded = true;
            m_loadedSnapshot = m_users;
            reply->deleteLater();
        });
    }

    const QList<QJsonObject> &users() const { return m_users; }
    QJsonArray usersArray() const
    {
        QJsonArray a;
        for (const QJsonObject &u : m_users)
            a.append(u);
        return a;
    }
    // Test bookkeeping, not part of the seed's logic.
    bool loaded() const { return m_loaded; }
    bool greeted() const { return m_greeted; }
    qint64 lastEventId() const { return m_lastEventId; }
    int appliedBeforeLoad() const { return m_appliedBeforeLoad; }
    int appliedAfterLoad() const { return m_appliedAfterLoad; }
    QJsonArray loadedList() const
    {
        QJsonArray a;
        for (const QJsonObject &u : m_loadedSnapshot)
            a.append(u);
        return a;
    }

private:
    void onMessage(const QString &text)
    {
        const QJsonObject data = parseObject(text.toUtf8());
        const QString type = data.value("type"_L1).toString();
        if (type == "connection"_L1)
            m_greeted = true;
        if (!isModelEvent(data))
            return; // the seed's switch ignores every other type
        m_lastEventId = qMax(m_lastEventId, data.value("id"_L1).toInteger());
        ++(m_loaded ? m_appliedAfterLoad : m_appliedBeforeLoad);
        const QJsonObject record = data.value("data"_L1).toObject();
        const QJsonValue id = record.value("id"_L1);
        if (m_flavour == Flavour::React) {
            if (type == "created"_L1) {
                m_users.append(record); // setUsers(prev => [...prev, data.data])
            } else if (type == "updated"_L1) {
                for (QJsonObject &u : m_users) { // prev.map(u => u.id === data.data.id ? data.data : u)
                    if (u.value("id"_L1) == id)
                        u = record;
                }
            } else { // prev.filter(u => u.id !== data.data.id)
                m_users.removeIf([&id](const QJsonObject &u) { return u.value("id"_L1) == id; });
            }
        } else {
            if (type == "created"_L1) {
                m_users.append(record); // users.value.push(data.data)
            } else if (type == "updated"_L1) {
                qsizetype index = -1; // findIndex(u => u.id === data.data.id)
                for (qsizetype i = 0; i < m_users.size() && index < 0; ++i) {
                    if (m_users.at(i).value("id"_L1) == id)
                        index = i;
                }
                if (index != -1)
                    m_users[index] = record;
            } else { // users.value = users.value.filter(u => u.id !== data.data.id)
                QList<QJsonObject> kept;
                for (const QJsonObject &u : std::as_const(m_users)) {
                    if (u.value("id"_L1) != id)
                        kept.append(u);
                }
                m_users = kept;
            }
        }
    }

    Flavour m_flavour;
    QWebSocket m_ws;
    QNetworkAccessManager m_nam;
    QList<QJsonObject> m_users;
    QList<QJsonObject> m_loadedSnapshot;
    bool m_loaded = false;
    bool m_greeted = false;
    qint64 m_lastEventId = 0;
    int m_appliedBeforeLoad = 0;
    int m_appliedAfterLoad = 0;
};

// A third model, declared the way builtinModels() declares users and posts.
Herald::ModelSpec tagsModel()
{
    using T = Herald::FieldSpec::Type;
    return {u"tags"_s,
            u"Tag"_s,
            {
                {u"name"_s, T::String, true, true, 40, {}, {}},
                {u"color"_s, T::String, false, false, 0, QJsonValue(u"grey"_s), {}},
                {u"weight"_s, T::Integer, false, false, 0, {}, {}},
            }};
}

// Stops and joins a thread on every way out of a test function (a failed QVERIFY returns early).
struct ThreadGuard
{
    std::atomic<bool> &stop;
    std::thread &thread;
    ~ThreadGuard()
    {
        stop.store(true);
        if (thread.joinable())
            thread.join();
    }
};

} // namespace

// Seed 004's model CRUD (server/http/modelapi.cpp, server/http/modelspec.cpp): REST routes generated per
// model, their validation and constraints, the created/updated/deleted events on /ws/{model}, custom and
// global events, late joiners, a third model added by declaration, and persistence, on a real in-process
// server.
class tst_Models : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    // 1. Routes and statuses.
    void createAndGet_data();
    void createAndGet();
    void listOrderLimitOffset_data();
    void listOrderLimitOffset();
    void badListQuery_data();
    void badListQuery();
    void postsFilteredByAuthor();
    void updateRecord_data();
    void updateRecord();
    void deleteRecord_data();
    void deleteRecord();
    void notFound_data();
    void notFound();
    void badId_data();
    void badId();
    void invalidJson_data();
    void invalidJson();
    void bodyTooLarge_data();
    void bodyTooLarge();
    void wrongMethod_data();
    void wrongMethod();
    void preflight_data();
    void preflight();

    // 2. Validation and constraints.
    void validation_data();
    void validation();
    void duplicateEmail_data();
    void duplicateEmail();
    void patchWithOwnEmail();
    void readOnlyFieldsIgnored();
    void deleteUserWithPosts();
    void concurrentClaimsOfOneEmail_data();
    void concurrentClaimsOfOneEmail();
    void concurrentDeleteAndNewPost();

    // 3. Events.
    void createdEventIsSeed004Frame();
    void updatedAndDeletedEvents();
    void eventAfterCommit_data();
    void eventAfterCommit();
    void broadcastFalseSuppressesEvent_data();
    void broadcastFalseSuppressesEvent();
    void clientIdExcludedFromEvent_data();
    void clientIdExcludedFromEvent();
    void postsEventsOnlyOnPostsChannel();

    // 4. Seed 004's React and Vue examples.
    void seed004ListClient_data();
    void seed004ListClient();

    // 5. Late joiner: list, X-Herald-Last-Id, /ws/users?since=.
    void lateJoinerWhileAnotherThreadWrites();
    void lateJoinerWhileRequestsInFlight();

    // 6. Custom events and global broadcast.
    void customEvent_data();
    void customEvent();
    void customEventErrors_data();
    void customEventErrors();
    void broadcastReachesEveryClient();

    // 7. A third model.
    void thirdModelIsADeclaration();

    // 8. Persistence.
    void recordsSurviveRestart();
    void idsNeverReused_data();
    void idsNeverReused();

private:
    void startServer(const ConfigTweak &adjust = {});
    HttpResult send(const QByteArray &method, const QString &path, const QByteArray &body = {},
                    const Headers &headers = {})
    {
        return http(method, m_port, path, body, headers);
    }
    // Stores Ann (id 1), then sends `method` to `path`, with a name to set where the method takes a body. A
    // status of 0 if Ann was not stored as id 1.
    HttpResult sendWithAnnStored(const QByteArray &method, const QString &path)
    {
        if (createUser(u"ann@example.com"_s, u"Ann"_s) != 1)
            return {};
        const QByteArray body =
            method == "PATCH" || method == "PUT" ? QByteArray(R"({"name":"X"})") : QByteArray();
        return send(method, path, body);
    }
    HttpResult sendJson(const QByteArray &method, const QString &path, const QJsonObject &body,
                        const Headers &headers = {})
    {
        return http(method, m_port, path, Herald::compactJson(body), headers);
    }
    // The new record's id, or -1.
    qint64 createUser(const QString &email, const QString &name)
    {
        const HttpResult r =
            sendJson("POST", u"/users/"_s, QJsonObject{{"email"_L1, email}, {"name"_L1, name}});
        return r.status == 201 ? r.json().value("id"_L1).toInteger() : -1;
    }
    qint64 createPost(qint64 userId, const QString &title)
    {
        const HttpResult r =
            sendJson("POST", u"/posts/"_s, QJsonObject{{"user_id"_L1, userId}, {"title"_L1, title}});
        return r.status == 201 ? r.json().value("id"_L1).toInteger() : -1;
    }
    QJsonArray listOf(const QString &path) { return parseArray(send("GET", path).body); }
    // A client on /ws/{model} (or another route) that has had its first frame.
    std::unique_ptr<WsClient> openClient(const QString &path, const QString &greeting = u"connection"_s)
    {
        auto c = openWs(m_port, path);
        if (!c || !c->waitFor(greeting))
            return nullptr;
        return c;
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Herald::Server> m_server;
    quint16 m_port = 0;
};

void tst_Models::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    startServer();
}

void tst_Models::cleanup()
{
    m_server.reset();
    m_dir.reset();
}

void tst_Models::startServer(const ConfigTweak &adjust)
{
    m_server.reset();
    m_server = startTestServer(m_dir->path(), adjust);
    QVERIFY(m_server);
    m_port = m_server->port();
    QVERIFY(m_port != 0);
}

// ---------------------------------------------------------------------------------------------------------
// 1. Routes and statuses

void tst_Models::createAndGet_data()
{
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QJsonObject>("expected"); // every field but id and the timestamps

    QTest::newRow("users /users/") << u"/users/"_s
                                   << QByteArray(R"({"email":"ann@example.com","name":"Ann"})")
                                   << QJsonObject{{"email"_L1, "ann@example.com"_L1},
                                                  {"name"_L1, "Ann"_L1},
                                                  {"is_active"_L1, true}};
    QTest::newRow("users /users")
        << u"/users"_s << QByteArray(R"({"email":"bob@example.com","name":"Bob","is_active":false})")
        << QJsonObject{{"email"_L1, "bob@example.com"_L1}, {"name"_L1, "Bob"_L1}, {"is_active"_L1, false}};
    QTest::newRow("users email trimmed")
        << u"/users/"_s << QByteArray(R"({"email":"  cy@example.com ","name":"Cy"})")
        << QJsonObject{{"email"_L1, "cy@example.com"_L1}, {"name"_L1, "Cy"_L1}, {"is_active"_L1, true}};
    QTest::newRow("posts /posts/") << u"/posts/"_s
                                   << QByteArray(R"({"user_id":1,"title":"Hello","body":"First post"})")
                                   << QJsonObject{{"user_id"_L1, 1},
                                                  {"title"_L1, "Hello"_L1},
                                                  {"body"_L1, "First post"_L1},
                                                  {"published"_L1, false}};
    QTest::newRow("posts /posts defaults")
        << u"/posts"_s << QByteArray(R"({"user_id":1,"title":"T"})")
        << QJsonObject{{"user_id"_L1, 1}, {"title"_L1, "T"_L1}, {"body"_L1, ""_L1}, {"published"_L1, false}};
    // normalizeRecord() promises "emails trimmed", not every string: a body is content.
    QTest::newRow("posts body verbatim")
        << u"/posts/"_s
        << QByteArray(R"({"user_id":1,"title":"Code","body":"    indented();\n","published":true})")
        << QJsonObject{{"user_id"_L1, 1},
                       {"title"_L1, "Code"_L1},
                       {"body"_L1, "    indented();\n"_L1},
                       {"published"_L1, true}};
}

void tst_Models::createAndGet()
{
    QFETCH(QString, collection);
    QFETCH(QByteArray, body);
    QFETCH(QJsonObject, expected);
    const QString model = collection.startsWith("/posts"_L1) ? u"posts"_s : u"users"_s;
    if (model == "posts"_L1)
        QCOMPARE(createUser(u"author@example.com"_s, u"Author"_s), 1);

    const HttpResult created = send("POST", collection, body);
    QCOMPARE(created.status, 201);
    QCOMPARE(created.contentType, QByteArray("application/json"));
    const QJsonObject record = created.json();
    const qint64 id = record.value("id"_L1).toInteger();
    QCOMPARE(id, 1);
    QCOMPARE(headerValue(created, "Location"), u"/%1/%2"_s.arg(model).arg(id).toUtf8());
    QStringList keys = expected.keys();
    keys << u"id"_s << u"created_at"_s << u"updated_at"_s;
    keys.sort();
    QCOMPARE(record.keys(), keys);
    for (auto it = expected.begin(); it != expected.end(); ++it)
        QCOMPARE(record.value(it.key()), it.value());
    QVERIFY(isTimestamp(record.value("created_at"_L1)));
    QCOMPARE(record.value("updated_at"_L1), record.value("created_at"_L1));

    // The Location reads it back; the list has it.
    const HttpResult got = send("GET", QString::fromUtf8(headerValue(created, "Location")));
    QCOMPARE(got.status, 200);
    QCOMPARE(got.json(), record);
    QCOMPARE(listOf(collection), QJsonArray({record}));
}

void tst_Models::listOrderLimitOffset_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QList<qint64>>("ids");

    QTest::newRow("all, oldest first") << u"/users/"_s << QList<qint64>{1, 2, 3, 4, 5};
    QTest::newRow("no slash") << u"/users"_s << QList<qint64>{1, 2, 3, 4, 5};
    QTest::newRow("limit") << u"/users/?limit=2"_s << QList<qint64>{1, 2};
    QTest::newRow("limit offset") << u"/users/?limit=2&offset=2"_s << QList<qint64>{3, 4};
    QTest::newRow("offset") << u"/users/?offset=4"_s << QList<qint64>{5};
    QTest::newRow("offset past the end") << u"/users/?offset=9"_s << QList<qint64>{};
    QTest::newRow("limit 1000") << u"/users?limit=1000&offset=0"_s << QList<qint64>{1, 2, 3, 4, 5};
    QTest::newRow("limit 1 offset 1 no slash") << u"/users?limit=1&offset=1"_s << QList<qint64>{2};
}

void tst_Models::listOrderLimitOffset()
{
    QFETCH(QString, path);
    QFETCH(QList<qint64>, ids);
    for (int i = 1; i <= 5; ++i)
        QCOMPARE(createUser(u"u%1@example.com"_s.arg(i), u"User %1"_s.arg(i)), i);
    QVERIFY(sendJson("PATCH", u"/users/1"_s, QJsonObject{{"name"_L1, "First, renamed"_L1}}).status == 200);

    const HttpResult r = send("GET", path);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.contentType, QByteArray("application/json"));
    // A plain array (seed 004's fetch('/users/').then(r => r.json()).then(setUsers)).
    QVERIFY(QJsonDocument::fromJson(r.body).isArray());
    QCOMPARE(idsIn(parseArray(r.body)), ids);
    // Six events so far (5 created, 1 updated): the list is the state after the sixth.
    QCOMPARE(lastIdOf(r), 6);
    QCOMPARE(lastIdOf(r), m_server->hub()->lastId());
}

void tst_Models::badListQuery_data()
{
    rowsOf<QString>("path", {{"limit 0", u"/users/?limit=0"_s},
                             {"limit 1001", u"/users/?limit=1001"_s},
                             {"limit abc", u"/users/?limit=abc"_s},
                             {"limit -1", u"/users/?limit=-1"_s},
                             {"limit empty", u"/users/?limit="_s},
                             {"offset -1", u"/users/?offset=-1"_s},
                             {"offset x", u"/users?offset=x"_s},
                             {"user_id abc", u"/posts/?user_id=abc"_s},
                             {"user_id 0", u"/posts/?user_id=0"_s},
                             {"user_id -3", u"/posts/?user_id=-3"_s}});
}

void tst_Models::badListQuery()
{
    QFETCH(QString, path);
    const HttpResult r = send("GET", path);
    QCOMPARE(r.status, 422);
    QCOMPARE(r.json().value("error"_L1).toString(), u"bad_request"_s);
    QVERIFY(!r.json().value("detail"_L1).toString().isEmpty());
}

void tst_Models::postsFilteredByAuthor()
{
    const qint64 ann = createUser(u"ann@example.com"_s, u"Ann"_s);
    const qint64 bob = createUser(u"bob@example.com"_s, u"Bob"_s);
    QVERIFY(ann > 0 && bob > 0);
    const qint64 p1 = createPost(ann, u"Ann 1"_s);
    const qint64 p2 = createPost(bob, u"Bob 1"_s);
    const qint64 p3 = createPost(ann, u"Ann 2"_s);
    QVERIFY(p1 > 0 && p2 > 0 && p3 > 0);

    QCOMPARE(idsIn(listOf(u"/posts/"_s)), QList<qint64>({p1, p2, p3}));
    QCOMPARE(idsIn(listOf(u"/posts/?user_id=%1"_s.arg(ann))), QList<qint64>({p1, p3}));
    QCOMPARE(idsIn(listOf(u"/posts?user_id=%1"_s.arg(bob))), QList<qint64>({p2}));
    QCOMPARE(idsIn(listOf(u"/posts/?user_id=%1&limit=1&offset=1"_s.arg(ann))), QList<qint64>({p3}));
    const HttpResult none = send("GET", u"/posts/?user_id=99"_s);
    QCOMPARE(none.status, 200);
    QCOMPARE(parseArray(none.body), QJsonArray());
    for (const QJsonValue &v : listOf(u"/posts/?user_id=%1"_s.arg(ann)))
        QCOMPARE(v.toObject().value("user_id"_L1).toInteger(), ann);
    // A moved post follows its new author.
    QCOMPARE(sendJson("PATCH", u"/posts/%1"_s.arg(p1), QJsonObject{{"user_id"_L1, bob}}).status, 200);
    QCOMPARE(idsIn(listOf(u"/posts/?user_id=%1"_s.arg(bob))), QList<qint64>({p1, p2}));
    QCOMPARE(idsIn(listOf(u"/posts/?user_id=%1"_s.arg(ann))), QList<qint64>({p3}));
}

void tst_Models::updateRecord_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QJsonObject>("change");
    QTest::addColumn<QJsonObject>("expected"); // the fields that must now have these values

    const QJsonObject rename{{"name"_L1, "Ann B"_L1}};
    QTest::newRow("PATCH user name") << QByteArray("PATCH") << u"/users/1"_s << rename << rename;
    QTest::newRow("PUT user name") << QByteArray("PUT") << u"/users/1"_s << rename << rename;
    const QJsonObject full{
        {"email"_L1, "ann.b@example.com"_L1}, {"name"_L1, "Ann B"_L1}, {"is_active"_L1, false}};
    QTest::newRow("PUT user every field") << QByteArray("PUT") << u"/users/1"_s << full << full;
    QTest::newRow("PATCH user is_active")
        << QByteArray("PATCH") << u"/users/1"_s << QJsonObject{{"is_active"_L1, false}}
        << QJsonObject{{"is_active"_L1, false}, {"name"_L1, "Ann"_L1}};
    QTest::newRow("PATCH user email trimmed")
        << QByteArray("PATCH") << u"/users/1"_s << QJsonObject{{"email"_L1, " new@example.com "_L1}}
        << QJsonObject{{"email"_L1, "new@example.com"_L1}};
    const QJsonObject publish{{"title"_L1, "Renamed"_L1}, {"published"_L1, true}};
    QTest::newRow("PATCH post") << QByteArray("PATCH") << u"/posts/1"_s << publish << publish;
    QTest::newRow("PUT post new author")
        << QByteArray("PUT") << u"/posts/1"_s << QJsonObject{{"user_id"_L1, 2}}
        << QJsonObject{{"user_id"_L1, 2}, {"title"_L1, "Hello"_L1}};
    QTest::newRow("PATCH empty body")
        << QByteArray("PATCH") << u"/users/1"_s << QJsonObject() << QJsonObject{{"name"_L1, "Ann"_L1}};
}

void tst_Models::updateRecord()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QJsonObject, change);
    QFETCH(QJsonObject, expected);
    QCOMPARE(createUser(u"ann@example.com"_s, u"Ann"_s), 1);
    QCOMPARE(createUser(u"bob@example.com"_s, u"Bob"_s), 2);
    QCOMPARE(createPost(1, u"Hello"_s), 1);
    const QJsonObject before = send("GET", path).json();
    QVERIFY(!before.isEmpty());

    const HttpResult r = sendJson(method, path, change);
    QCOMPARE(r.status, 200);
    const QJsonObject after = r.json();
    QCOMPARE(after.keys(), before.keys());
    for (auto it = after.begin(); it != after.end(); ++it) {
        if (expected.contains(it.key()))
            QCOMPARE(it.value(), expected.value(it.key()));
        else if (it.key() != "updated_at"_L1)
            QCOMPARE(it.value(), before.value(it.key())); // id, created_at and untouched fields stay
    }
    QVERIFY(isTimestamp(after.value("updated_at"_L1)));
    QVERIFY(after.value("updated_at"_L1).toString() >= before.value("updated_at"_L1).toString());
    QCOMPARE(send("GET", path).json(), after);
}

void tst_Models::deleteRecord_data()
{
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QString>("message");

    QTest::newRow("user") << u"users"_s << u"User deleted"_s;
    QTest::newRow("post") << u"posts"_s << u"Post deleted"_s;
}

void tst_Models::deleteRecord()
{
    QFETCH(QString, collection);
    QFETCH(QString, message);
    QCOMPARE(createUser(u"ann@example.com"_s, u"Ann"_s), 1);
    QCOMPARE(createUser(u"bob@example.com"_s, u"Bob"_s), 2);
    QCOMPARE(createUser(u"cy@example.com"_s, u"Cy"_s), 3);
    QCOMPARE(createPost(1, u"one"_s), 1);
    QCOMPARE(createPost(1, u"two"_s), 2);
    QCOMPARE(createPost(1, u"three"_s), 3);

    const QString item = u"/%1/2"_s.arg(collection);
    const HttpResult r = send("DELETE", item);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json(), (QJsonObject{{"message"_L1, message}, {"id"_L1, 2}}));
    QCOMPARE(send("GET", item).status, 404);
    QCOMPARE(send("DELETE", item).status, 404);
    QCOMPARE(idsIn(listOf(u"/%1/"_s.arg(collection))), QList<qint64>({1, 3}));
}

void tst_Models::notFound_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");

    QTest::newRow("GET user") << QByteArray("GET") << u"/users/99"_s;
    QTest::newRow("PATCH user") << QByteArray("PATCH") << u"/users/99"_s;
    QTest::newRow("PUT user") << QByteArray("PUT") << u"/users/99"_s;
    QTest::newRow("DELETE user") << QByteArray("DELETE") << u"/users/99"_s;
    QTest::newRow("GET post") << QByteArray("GET") << u"/posts/42"_s;
    QTest::newRow("PATCH post") << QByteArray("PATCH") << u"/posts/42"_s;
    QTest::newRow("DELETE post") << QByteArray("DELETE") << u"/posts/42"_s;
}

void tst_Models::notFound()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    const HttpResult r = sendWithAnnStored(method, path);
    QCOMPARE(r.status, 404);
    QCOMPARE(r.json().value("error"_L1).toString(), u"not_found"_s);
    QVERIFY(!r.json().value("detail"_L1).toString().isEmpty());
    QCOMPARE(m_server->hub()->lastId(), 1); // no event for a change that did not happen
}

void tst_Models::badId_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");

    for (const QString &id : {u"abc"_s, u"0"_s, u"-1"_s, u"1.5"_s, u"99999999999999999999"_s}) {
        for (const char *method : {"GET", "PATCH", "PUT", "DELETE"}) {
            QTest::addRow("%s users/%s", method, qPrintable(id))
                << QByteArray(method) << u"/users/%1"_s.arg(id);
        }
    }
    QTest::newRow("GET posts/abc") << QByteArray("GET") << u"/posts/abc"_s;
    QTest::newRow("DELETE posts/0") << QByteArray("DELETE") << u"/posts/0"_s;
}

void tst_Models::badId()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    const HttpResult r = sendWithAnnStored(method, path);
    QCOMPARE(r.status, 422);
    QCOMPARE(r.json().value("error"_L1).toString(), u"bad_request"_s);
    QVERIFY(r.json().value("detail"_L1).toString().contains("positive integer"_L1));
    QCOMPARE(idsIn(listOf(u"/users/"_s)), QList<qint64>({1}));
}

void tst_Models::invalidJson_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("body");

    QTest::newRow("POST truncated") << QByteArray("POST") << u"/users/"_s
                                    << QByteArray(R"({"email":"a@b.c",)");
    QTest::newRow("POST array") << QByteArray("POST") << u"/users/"_s << QByteArray("[1,2]");
    QTest::newRow("POST string") << QByteArray("POST") << u"/users"_s << QByteArray(R"("text")");
    QTest::newRow("POST null") << QByteArray("POST") << u"/users/"_s << QByteArray("null");
    QTest::newRow("POST empty") << QByteArray("POST") << u"/users/"_s << QByteArray();
    QTest::newRow("POST posts") << QByteArray("POST") << u"/posts/"_s << QByteArray("{user_id:1}");
    QTest::newRow("PATCH truncated") << QByteArray("PATCH") << u"/users/1"_s << QByteArray("{");
    QTest::newRow("PUT array") << QByteArray("PUT") << u"/users/1"_s << QByteArray("[]");
}

void tst_Models::invalidJson()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QByteArray, body);
    QCOMPARE(createUser(u"ann@example.com"_s, u"Ann"_s), 1);
    const QJsonArray before = listOf(u"/users/"_s);
    const HttpResult r = send(method, path, body);
    QCOMPARE(r.status, 400);
    QCOMPARE(r.json().value("error"_L1).toString(), u"invalid_json"_s);
    QCOMPARE(listOf(u"/users/"_s), before);
    QCOMPARE(listOf(u"/posts/"_s), QJsonArray());
}

void tst_Models::bodyTooLarge_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");

    QTest::newRow("POST user") << QByteArray("POST") << u"/users/"_s;
    QTest::newRow("PATCH user") << QByteArray("PATCH") << u"/users/1"_s;
    QTest::newRow("PUT user") << QByteArray("PUT") << u"/users/1"_s;
    QTest::newRow("POST post") << QByteArray("POST") << u"/posts/"_s;
}

void tst_Models::bodyTooLarge()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QCOMPARE(createUser(u"ann@example.com"_s, u"Ann"_s), 1);
    const QJsonArray before = listOf(u"/users/"_s);
    // Valid JSON, one byte over the 64 KiB default (--max-message-size).
    QByteArray body = R"({"user_id":1,"title":"big","email":"big@example.com","name":")";
    body += QByteArray(64 * 1024 - body.size() - 2 + 1, 'x');
    body += "\"}";
    QCOMPARE(body.size(), 64 * 1024 + 1);
    const HttpResult r = send(method, path, body);
    QCOMPARE(r.status, 413);
    QCOMPARE(r.json().value("error"_L1).toString(), u"too_large"_s);
    QCOMPARE(listOf(u"/users/"_s), before);
}

void tst_Models::wrongMethod_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("allow");

    QTest::newRow("DELETE /users/") << QByteArray("DELETE") << u"/users/"_s << QByteArray("GET, HEAD, POST");
    QTest::newRow("PUT /users") << QByteArray("PUT") << u"/users"_s << QByteArray("GET, HEAD, POST");
    QTest::newRow("PATCH /posts/") << QByteArray("PATCH") << u"/posts/"_s << QByteArray("GET, HEAD, POST");
    QTest::newRow("POST /users/1") << QByteArray("POST") << u"/users/1"_s
                                   << QByteArray("GET, HEAD, PATCH, PUT, DELETE");
    QTest::newRow("POST /posts/1") << QByteArray("POST") << u"/posts/1"_s
                                   << QByteArray("GET, HEAD, PATCH, PUT, DELETE");
}

void tst_Models::wrongMethod()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QByteArray, allow);
    QCOMPARE(createUser(u"ann@example.com"_s, u"Ann"_s), 1);
    const HttpResult r = send(method, path, QByteArray(R"({"email":"x@example.com","name":"X"})"));
    QCOMPARE(r.status, 405);
    QCOMPARE(headerValue(r, "Allow"), allow);
    QVERIFY(!r.json().value("error"_L1).toString().isEmpty());
    QCOMPARE(idsIn(listOf(u"/users/"_s)), QList<qint64>({1}));
}

void tst_Models::preflight_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("methods");

    QTest::newRow("/users/") << u"/users/"_s << QByteArray("GET, POST, OPTIONS");
    QTest::newRow("/users") << u"/users"_s << QByteArray("GET, POST, OPTIONS");
    QTest::newRow("/users/1") << u"/users/1"_s << QByteArray("GET, PATCH, PUT, DELETE, OPTIONS");
    QTest::newRow("/posts/") << u"/posts/"_s << QByteArray("GET, POST, OPTIONS");
    QTest::newRow("/posts/7") << u"/posts/7"_s << QByteArray("GET, PATCH, PUT, DELETE, OPTIONS");
}

void tst_Models::preflight()
{
    QFETCH(QString, path);
    QFETCH(QByteArray, methods);
    // A page on another site may drive an open server only when --allowed-origins says so ("*" here).
    startServer([](Herald::ServerConfig &c) { c.anyOrigin = true; });
    const HttpResult r = send("OPTIONS", path, {},
                              {{"Origin", "http://app.example"}, {"Access-Control-Request-Method", "PATCH"}});
    QCOMPARE(r.status, 204);
    QCOMPARE(headerValue(r, "Access-Control-Allow-Methods"), methods);
    QVERIFY(headerValue(r, "Access-Control-Allow-Headers").contains("X-Client-Id"));
    QVERIFY(headerValue(r, "Access-Control-Allow-Headers").contains("Content-Type"));
    QCOMPARE(headerValue(r, "Access-Control-Allow-Origin"), QByteArray("*"));
    QVERIFY(r.body.isEmpty());
}

// ---------------------------------------------------------------------------------------------------------
// 2. Validation and constraints

void tst_Models::validation_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QStringList>("fields");

    const QByteArray post = "POST";
    const QByteArray patch = "PATCH";
    const QString users = u"/users/"_s;
    const QString posts = u"/posts/"_s;
    auto row = [](const char *name, const QByteArray &method, const QString &path, const char *body,
                  const QStringList &fields) {
        QTest::newRow(name) << method << path << QByteArray(body) << fields;
    };
    row("missing email", post, users, R"({"name":"A"})", {u"email"_s});
    row("bad email", post, users, R"({"email":"not-an-email","name":"A"})", {u"email"_s});
    row("email without domain dot", post, users, R"({"email":"a@localhost","name":"A"})", {u"email"_s});
    row("email with space", post, users, R"({"email":"a b@example.com","name":"A"})", {u"email"_s});
    row("email null", post, users, R"({"email":null,"name":"A"})", {u"email"_s});
    row("email number", post, users, R"({"email":5,"name":"A"})", {u"email"_s});
    row("empty name", post, users, R"({"email":"a@example.com","name":""})", {u"name"_s});
    row("blank name", post, users, R"({"email":"a@example.com","name":"   "})", {u"name"_s});
    row("name: 3", post, users, R"({"email":"a@example.com","name":3})", {u"name"_s});
    row("is_active: \"yes\"", post, users, R"({"email":"a@example.com","name":"A","is_active":"yes"})",
        {u"is_active"_s});
    row("is_active: 1", post, users, R"({"email":"a@example.com","name":"A","is_active":1})",
        {u"is_active"_s});
    row("unknown field", post, users, R"({"email":"a@example.com","name":"A","nickname":"x"})",
        {u"nickname"_s});
    row("everything missing", post, users, "{}", {u"email"_s, u"name"_s});
    row("several at once", post, users, R"({"email":"x","name":3,"is_active":"yes","age":4})",
        {u"age"_s, u"email"_s, u"is_active"_s, u"name"_s});
    row("user_id: \"1\"", post, posts, R"({"user_id":"1","title":"T"})", {u"user_id"_s});
    row("user_id 0", post, posts, R"({"user_id":0,"title":"T"})", {u"user_id"_s});
    row("user_id 1.5", post, posts, R"({"user_id":1.5,"title":"T"})", {u"user_id"_s});
    row("unknown author", post, posts, R"({"user_id":99,"title":"T"})", {u"user_id"_s});
    row("missing title", post, posts, R"({"user_id":1})", {u"title"_s});
    row("published: \"no\"", post, posts, R"({"user_id":1,"title":"T","published":"no"})", {u"published"_s});
    row("body: []", post, posts, R"({"user_id":1,"title":"T","body":[]})", {u"body"_s});
    row("PATCH name: 3", patch, u"/users/1"_s, R"({"name":3})", {u"name"_s});
    row("PATCH email null", patch, u"/users/1"_s, R"({"email":null})", {u"email"_s});
    row("PATCH bad email", patch, u"/users/1"_s, R"({"email":"nope"})", {u"email"_s});
    row("PATCH empty name", patch, u"/users/1"_s, R"({"name":""})", {u"name"_s});
    row("PATCH unknown field", patch, u"/users/1"_s, R"({"role":"admin"})", {u"role"_s});
    row("PUT is_active: \"yes\"", QByteArray("PUT"), u"/users/1"_s, R"({"is_active":"yes"})",
        {u"is_active"_s});
    row("PATCH post unknown author", patch, u"/posts/1"_s, R"({"user_id":99})", {u"user_id"_s});
    row("PATCH post user_id: \"1\"", patch, u"/posts/1"_s, R"({"user_id":"1"})", {u"user_id"_s});
}

void tst_Models::validation()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QByteArray, body);
    QFETCH(QStringList, fields);
    QCOMPARE(createUser(u"ann@example.com"_s, u"Ann"_s), 1);
    QCOMPARE(createPost(1, u"Hello"_s), 1);
    const QJsonArray usersBefore = listOf(u"/users/"_s);
    const QJsonArray postsBefore = listOf(u"/posts/"_s);
    const qint64 lastId = m_server->hub()->lastId();

    const HttpResult r = send(method, path, body);
    QCOMPARE(r.status, 422);
    const QJsonObject error = r.json();
    QCOMPARE(error.value("error"_L1).toString(), u"bad_request"_s);
    QCOMPARE(errorFields(error), fields);
    const QString detail = error.value("detail"_L1).toString();
    for (const QString &f : std::as_const(fields))
        QVERIFY2(detail.contains(f), qPrintable(detail));
    const QJsonArray errors = error.value("errors"_L1).toArray();
    for (const QJsonValue &e : errors) {
        QCOMPARE(e.toObject().keys(), (QStringList{u"field"_s, u"message"_s}));
        QVERIFY(!e.toObject().value("message"_L1).toString().isEmpty());
    }

    // Nothing changed and nothing was announced.
    QCOMPARE(listOf(u"/users/"_s), usersBefore);
    QCOMPARE(listOf(u"/posts/"_s), postsBefore);
    QCOMPARE(m_server->hub()->lastId(), lastId);
}

void tst_Models::duplicateEmail_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("email");

    QTest::newRow("create same") << QByteArray("POST") << u"/users/"_s << u"ann@example.com"_s;
    QTest::newRow("create other case") << QByteArray("POST") << u"/users/"_s << u"ANN@Example.COM"_s;
    QTest::newRow("create padded") << QByteArray("POST") << u"/users"_s << u"  Ann@example.com "_s;
    QTest::newRow("patch takes it") << QByteArray("PATCH") << u"/users/2"_s << u"ann@example.com"_s;
    QTest::newRow("patch other case") << QByteArray("PATCH") << u"/users/2"_s << u"aNN@EXAMPLE.com"_s;
    QTest::newRow("put takes it") << QByteArray("PUT") << u"/users/2"_s << u"Ann@Example.com"_s;
}

void tst_Models::duplicateEmail()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QString, email);
    QCOMPARE(createUser(u"ann@example.com"_s, u"Ann"_s), 1);
    QCOMPARE(createUser(u"bob@example.com"_s, u"Bob"_s), 2);
    const QJsonArray before = listOf(u"/users/"_s);
    const qint64 lastId = m_server->hub()->lastId();

    const HttpResult r = sendJson(method, path, QJsonObject{{"email"_L1, email}, {"name"_L1, "Dup"_L1}});
    QCOMPARE(r.status, 409);
    QCOMPARE(r.json().value("error"_L1).toString(), u"conflict"_s);
    QVERIFY(r.json().value("detail"_L1).toString().contains("email"_L1));
    QCOMPARE(listOf(u"/users/"_s), before);
    QCOMPARE(m_server->hub()->lastId(), lastId);
}

void tst_Models::patchWithOwnEmail()
{
    QCOMPARE(createUser(u"ann@example.com"_s, u"Ann"_s), 1);
    QCOMPARE(createUser(u"bob@example.com"_s, u"Bob"_s), 2);
    HttpResult r = sendJson("PATCH", u"/users/1"_s,
                            QJsonObject{{"email"_L1, "ann@example.com"_L1}, {"name"_L1, "Ann 2"_L1}});
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("name"_L1).toString(), u"Ann 2"_s);
    // Its own address in another case is not someone else's either.
    r = sendJson("PUT", u"/users/1"_s, QJsonObject{{"email"_L1, "Ann@Example.com"_L1}});
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("email"_L1).toString(), u"Ann@Example.com"_s);
    // And the old address is free once it changed.
    r = sendJson("PATCH", u"/users/1"_s, QJsonObject{{"email"_L1, "ann.new@example.com"_L1}});
    QCOMPARE(r.status, 200);
    QCOMPARE(createUser(u"ann@example.com"_s, u"Another Ann"_s), 3);
}

void tst_Models::readOnlyFieldsIgnored()
{
    const HttpResult created = send(
        "POST", u"/users/"_s,
        QByteArray(
            R"({"id":77,"email":"ann@example.com","name":"Ann","created_at":"1999-01-01T00:00:00.000Z","updated_at":"1999-01-01T00:00:00.000Z"})"));
    QCOMPARE(created.status, 201);
    const QJsonObject record = created.json();
    QCOMPARE(record.value("id"_L1).toInteger(), 1);
    QVERIFY(!record.value("created_at"_L1).toString().startsWith("1999"_L1));
    QVERIFY(!record.value("updated_at"_L1).toString().startsWith("1999"_L1));
    QCOMPARE(send("GET", u"/users/77"_s).status, 404);

    const HttpResult patched = send(
        "PATCH", u"/users/1"_s,
        QByteArray(R"({"id":5,"created_at":"2000-01-01T00:00:00.000Z","updated_at":"x","name":"Ann B"})"));
    QCOMPARE(patched.status, 200);
    QCOMPARE(patched.json().value("id"_L1).toInteger(), 1);
    QCOMPARE(patched.json().value("created_at"_L1), record.value("created_at"_L1));
    QVERIFY(isTimestamp(patched.json().value("updated_at"_L1)));
    QCOMPARE(patched.json().value("name"_L1).toString(), u"Ann B"_s);
    QCOMPARE(send("GET", u"/users/5"_s).status, 404);
    QCOMPARE(idsIn(listOf(u"/users/"_s)), QList<qint64>({1}));
}

void tst_Models::deleteUserWithPosts()
{
    QCOMPARE(createUser(u"ann@example.com"_s, u"Ann"_s), 1);
    QCOMPARE(createPost(1, u"one"_s), 1);
    QCOMPARE(createPost(1, u"two"_s), 2);
    auto users = openClient(u"/ws/users"_s);
    QVERIFY(users);

    HttpResult r = send("DELETE", u"/users/1"_s);
    QCOMPARE(r.status, 409);
    QCOMPARE(r.json().value("error"_L1).toString(), u"conflict"_s);
    QCOMPARE(r.json().value("detail"_L1).toString(),
             u"User 1 is still referenced by 2 posts; delete those first"_s);
    QCOMPARE(send("GET", u"/users/1"_s).status, 200);

    QCOMPARE(send("DELETE", u"/posts/1"_s).json().value("message"_L1).toString(), u"Post deleted"_s);
    r = send("DELETE", u"/users/1"_s);
    QCOMPARE(r.status, 409); // one post left
    QCOMPARE(r.json().value("detail"_L1).toString(),
             u"User 1 is still referenced by 1 post; delete it first"_s);
    QCOMPARE(send("DELETE", u"/posts/2"_s).status, 200);
    r = send("DELETE", u"/users/1"_s);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("message"_L1).toString(), u"User deleted"_s);
    QCOMPARE(send("GET", u"/users/1"_s).status, 404);

    // The refused deletes announced nothing: once the last change's event is in, the users channel has had
    // exactly one event, the delete that happened.
    QCOMPARE(m_server->hub()->lastId(), 6); // 3 created, 2 posts deleted, 1 user deleted
    QTRY_COMPARE(lastFrameId(users->frames()), 6);
    const QList<QJsonObject> events = modelEvents(users->frames());
    QCOMPARE(events.size(), 1);
    QCOMPARE(events.constFirst().value("type"_L1).toString(), u"deleted"_s);
    QCOMPARE(events.constFirst().value("data"_L1).toObject(), (QJsonObject{{"id"_L1, 1}}));
}

void tst_Models::concurrentClaimsOfOneEmail_data()
{
    QTest::addColumn<QByteArray>("method");

    QTest::newRow("creates") << QByteArray("POST");
    QTest::newRow("patches") << QByteArray("PATCH");
}

void tst_Models::concurrentClaimsOfOneEmail()
{
    // REST requests are served on several threads at once: the uniqueness check and the write that follows it
    // must still not interleave with another request's, or two users end up with one address.
    QFETCH(QByteArray, method);
    constexpr int Claims = 12;
    if (method == "PATCH") {
        for (int i = 1; i <= Claims; ++i)
            QCOMPARE(createUser(u"own%1@example.com"_s.arg(i), u"Own %1"_s.arg(i)), i);
    }
    auto users = openClient(u"/ws/users"_s);
    QVERIFY(users);
    const qint64 lastBefore = m_server->hub()->lastId();
    const QStringList spellings = {u"same@example.com"_s, u"SAME@example.com"_s, u" same@Example.com"_s};
    QList<Flight> flights;
    for (int i = 1; i <= Claims; ++i) {
        const QByteArray body = Herald::compactJson(
            {{"email"_L1, spellings.at(i % spellings.size())}, {"name"_L1, u"Claim %1"_s.arg(i)}});
        flights.append(method == "POST" ? Flight{method, u"/users/"_s, body}
                                        : Flight{method, u"/users/%1"_s.arg(i), body});
    }
    const QList<HttpResult> results = sendConcurrently(flights, m_port, 10000);
    int won = 0;
    for (const HttpResult &r : results) {
        QVERIFY2(r.status == 409 || r.status == (method == "POST" ? 201 : 200), r.body.constData());
        won += r.status == 409 ? 0 : 1;
    }
    QCOMPARE(won, 1);
    int holders = 0;
    for (const QJsonValue &v : listOf(u"/users/"_s))
        holders +=
            v.toObject().value("email"_L1).toString().compare("same@example.com"_L1, Qt::CaseInsensitive) ==
            0;
    QCOMPARE(holders, 1);
    // One change, one event.
    QCOMPARE(m_server->hub()->lastId(), lastBefore + 1);
    QTRY_COMPARE(modelEvents(users->frames()).size(), 1);
}

void tst_Models::concurrentDeleteAndNewPost()
{
    // Deleting a user while a post naming them is being created, on different threads: either the delete is
    // refused (the post exists) or the post is (its author is gone); never both done, leaving an orphan post.
    constexpr int Pairs = 10;
    for (int i = 1; i <= Pairs; ++i)
        QCOMPARE(createUser(u"author%1@example.com"_s.arg(i), u"Author %1"_s.arg(i)), i);
    QList<Flight> flights;
    for (int i = 1; i <= Pairs; ++i) {
        const Flight remove{"DELETE", u"/users/%1"_s.arg(i), {}};
        const Flight post{"POST", u"/posts/"_s,
                          Herald::compactJson({{"user_id"_L1, i}, {"title"_L1, u"By %1"_s.arg(i)}})};
        // Alternate which is sent first.
        flights << (i % 2 ? remove : post) << (i % 2 ? post : remove);
    }
    const QList<HttpResult> results = sendConcurrently(flights, m_port, 10000);
    int deletes = 0;
    int posts = 0;
    for (int i = 1; i <= Pairs; ++i) {
        const HttpResult &remove = results.at(2 * (i - 1) + (i % 2 ? 0 : 1));
        const HttpResult &post = results.at(2 * (i - 1) + (i % 2 ? 1 : 0));
        const bool deleted = remove.status == 200;
        const bool posted = post.status == 201;
        QVERIFY2(deleted != posted,
                 qPrintable(u"user %1: DELETE %2, POST %3"_s.arg(i).arg(remove.status).arg(post.status)));
        QCOMPARE(remove.status, deleted ? 200 : 409);
        QCOMPARE(post.status, posted ? 201 : 422);
        deletes += deleted;
        posts += posted;
    }
    qInfo("%d deletes won, %d posts won", deletes, posts);
    // No post without its author.
    const QJsonArray allPosts = listOf(u"/posts/"_s);
    QCOMPARE(allPosts.size(), posts);
    for (const QJsonValue &v : allPosts) {
        const qint64 author = v.toObject().value("user_id"_L1).toInteger();
        QCOMPARE(send("GET", u"/users/%1"_s.arg(author)).status, 200);
    }
    QCOMPARE(listOf(u"/users/"_s).size(), Pairs - deletes);
}

// ---------------------------------------------------------------------------------------------------------
// 3. Events

void tst_Models::createdEventIsSeed004Frame()
{
    WsClient users;
    QVERIFY(users.open(m_port, u"/ws/users"_s));
    const auto hello = users.waitFor(u"connection"_s);
    QVERIFY(hello);
    QCOMPARE(hello->keys(),
             (QStringList{u"channel"_s, u"client_id"_s, u"message"_s, u"timestamp"_s, u"type"_s}));
    QCOMPARE(hello->value("message"_L1).toString(), u"Connected to channel: users"_s);
    QCOMPARE(hello->value("channel"_L1).toString(), u"users"_s);

    const HttpResult r = sendJson(
        "POST", u"/users/"_s, QJsonObject{{"email"_L1, "user@example.com"_L1}, {"name"_L1, "John Doe"_L1}});
    QCOMPARE(r.status, 201);
    const auto event = users.waitFor(u"created"_s);
    QVERIFY(event);
    QCOMPARE(event->keys(), eventFrameKeys());
    QCOMPARE(event->value("type"_L1).toString(), u"created"_s);
    QCOMPARE(event->value("model"_L1).toString(), u"users"_s);
    QCOMPARE(event->value("channel"_L1).toString(), u"users"_s);
    QVERIFY(isTimestamp(event->value("timestamp"_L1)));
    QVERIFY(event->value("id"_L1).isDouble());
    const QJsonObject data = event->value("data"_L1).toObject();
    QCOMPARE(data.keys(), userKeys());
    QCOMPARE(data, r.json());
    QCOMPARE(data.value("email"_L1).toString(), u"user@example.com"_s);
    QCOMPARE(data.value("name"_L1).toString(), u"John Doe"_s);
    QCOMPARE(data.value("is_active"_L1).toBool(), true);
    // Herald's id is the position a late joiner resumes from.
    QCOMPARE(event->value("id"_L1).toInteger(), lastIdOf(send("GET", u"/users/"_s)));
    QCOMPARE(users.raw().size(), 2);
}

void tst_Models::updatedAndDeletedEvents()
{
    const qint64 id = createUser(u"user@example.com"_s, u"John Doe"_s);
    QVERIFY(id > 0);
    auto users = openClient(u"/ws/users"_s);
    QVERIFY(users);

    const HttpResult patched =
        sendJson("PATCH", u"/users/%1"_s.arg(id), QJsonObject{{"name"_L1, "John Updated"_L1}});
    QCOMPARE(patched.status, 200);
    const auto updated = users->waitFor(u"updated"_s);
    QVERIFY(updated);
    QCOMPARE(updated->keys(), eventFrameKeys());
    QCOMPARE(updated->value("model"_L1).toString(), u"users"_s);
    QCOMPARE(updated->value("channel"_L1).toString(), u"users"_s);
    QVERIFY(isTimestamp(updated->value("timestamp"_L1)));
    // The whole new record, not just the change.
    QCOMPARE(updated->value("data"_L1).toObject(), patched.json());
    QCOMPARE(updated->value("data"_L1).toObject().keys(), userKeys());
    QCOMPARE(updated->value("data"_L1).toObject().value("email"_L1).toString(), u"user@example.com"_s);

    QCOMPARE(send("DELETE", u"/users/%1"_s.arg(id)).status, 200);
    const auto deleted = users->waitFor(u"deleted"_s);
    QVERIFY(deleted);
    QCOMPARE(deleted->keys(), eventFrameKeys());
    QCOMPARE(deleted->value("model"_L1).toString(), u"users"_s);
    QCOMPARE(deleted->value("channel"_L1).toString(), u"users"_s);
    QCOMPARE(deleted->value("data"_L1).toObject(), (QJsonObject{{"id"_L1, id}}));
    QVERIFY(deleted->value("id"_L1).toInteger() > updated->value("id"_L1).toInteger());
}

void tst_Models::eventAfterCommit_data()
{
    namedRows("event", {"created", "updated", "deleted"});
}

void tst_Models::eventAfterCommit()
{
    QFETCH(QString, event);
    qint64 id = 0;
    if (event != "created"_L1) {
        id = createUser(u"ann@example.com"_s, u"Ann"_s);
        QVERIFY(id > 0);
    }
    const QString dbPath = m_server->store()->databasePath();

    // What the client can see at the moment the frame is handled: the record through another database
    // connection (committed, not merely written), and a GET started right then.
    bool seen = false;
    QJsonObject frame;
    CommittedRead atFrame;
    QNetworkAccessManager nam;
    QNetworkReply *readBack = nullptr;
    auto users = openClient(u"/ws/users"_s);
    QVERIFY(users);
    QObject::connect(
        &users->socket(), &QWebSocket::textMessageReceived, &users->socket(), [&](const QString &text) {
            const QJsonObject f = parseObject(text.toUtf8());
            if (seen || f.value("type"_L1).toString() != event)
                return;
            seen = true;
            frame = f;
            const qint64 recordId = f.value("data"_L1).toObject().value("id"_L1).toInteger();
            atFrame = readCommitted(dbPath, u"users"_s, recordId);
            readBack =
                nam.get(QNetworkRequest(QUrl(u"http://127.0.0.1:%1/users/%2"_s.arg(m_port).arg(recordId))));
        });

    // The change itself, not waited for: the frame may well arrive before its response.
    QNetworkRequest request(
        QUrl(u"http://127.0.0.1:%1/users/%2"_s.arg(m_port).arg(id > 0 ? QString::number(id) : QString())));
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
    QNetworkReply *change = nullptr;
    if (event == "created"_L1)
        change = nam.post(request, QByteArray(R"({"email":"ann@example.com","name":"Ann"})"));
    else if (event == "updated"_L1)
        change = nam.sendCustomRequest(request, "PATCH", QByteArray(R"({"name":"Ann B"})"));
    else
        change = nam.deleteResource(request);

    QTRY_VERIFY(seen);
    QVERIFY2(atFrame.ok, qPrintable(atFrame.error));
    QTRY_VERIFY(readBack && readBack->isFinished());
    QTRY_VERIFY(change->isFinished());
    const QJsonObject changed = parseObject(change->readAll());
    const int readStatus = readBack->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    const QJsonObject read = parseObject(readBack->readAll());
    if (event == "deleted"_L1) {
        QVERIFY(!atFrame.found);
        QCOMPARE(readStatus, 404);
        QCOMPARE(frame.value("data"_L1).toObject(), (QJsonObject{{"id"_L1, id}}));
    } else {
        QVERIFY(atFrame.found);
        QCOMPARE(atFrame.record, frame.value("data"_L1).toObject());
        QCOMPARE(readStatus, 200);
        QCOMPARE(read, frame.value("data"_L1).toObject());
        QCOMPARE(changed, frame.value("data"_L1).toObject());
        if (event == "updated"_L1)
            QCOMPARE(atFrame.record.value("name"_L1).toString(), u"Ann B"_s);
    }
    delete change;
    delete readBack;
}

void tst_Models::broadcastFalseSuppressesEvent_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("query");

    QTest::newRow("POST ?broadcast=false") << QByteArray("POST") << u"?broadcast=false"_s;
    QTest::newRow("POST ?broadcast=0") << QByteArray("POST") << u"?broadcast=0"_s;
    QTest::newRow("POST ?broadcast=no") << QByteArray("POST") << u"?broadcast=no"_s;
    QTest::newRow("PATCH ?broadcast=false") << QByteArray("PATCH") << u"?broadcast=false"_s;
    QTest::newRow("PUT ?broadcast=FALSE") << QByteArray("PUT") << u"?broadcast=FALSE"_s;
    QTest::newRow("DELETE ?broadcast=false") << QByteArray("DELETE") << u"?broadcast=false"_s;
}

void tst_Models::broadcastFalseSuppressesEvent()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, query);
    QCOMPARE(createUser(u"ann@example.com"_s, u"Ann"_s), 1);
    auto users = openClient(u"/ws/users"_s);
    QVERIFY(users);

    HttpResult r;
    if (method == "POST") {
        r = sendJson(method, u"/users/"_s + query,
                     QJsonObject{{"email"_L1, "quiet@example.com"_L1}, {"name"_L1, "Q"_L1}});
        QCOMPARE(r.status, 201);
        QCOMPARE(send("GET", u"/users/2"_s).status, 200);
    } else if (method == "DELETE") {
        r = send(method, u"/users/1"_s + query);
        QCOMPARE(r.status, 200);
        QCOMPARE(send("GET", u"/users/1"_s).status, 404);
    } else {
        r = sendJson(method, u"/users/1"_s + query, QJsonObject{{"name"_L1, "Quiet"_L1}});
        QCOMPARE(r.status, 200);
        QCOMPARE(send("GET", u"/users/1"_s).json().value("name"_L1).toString(), u"Quiet"_s);
    }

    // A later, announced change: frames on one connection keep publish order, so had the quiet change been
    // announced its event would arrive before this one.
    const HttpResult loud =
        sendJson("POST", u"/users/"_s, QJsonObject{{"email"_L1, "loud@example.com"_L1}, {"name"_L1, "L"_L1}});
    QCOMPARE(loud.status, 201);
    QTRY_COMPARE(modelEvents(users->frames()).size(), 1);
    const QJsonObject only = modelEvents(users->frames()).constFirst();
    QCOMPARE(only.value("type"_L1).toString(), u"created"_s);
    QCOMPARE(only.value("data"_L1).toObject(), loud.json());

    // Nor is it stored for a late joiner: replaying everything gives the first create and the loud one.
    auto joiner = openClient(u"/ws/users?since=0"_s);
    QVERIFY(joiner);
    QTRY_COMPARE(modelEvents(joiner->frames()).size(), 2);
    QCOMPARE(modelEvents(joiner->frames()).constLast().value("data"_L1).toObject(), loud.json());
}

void tst_Models::clientIdExcludedFromEvent_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("type");

    QTest::newRow("POST") << QByteArray("POST") << u"created"_s;
    QTest::newRow("PATCH") << QByteArray("PATCH") << u"updated"_s;
    QTest::newRow("PUT") << QByteArray("PUT") << u"updated"_s;
    QTest::newRow("DELETE") << QByteArray("DELETE") << u"deleted"_s;
}

void tst_Models::clientIdExcludedFromEvent()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, type);
    QCOMPARE(createUser(u"ann@example.com"_s, u"Ann"_s), 1);
    auto origin = openClient(u"/ws/users?client_id=tab-c"_s);
    auto other = openClient(u"/ws/users?client_id=tab-d"_s);
    auto anonymous = openClient(u"/ws/users"_s);
    QVERIFY(origin && other && anonymous);

    const Headers from{{"X-Client-Id", "tab-c"}};
    HttpResult r;
    if (method == "POST")
        r = sendJson(method, u"/users/"_s, QJsonObject{{"email"_L1, "b@example.com"_L1}, {"name"_L1, "B"_L1}},
                     from);
    else if (method == "DELETE")
        r = send(method, u"/users/1"_s, {}, from);
    else
        r = sendJson(method, u"/users/1"_s, QJsonObject{{"name"_L1, "Ann B"_L1}}, from);
    QVERIFY2(r.status == 200 || r.status == 201, r.body.constData());
    const auto seenByOther = other->waitFor(type);
    QVERIFY(seenByOther);
    QVERIFY(anonymous->waitFor(type));

    // The originator's next event is the following change's: it never got its own.
    const HttpResult next =
        sendJson("POST", u"/users/"_s, QJsonObject{{"email"_L1, "next@example.com"_L1}, {"name"_L1, "N"_L1}});
    QCOMPARE(next.status, 201);
    QTRY_COMPARE(modelEvents(origin->frames()).size(), 1);
    QCOMPARE(modelEvents(origin->frames()).constFirst().value("data"_L1).toObject(), next.json());
    QTRY_COMPARE(modelEvents(other->frames()).size(), 1);
    QCOMPARE(modelEvents(other->frames()).constFirst().value("data"_L1).toObject(), next.json());
}

void tst_Models::postsEventsOnlyOnPostsChannel()
{
    auto users = openClient(u"/ws/users"_s);
    auto posts = openClient(u"/ws/posts"_s);
    QVERIFY(users && posts);

    const qint64 author = createUser(u"ann@example.com"_s, u"Ann"_s);
    QVERIFY(author > 0);
    const HttpResult created =
        sendJson("POST", u"/posts/"_s, QJsonObject{{"user_id"_L1, author}, {"title"_L1, "Hello"_L1}});
    QCOMPARE(created.status, 201);
    const qint64 postId = created.json().value("id"_L1).toInteger();
    const HttpResult patched =
        sendJson("PATCH", u"/posts/%1"_s.arg(postId), QJsonObject{{"published"_L1, true}});
    QCOMPARE(patched.status, 200);
    QCOMPARE(send("DELETE", u"/posts/%1"_s.arg(postId)).status, 200);
    // A users event after the posts events: the users client's events are exactly its two.
    QCOMPARE(sendJson("PATCH", u"/users/%1"_s.arg(author), QJsonObject{{"name"_L1, "Ann B"_L1}}).status, 200);

    QTRY_COMPARE(modelEvents(posts->frames()).size(), 3);
    QTRY_COMPARE(modelEvents(users->frames()).size(), 2);
    const QList<QJsonObject> postEvents = modelEvents(posts->frames());
    QCOMPARE(postEvents.at(0).value("type"_L1).toString(), u"created"_s);
    QCOMPARE(postEvents.at(0).value("data"_L1).toObject(), created.json());
    QCOMPARE(postEvents.at(1).value("type"_L1).toString(), u"updated"_s);
    QCOMPARE(postEvents.at(1).value("data"_L1).toObject(), patched.json());
    QCOMPARE(postEvents.at(2).value("type"_L1).toString(), u"deleted"_s);
    QCOMPARE(postEvents.at(2).value("data"_L1).toObject(), (QJsonObject{{"id"_L1, postId}}));
    for (const QJsonObject &e : postEvents) {
        QCOMPARE(e.keys(), eventFrameKeys());
        QCOMPARE(e.value("model"_L1).toString(), u"posts"_s);
        QCOMPARE(e.value("channel"_L1).toString(), u"posts"_s);
    }
    for (const QJsonObject &e : modelEvents(users->frames())) {
        QCOMPARE(e.value("model"_L1).toString(), u"users"_s);
        QCOMPARE(e.value("channel"_L1).toString(), u"users"_s);
    }
    // The posts client had no users event: a marker published after everything comes right after its three.
    QCOMPARE(sendJson("POST", u"/api/channels/posts/events"_s, QJsonObject{{"type"_L1, "marker"_L1}}).status,
             202);
    QTRY_COMPARE(posts->frames().size(), 4);
    QCOMPARE(posts->frames().constLast().value("type"_L1).toString(), u"marker"_s);
}

// ---------------------------------------------------------------------------------------------------------
// 4. Seed 004's React and Vue examples

void tst_Models::seed004ListClient_data()
{
    QTest::addColumn<int>("flavour");
    QTest::addColumn<bool>("live");

    QTest::newRow("react, changes while joining") << int(Seed004ListClient::Flavour::React) << false;
    QTest::newRow("react, while joining and live") << int(Seed004ListClient::Flavour::React) << true;
    QTest::newRow("vue, changes while joining") << int(Seed004ListClient::Flavour::Vue) << false;
    QTest::newRow("vue, while joining and live") << int(Seed004ListClient::Flavour::Vue) << true;
}

void tst_Models::seed004ListClient()
{
    QFETCH(int, flavour);
    QFETCH(bool, live);
    for (int i = 1; i <= 4; ++i)
        QCOMPARE(createUser(u"before%1@example.com"_s.arg(i), u"Before %1"_s.arg(i)), i);

    Seed004ListClient page{Seed004ListClient::Flavour(flavour)};
    page.openSocket(m_port);
    // While the socket is still connecting: some of these are announced before it is subscribed (the initial
    // list covers them), some after.
    qint64 joining1 = createUser(u"joining1@example.com"_s, u"Joining 1"_s);
    QVERIFY(joining1 > 0);
    QCOMPARE(sendJson("PATCH", u"/users/1"_s, QJsonObject{{"name"_L1, "Before 1, renamed"_L1}}).status, 200);
    QCOMPARE(send("DELETE", u"/users/2"_s).status, 200);
    // The page is open (ws.onopen), its fetch has not been answered yet.
    QTRY_VERIFY(page.greeted());
    const qint64 joining2 = createUser(u"joining2@example.com"_s, u"Joining 2"_s);
    QVERIFY(joining2 > 0);
    QCOMPARE(sendJson("PUT", u"/users/%1"_s.arg(joining2), QJsonObject{{"is_active"_L1, false}}).status, 200);
    QCOMPARE(send("DELETE", u"/users/%1"_s.arg(joining1)).status, 200);
    QCOMPARE(sendJson("PATCH", u"/users/3"_s, QJsonObject{{"email"_L1, "three@example.com"_L1}}).status, 200);
    const qint64 joining3 = createUser(u"joining3@example.com"_s, u"Joining 3"_s);
    QVERIFY(joining3 > 0);
    const QJsonArray whenFetched = listOf(u"/users/"_s);

    page.loadInitialUsers(m_port);
    QTRY_VERIFY(page.loaded());
    QCOMPARE(page.loadedList(), whenFetched);
    QVERIFY(page.appliedBeforeLoad() >= 5); // the events after ws.onopen, overwritten by the list

    if (live) {
        const qint64 live1 = createUser(u"live1@example.com"_s, u"Live 1"_s);
        QVERIFY(live1 > 0);
        QCOMPARE(sendJson("PATCH", u"/users/%1"_s.arg(live1), QJsonObject{{"name"_L1, "Live 1, renamed"_L1}})
                     .status,
                 200);
        QCOMPARE(sendJson("PATCH", u"/users/4"_s, QJsonObject{{"is_active"_L1, false}}).status, 200);
        QCOMPARE(send("DELETE", u"/users/3"_s).status, 200);
        QCOMPARE(send("DELETE", u"/users/%1"_s.arg(joining3)).status, 200);
        QVERIFY(createUser(u"live2@example.com"_s, u"Live 2"_s) > 0);
    }

    const HttpResult final = send("GET", u"/users/"_s);
    QCOMPARE(final.status, 200);
    QTRY_COMPARE(page.lastEventId(), lastIdOf(final));
    QCOMPARE(page.usersArray(), parseArray(final.body));
    if (live) {
        QCOMPARE(page.appliedAfterLoad(), 6);
        QVERIFY(parseArray(final.body) != whenFetched);
    } else {
        QCOMPARE(page.appliedAfterLoad(), 0);
        QCOMPARE(page.usersArray(), whenFetched);
    }
}

// ---------------------------------------------------------------------------------------------------------
// 5. Late joiner

void tst_Models::lateJoinerWhileAnotherThreadWrites()
{
    for (int i = 1; i <= 5; ++i)
        QCOMPARE(createUser(u"rest%1@example.com"_s.arg(i), u"Rest %1"_s.arg(i)), i);

    // Another thread keeps creating, updating and deleting users exactly as ModelApi commits them: the record
    // write and its event in one publish.
    Herald::Hub *hub = m_server->hub();
    std::atomic<bool> stop{false};
    std::atomic<bool> failed{false};
    std::atomic<int> progress{0};
    QList<qint64> published; // the writer's event ids; read after join
    std::thread writer([&] {
        QList<QJsonObject> live;
        for (int i = 0; !stop.load() && i < 200000; ++i) {
            Herald::Message m;
            m.channel = u"users"_s;
            m.extra.insert("model"_L1, u"users"_s);
            Herald::RecordWrite write;
            write.model = u"users"_s;
            const QString now = Herald::nowTimestamp();
            if (i % 3 == 0 || live.size() < 3) {
                const auto id = hub->store()->records()->allocateRecordId(u"users"_s);
                if (!id) {
                    failed.store(true);
                    break;
                }
                const QJsonObject record{{"id"_L1, *id},
                                         {"email"_L1, u"writer%1@example.com"_s.arg(*id)},
                                         {"name"_L1, u"Writer %1"_s.arg(i)},
                                         {"is_active"_L1, true},
                                         {"created_at"_L1, now},
                                         {"updated_at"_L1, now}};
                live.append(record);
                write.id = *id;
                write.data = record;
                m.type = u"created"_s;
                m.data = record;
            } else if (i % 3 == 1) {
                QJsonObject &record = live.last();
                record.insert("name"_L1,
                              u"Writer %1, renamed at %2"_s.arg(record.value("id"_L1).toInteger()).arg(i));
                record.insert("updated_at"_L1, now);
                write.id = record.value("id"_L1).toInteger();
                write.data = record;
                m.type = u"updated"_s;
                m.data = record;
            } else {
                const QJsonObject record = live.takeFirst();
                write.op = Herald::RecordWrite::Op::Delete;
                write.id = record.value("id"_L1).toInteger();
                m.type = u"deleted"_s;
                m.data = QJsonObject{{"id"_L1, write.id}};
            }
            const auto id = hub->publish(std::move(m), {}, &write);
            if (!id) {
                failed.store(true);
                break;
            }
            published.append(*id);
            progress.store(i + 1);
        }
        hub->store()->releaseThreadConnection();
    });
    ThreadGuard guard{stop, writer};

    QTRY_VERIFY(progress.load() > 100 || failed.load());
    const HttpResult listed = send("GET", u"/users/"_s);
    const int afterList = progress.load();
    QCOMPARE(listed.status, 200);
    const qint64 since = lastIdOf(listed);
    QVERIFY(since > 0);
    // REST changes too, between the list and the join.
    QCOMPARE(sendJson("PATCH", u"/users/1"_s, QJsonObject{{"name"_L1, "Rest 1, renamed"_L1}}).status, 200);
    QCOMPARE(send("DELETE", u"/users/2"_s).status, 200);
    QVERIFY(createUser(u"rest6@example.com"_s, u"Rest 6"_s) > 0);

    WsClient joiner;
    QVERIFY(joiner.open(m_port, u"/ws/users?since=%1"_s.arg(since)));
    const auto notice = joiner.waitFor(u"replay"_s);
    QVERIFY(notice);
    const int atJoin = progress.load();
    QTRY_VERIFY(progress.load() > atJoin + 100 || failed.load()); // and it goes on while the joiner is live
    stop.store(true);
    writer.join();
    QVERIFY(!failed.load());
    QCOMPARE(notice->value("recovered"_L1).toBool(), true);
    QCOMPARE(notice->value("since"_L1).toInteger(), since);
    QVERIFY2(afterList < atJoin, "the writer made no change between the list and the join");

    const HttpResult final = send("GET", u"/users/"_s);
    const qint64 finalId = lastIdOf(final);
    QTRY_VERIFY_WITH_TIMEOUT(lastFrameId(joiner.frames()) == finalId, 30000);
    const QList<QJsonObject> events = modelEvents(joiner.frames());

    // Exactly the changes after the list, in order: the writer's after `since` plus the three REST ones.
    QList<qint64> expectedWriterIds;
    for (qint64 id : std::as_const(published)) {
        if (id > since)
            expectedWriterIds.append(id);
    }
    const QList<qint64> ids = eventIds(events);
    QCOMPARE(ids.size(), expectedWriterIds.size() + 3);
    QVERIFY(ascendingAfter(ids, since));
    for (qint64 id : std::as_const(expectedWriterIds))
        QVERIFY(ids.contains(id));

    // List + events after it == final state; every event applies to the state it follows.
    QMap<qint64, QJsonObject> state;
    for (const QJsonValue &v : parseArray(listed.body))
        state.insert(v.toObject().value("id"_L1).toInteger(), v.toObject());
    const QString misfit = applyEvents(state, events);
    QVERIFY2(misfit.isEmpty(), qPrintable(misfit));
    QCOMPARE(recordsOf(state), parseArray(final.body));
}

void tst_Models::lateJoinerWhileRequestsInFlight()
{
    for (int i = 1; i <= 8; ++i)
        QCOMPARE(createUser(u"s%1@example.com"_s.arg(i), u"Setup %1"_s.arg(i)), i);
    // Certainly before the list.
    QVERIFY(createUser(u"early@example.com"_s, u"Early"_s) > 0);
    QCOMPARE(sendJson("PATCH", u"/users/1"_s, QJsonObject{{"name"_L1, "Setup 1, early"_L1}}).status, 200);

    // A burst of changes with the list in the middle of it, all in flight at once: the server orders them.
    QNetworkAccessManager nam;
    QList<QNetworkReply *> burst;
    auto request = [this](const QString &path) {
        QNetworkRequest r(QUrl(u"http://127.0.0.1:%1%2"_s.arg(m_port).arg(path)));
        r.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
        return r;
    };
    QNetworkReply *list = nullptr;
    for (int i = 0; i < 4; ++i) {
        burst.append(nam.post(request(u"/users/"_s),
                              Herald::compactJson({{"email"_L1, u"flight%1@example.com"_s.arg(i)},
                                                   {"name"_L1, u"Flight %1"_s.arg(i)}})));
        burst.append(
            nam.sendCustomRequest(request(u"/users/%1"_s.arg(2 + i)), "PATCH",
                                  Herald::compactJson({{"name"_L1, u"Setup %1, in flight"_s.arg(2 + i)}})));
        if (i == 2)
            list = nam.get(request(u"/users/"_s));
        if (i < 2)
            burst.append(nam.deleteResource(request(u"/users/%1"_s.arg(6 + i))));
    }
    QTRY_VERIFY(list->isFinished());
    for (QNetworkReply *r : std::as_const(burst))
        QTRY_VERIFY(r->isFinished());
    for (QNetworkReply *r : std::as_const(burst)) {
        const int status = r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        QVERIFY2(status == 200 || status == 201, r->readAll().constData());
    }
    QCOMPARE(list->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
    const qint64 since = list->rawHeader("X-Herald-Last-Id").toLongLong();
    const QJsonArray listed = parseArray(list->readAll());
    QVERIFY(since > 0);

    // Certainly after the list.
    QVERIFY(createUser(u"late@example.com"_s, u"Late"_s) > 0);
    QCOMPARE(sendJson("PATCH", u"/users/8"_s, QJsonObject{{"name"_L1, "Setup 8, late"_L1}}).status, 200);
    QCOMPARE(send("DELETE", u"/users/1"_s).status, 200);

    // How many of the burst the list already shows: the joiner must get exactly the others, plus the late 3.
    QMap<qint64, QJsonObject> state;
    QSet<QString> emails;
    for (const QJsonValue &v : listed) {
        state.insert(v.toObject().value("id"_L1).toInteger(), v.toObject());
        emails.insert(v.toObject().value("email"_L1).toString());
    }
    int reflected = 0;
    for (int i = 0; i < 4; ++i) {
        reflected += emails.contains(u"flight%1@example.com"_s.arg(i)) ? 1 : 0;
        reflected += state.value(2 + i).value("name"_L1).toString().endsWith("in flight"_L1) ? 1 : 0;
    }
    reflected += (state.contains(6) ? 0 : 1) + (state.contains(7) ? 0 : 1);
    qInfo("the list saw %d of the 10 changes in flight", reflected);

    auto joiner = std::make_unique<WsClient>();
    QVERIFY(joiner->open(m_port, u"/ws/users?since=%1"_s.arg(since)));
    const HttpResult final = send("GET", u"/users/"_s);
    QTRY_COMPARE(lastFrameId(joiner->frames()), lastIdOf(final));
    const QList<QJsonObject> events = modelEvents(joiner->frames());
    QCOMPARE(events.size(), 10 - reflected + 3);
    const QList<qint64> ids = eventIds(events);
    QVERIFY(ascendingAfter(ids, since));
    const QString misfit = applyEvents(state, events);
    QVERIFY2(misfit.isEmpty(), qPrintable(misfit));
    QCOMPARE(recordsOf(state), parseArray(final.body));
    qDeleteAll(burst);
    delete list;
}

// ---------------------------------------------------------------------------------------------------------
// 6. Custom events and global broadcast

void tst_Models::customEvent_data()
{
    QTest::addColumn<QString>("channel");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("clientPath");
    QTest::addColumn<QString>("greeting");
    QTest::addColumn<QString>("bystanderPath");
    QTest::addColumn<bool>("modelChannel");

    const QJsonObject login{{"user_id"_L1, 123}, {"timestamp"_L1, "2025-12-04T10:00:00"_L1}};
    QTest::newRow("\"type\"") << u"users"_s
                              << Herald::compactJson({{"type"_L1, "user_login"_L1}, {"data"_L1, login}})
                              << u"/ws/users"_s << u"connection"_s << u"/ws/posts"_s << true;
    QTest::newRow("\"event\"") << u"users"_s
                               << Herald::compactJson({{"event"_L1, "user_login"_L1}, {"data"_L1, login}})
                               << u"/ws/users"_s << u"connection"_s << u"/ws/posts"_s << true;
    QTest::newRow("posts") << u"posts"_s
                           << Herald::compactJson({{"type"_L1, "post_viewed"_L1},
                                                   {"data"_L1, QJsonObject{{"post_id"_L1, 7}}}})
                           << u"/ws/posts"_s << u"connection"_s << u"/ws/users"_s << true;
    QTest::newRow("not a model channel")
        << u"news"_s
        << Herald::compactJson({{"type"_L1, "headline"_L1}, {"data"_L1, QJsonObject{{"text"_L1, "hi"_L1}}}})
        << u"/ws?channels=news"_s << u"connected"_s << u"/ws/users"_s << false;
}

void tst_Models::customEvent()
{
    QFETCH(QString, channel);
    QFETCH(QByteArray, body);
    QFETCH(QString, clientPath);
    QFETCH(QString, greeting);
    QFETCH(QString, bystanderPath);
    QFETCH(bool, modelChannel);
    auto subscriber = openClient(clientPath, greeting);
    auto bystander = openClient(bystanderPath);
    QVERIFY(subscriber && bystander);

    const HttpResult r = send("POST", u"/api/channels/%1/events"_s.arg(channel), body);
    QCOMPARE(r.status, 202);
    QCOMPARE(r.json().keys(), (QStringList{u"channel"_s, u"id"_s}));
    QCOMPARE(r.json().value("channel"_L1).toString(), channel);
    const QJsonObject sent = parseObject(body);
    const QString type = sent.value(sent.contains("type"_L1) ? "type"_L1 : "event"_L1).toString();
    const auto frame = subscriber->waitFor(type);
    QVERIFY(frame);
    QStringList keys = {u"channel"_s, u"data"_s, u"id"_s, u"timestamp"_s, u"type"_s};
    if (modelChannel)
        keys = eventFrameKeys();
    QCOMPARE(frame->keys(), keys);
    QCOMPARE(frame->value("id"_L1), r.json().value("id"_L1));
    QCOMPARE(frame->value("channel"_L1).toString(), channel);
    if (modelChannel)
        QCOMPARE(frame->value("model"_L1).toString(), channel);
    QCOMPARE(frame->value("data"_L1), sent.value("data"_L1));
    QVERIFY(isTimestamp(frame->value("timestamp"_L1)));

    // Nothing reached the other model channel: its next frame is its own marker.
    const QString other = bystanderPath.mid(4);
    const HttpResult marker =
        sendJson("POST", u"/api/channels/%1/events"_s.arg(other), QJsonObject{{"type"_L1, "marker"_L1}});
    QCOMPARE(marker.status, 202);
    QVERIFY(bystander->waitFor(u"marker"_s));
    QCOMPARE(bystander->frames(), QList<QJsonObject>());
}

void tst_Models::customEventErrors_data()
{
    QTest::addColumn<QString>("channel");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("code");

    QTest::newRow("missing type") << u"users"_s << QByteArray(R"({"data":{"user_id":123}})") << 422
                                  << u"bad_request"_s;
    QTest::newRow("type: 5") << u"users"_s << QByteArray(R"({"type":5})") << 422 << u"bad_request"_s;
    QTest::newRow("event: 5") << u"users"_s << QByteArray(R"({"event":5})") << 422 << u"bad_request"_s;
    QTest::newRow("type null") << u"users"_s << QByteArray(R"({"type":null,"data":{}})") << 422
                               << u"bad_request"_s;
    QTest::newRow("bad channel *") << u"bad*channel"_s << QByteArray(R"({"type":"user_login"})") << 422
                                   << u"bad_channel"_s;
    QTest::newRow("bad channel ,") << u"a,b"_s << QByteArray(R"({"type":"user_login"})") << 422
                                   << u"bad_channel"_s;
    QTest::newRow("channel too long")
        << QString(129, u'c') << QByteArray(R"({"type":"user_login"})") << 422 << u"bad_channel"_s;
    QTest::newRow("invalid json") << u"users"_s << QByteArray(R"({"type":)") << 400 << u"invalid_json"_s;
}

void tst_Models::customEventErrors()
{
    QFETCH(QString, channel);
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QString, code);
    auto users = openClient(u"/ws/users"_s);
    QVERIFY(users);
    const HttpResult r = send("POST", u"/api/channels/%1/events"_s.arg(channel), body);
    QCOMPARE(r.status, status);
    QCOMPARE(r.json().value("error"_L1).toString(), code);
    QCOMPARE(m_server->hub()->lastId(), 0);
    QCOMPARE(sendJson("POST", u"/api/channels/users/events"_s, QJsonObject{{"type"_L1, "marker"_L1}}).status,
             202);
    QVERIFY(users->waitFor(u"marker"_s));
    QCOMPARE(users->frames(), QList<QJsonObject>());
}

void tst_Models::broadcastReachesEveryClient()
{
    auto users = openClient(u"/ws/users"_s);
    auto posts = openClient(u"/ws/posts"_s);
    auto native = openClient(u"/ws?channels=news"_s, u"connected"_s);
    QVERIFY(users && posts && native);
    WsClient chat; // seed 001's /ws/{client_id}
    QVERIFY(chat.open(m_port, u"/ws/tab-9"_s));
    QTRY_COMPARE(m_server->hub()->counts().clients, 4);

    const HttpResult r =
        send("POST", u"/api/broadcast"_s,
             QByteArray(R"({"type":"maintenance","message":"Server will restart in 5 minutes"})"));
    QCOMPARE(r.status, 202);
    QCOMPARE(r.json().value("channel"_L1).toString(), u"broadcast"_s);
    const qint64 id = r.json().value("id"_L1).toInteger();
    QVERIFY(id > 0);
    for (WsClient *c : {users.get(), posts.get(), native.get(), &chat}) {
        const auto frame = c->waitFor(u"maintenance"_s);
        QVERIFY(frame);
        QCOMPARE(frame->value("message"_L1).toString(), u"Server will restart in 5 minutes"_s);
        QCOMPARE(frame->value("id"_L1).toInteger(), id);
        QCOMPARE(frame->keys(),
                 (QStringList{u"channel"_s, u"id"_s, u"message"_s, u"timestamp"_s, u"type"_s}));
    }
}

// ---------------------------------------------------------------------------------------------------------
// 7. A third model

void tst_Models::thirdModelIsADeclaration()
{
    // Without the declaration there is no such collection.
    QCOMPARE(send("GET", u"/tags/"_s).status, 404);

    startServer([](Herald::ServerConfig &c) { c.models = Herald::builtinModels() << tagsModel(); });
    auto tags = std::make_unique<WsClient>();
    QVERIFY(tags->open(m_port, u"/ws/tags"_s));
    const auto hello = tags->waitFor(u"connection"_s);
    QVERIFY(hello);
    QCOMPARE(hello->value("message"_L1).toString(), u"Connected to channel: tags"_s);
    QCOMPARE(hello->value("channel"_L1).toString(), u"tags"_s);

    // Create: defaults, Location, event.
    HttpResult r = sendJson("POST", u"/tags/"_s, QJsonObject{{"name"_L1, "urgent"_L1}, {"weight"_L1, 3}});
    QCOMPARE(r.status, 201);
    QCOMPARE(headerValue(r, "Location"), QByteArray("/tags/1"));
    const QJsonObject urgent = r.json();
    QCOMPARE(urgent.keys(),
             (QStringList{u"color"_s, u"created_at"_s, u"id"_s, u"name"_s, u"updated_at"_s, u"weight"_s}));
    QCOMPARE(urgent.value("color"_L1).toString(), u"grey"_s);
    QCOMPARE(urgent.value("weight"_L1).toInteger(), 3);
    auto created = tags->waitFor(u"created"_s);
    QVERIFY(created);
    QCOMPARE(created->keys(), eventFrameKeys());
    QCOMPARE(created->value("model"_L1).toString(), u"tags"_s);
    QCOMPARE(created->value("channel"_L1).toString(), u"tags"_s);
    QCOMPARE(created->value("data"_L1).toObject(), urgent);

    r = sendJson("POST", u"/tags"_s, QJsonObject{{"name"_L1, "later"_L1}, {"color"_L1, "blue"_L1}});
    QCOMPARE(r.status, 201);
    const QJsonObject later = r.json();
    QCOMPARE(later.value("id"_L1).toInteger(), 2);
    QCOMPARE(later.value("color"_L1).toString(), u"blue"_s);
    QVERIFY(tags->waitFor(u"created"_s));

    // Validation and uniqueness follow the declaration.
    const QList<QPair<QJsonObject, QString>> invalid = {
        {QJsonObject{{"name"_L1, QString(41, u'n')}}, u"name"_s},
        {QJsonObject{{"name"_L1, "x"_L1}, {"weight"_L1, "3"_L1}}, u"weight"_s},
        {QJsonObject{{"name"_L1, "x"_L1}, {"weight"_L1, 1.5}}, u"weight"_s},
        {QJsonObject{{"name"_L1, "x"_L1}, {"color"_L1, 7}}, u"color"_s},
        {QJsonObject{{"name"_L1, "x"_L1}, {"size"_L1, 1}}, u"size"_s},
        {QJsonObject{{"weight"_L1, 1}}, u"name"_s},
    };
    for (const auto &[body, field] : invalid) {
        r = sendJson("POST", u"/tags/"_s, body);
        QCOMPARE(r.status, 422);
        QCOMPARE(errorFields(r.json()), QStringList{field});
    }
    QCOMPARE(sendJson("POST", u"/tags/"_s, QJsonObject{{"name"_L1, QString(40, u'n')}}).status, 201);
    r = sendJson("POST", u"/tags/"_s, QJsonObject{{"name"_L1, "urgent"_L1}});
    QCOMPARE(r.status, 409);
    QCOMPARE(r.json().value("error"_L1).toString(), u"conflict"_s);
    QCOMPARE(sendJson("PATCH", u"/tags/2"_s, QJsonObject{{"name"_L1, "urgent"_L1}}).status, 409);
    QCOMPARE(sendJson("PATCH", u"/tags/2"_s, QJsonObject{{"weight"_L1, "heavy"_L1}}).status, 422);

    // Update, list, delete, and their events.
    r = sendJson("PATCH", u"/tags/1"_s, QJsonObject{{"color"_L1, "red"_L1}});
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("color"_L1).toString(), u"red"_s);
    QCOMPARE(r.json().value("weight"_L1).toInteger(), 3);
    const auto updated = tags->waitFor(u"updated"_s);
    QVERIFY(updated);
    QCOMPARE(updated->value("data"_L1).toObject(), r.json());
    QCOMPARE(idsIn(listOf(u"/tags/"_s)), QList<qint64>({1, 2, 3}));
    QCOMPARE(idsIn(listOf(u"/tags/?limit=1&offset=1"_s)), QList<qint64>({2}));
    r = send("DELETE", u"/tags/2"_s);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("message"_L1).toString(), u"Tag deleted"_s);
    const auto deleted = tags->waitFor(u"deleted"_s);
    QVERIFY(deleted);
    QCOMPARE(deleted->value("data"_L1).toObject(), (QJsonObject{{"id"_L1, 2}}));
    QCOMPARE(send("GET", u"/tags/2"_s).status, 404);
    QCOMPARE(send("GET", u"/tags/x"_s).status, 422);
    QCOMPARE(send("DELETE", u"/tags/"_s).status, 405);
    QCOMPARE(headerValue(send("OPTIONS", u"/tags/1"_s), "Access-Control-Allow-Methods"),
             QByteArray("GET, PATCH, PUT, DELETE, OPTIONS"));

    // The built-in models are untouched, and tags events stay on tags.
    auto users = openClient(u"/ws/users"_s);
    QVERIFY(users);
    QCOMPARE(createUser(u"ann@example.com"_s, u"Ann"_s), 1);
    QVERIFY(users->waitFor(u"created"_s));
    QCOMPARE(sendJson("POST", u"/api/channels/tags/events"_s, QJsonObject{{"type"_L1, "marker"_L1}}).status,
             202);
    QVERIFY(tags->waitFor(u"marker"_s));
    QCOMPARE(modelEvents(tags->frames()).size(), 1); // the third create's, nothing of users

    // An optional field with no default that was not given is left out of the record, as
    // FieldSpec::defaultValue documents ("Undefined: none, the field is left out").
    QCOMPARE(later.keys(), (QStringList{u"color"_s, u"created_at"_s, u"id"_s, u"name"_s, u"updated_at"_s}));
}

// ---------------------------------------------------------------------------------------------------------
// 8. Persistence

void tst_Models::recordsSurviveRestart()
{
    QCOMPARE(createUser(u"ann@example.com"_s, u"Ann"_s), 1);
    QCOMPARE(createUser(u"bob@example.com"_s, u"Bob"_s), 2);
    QCOMPARE(createPost(1, u"Hello"_s), 1);
    QCOMPARE(sendJson("PATCH", u"/users/2"_s, QJsonObject{{"name"_L1, "Bob B"_L1}, {"is_active"_L1, false}})
                 .status,
             200);
    const HttpResult usersBefore = send("GET", u"/users/"_s);
    const QJsonArray postsBefore = listOf(u"/posts/"_s);
    const qint64 lastBefore = lastIdOf(usersBefore);
    QCOMPARE(parseArray(usersBefore.body).size(), 2);

    startServer();
    const HttpResult usersAfter = send("GET", u"/users/"_s);
    QCOMPARE(parseArray(usersAfter.body), parseArray(usersBefore.body));
    QCOMPARE(listOf(u"/posts/"_s), postsBefore);
    QCOMPARE(lastIdOf(usersAfter), lastBefore);
    QCOMPARE(send("GET", u"/users/2"_s).json(), parseArray(usersBefore.body).at(1).toObject());

    // Constraints still see the old records; the next record and the next event carry on.
    QCOMPARE(
        sendJson("POST", u"/users/"_s, QJsonObject{{"email"_L1, "ANN@example.com"_L1}, {"name"_L1, "A"_L1}})
            .status,
        409);
    QCOMPARE(send("DELETE", u"/users/1"_s).status, 409);
    auto users = openClient(u"/ws/users"_s);
    QVERIFY(users);
    QCOMPARE(createUser(u"cy@example.com"_s, u"Cy"_s), 3);
    const auto created = users->waitFor(u"created"_s);
    QVERIFY(created);
    QVERIFY(created->value("id"_L1).toInteger() > lastBefore);

    // A joiner that saw the list before the restart resumes from its id.
    auto joiner = openClient(u"/ws/users?since=%1"_s.arg(lastBefore));
    QVERIFY(joiner);
    QTRY_COMPARE(modelEvents(joiner->frames()).size(), 1);
    QCOMPARE(modelEvents(joiner->frames()).constFirst().value("data"_L1), created->value("data"_L1));
}

void tst_Models::idsNeverReused_data()
{
    namedRows("model", {"users", "posts"});
}

void tst_Models::idsNeverReused()
{
    QFETCH(QString, model);
    QVERIFY(createUser(u"author@example.com"_s, u"Author"_s) > 0);
    int serial = 0;
    auto create = [&]() -> qint64 {
        ++serial;
        if (model == "users"_L1)
            return createUser(u"u%1@example.com"_s.arg(serial), u"U%1"_s.arg(serial));
        return createPost(1, u"P%1"_s.arg(serial));
    };
    const qint64 base = model == "users"_L1 ? 1 : 0; // the author is users/1
    QCOMPARE(create(), base + 1);
    QCOMPARE(create(), base + 2);
    QCOMPARE(send("DELETE", u"/%1/%2"_s.arg(model).arg(base + 2)).status, 200);
    QCOMPARE(create(), base + 3); // not base + 2 again
    QCOMPARE(send("DELETE", u"/%1/%2"_s.arg(model).arg(base + 3)).status, 200);
    QCOMPARE(send("DELETE", u"/%1/%2"_s.arg(model).arg(base + 1)).status, 200);
    QCOMPARE(idsIn(listOf(u"/%1/"_s.arg(model))), model == "users"_L1 ? QList<qint64>{1} : QList<qint64>{});
    QCOMPARE(create(), base + 4); // the collection was empty (but for the author): still no reuse

    // Nor after a restart, even with the highest id deleted.
    QCOMPARE(send("DELETE", u"/%1/%2"_s.arg(model).arg(base + 4)).status, 200);
    startServer();
    QCOMPARE(create(), base + 5);
    QCOMPARE(send("GET", u"/%1/%2"_s.arg(model).arg(base + 4)).status, 404);
}

QTEST_GUILESS_MAIN(tst_Models)
#include "tst_models.moc"
