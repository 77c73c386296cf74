#include "adminclient.h"
#include "composepanel.h"
#include "mainwindow.h"
#include "messagemodel.h"
#include "restapi.h"
#include "scheduledview.h"
#include "server.h"
#include "settings.h"
#include "testclient.h"
#include "testserver.h"

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QFont>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTabWidget>
#include <QTableView>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

using namespace Qt::StringLiterals;
using namespace HeraldTest;
using namespace Herald;

namespace {
QJsonObject object(const char *text)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray(text), &error);
    if (!doc.isObject())
        qWarning("bad fixture %s: %s", text, qPrintable(error.errorString()));
    return doc.object();
}

Message makeMessage(qint64 id, const QString &channel, const QString &text)
{
    Message m;
    m.id = id;
    m.channel = channel;
    m.type = u"message"_s;
    m.message = text;
    m.timestamp = QDateTime::currentDateTimeUtc();
    return m;
}

Message update(qint64 id, const QString &channel, qint64 replaces, const QString &text)
{
    Message m = makeMessage(id, channel, text);
    m.notification.replaces = replaces;
    return m;
}

Message withdrawal(qint64 id, const QString &channel, qint64 withdraws)
{
    Message m;
    m.id = id;
    m.channel = channel;
    m.type = u"withdrawn"_s;
    m.timestamp = QDateTime::currentDateTimeUtc();
    m.notification.withdraws = withdraws;
    return m;
}

MessageStates states(const MessageModel &model, int row)
{
    return MessageStates::fromInt(model.index(row, 0).data(MessageModel::StateRole).toInt());
}

// Stands in for a server's REST side where the real one cannot say what a test needs (a list that changes
// between two requests): answers each request with what `answer` returns and records what it was asked.
class FakeRest : public QObject
{
public:
    struct Request
    {
        QByteArray method;
        QByteArray path; // without the query
        QByteArray query;
        QByteArray authorization;
    };
    std::function<std::pair<int, QByteArray>(const Request &)> answer;
    QList<Request> requests;

    bool listen()
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *s = m_server.nextPendingConnection()) {
                connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
                connect(s, &QTcpSocket::readyRead, this, [this, s] { read(s); });
            }
        });
        return m_server.listen(QHostAddress::LocalHost, 0);
    }
    QUrl feedUrl() const { return QUrl(u"ws://127.0.0.1:%1/ws/server"_s.arg(m_server.serverPort())); }

private:
    void read(QTcpSocket *s)
    {
        QByteArray &buffer = m_buffers[s];
        buffer += s->readAll();
        const qsizetype end = buffer.indexOf("\r\n\r\n");
        if (end < 0)
            return;
        const QList<QByteArray> lines = buffer.left(end).split('\n');
        const QList<QByteArray> first = lines.value(0).trimmed().split(' ');
        const QByteArray target = first.value(1);
        const qsizetype q = target.indexOf('?');
        Request r{
            first.value(0), q < 0 ? target : target.left(q), q < 0 ? QByteArray() : target.mid(q + 1), {}};
        for (const QByteArray &line : lines) {
            if (line.toLower().startsWith("authorization:"))
                r.authorization = line.mid(14).trimmed();
        }
        requests.append(r);
        m_buffers.remove(s);
        const auto [status, body] = answer(r);
        s->write("HTTP/1.1 " + QByteArray::number(status) +
                 " X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                 QByteArray::number(body.size()) + "\r\n\r\n" + body);
        s->disconnectFromHost();
    }

    QTcpServer m_server;
    QHash<QTcpSocket *, QByteArray> m_buffers;
};
// What the compose panel's fields hold (fill() types it in).
struct Form
{
    int target = ComposePanel::Channel;
    QString recipient = u"news"_s;
    QString title;
    QString text = u"hi"_s;
    int priority = 3;
    QString tags, click, expires, replaces;
    int delivery = ComposePanel::Now;
    QString when;
    QStringList actions; // "kind|label|target|message", kind 1 view, 2 reply
};

void fill(ComposePanel &panel, const Form &form)
{
    const auto edit = [&panel](const QString &name) {
        return panel.findChild<QLineEdit *>(name);
    };
    const auto combo = [&panel](const QString &name) {
        return panel.findChild<QComboBox *>(name);
    };
    combo(u"composeTarget"_s)->setCurrentIndex(form.target);
    edit(u"composeRecipient"_s)->setText(form.recipient);
    edit(u"composeTitle"_s)->setText(form.title);
    edit(u"composeText"_s)->setText(form.text);
    combo(u"composePriority"_s)->setCurrentIndex(form.priority - 1);
    edit(u"composeTags"_s)->setText(form.tags);
    edit(u"composeClick"_s)->setText(form.click);
    edit(u"composeExpires"_s)->setText(form.expires);
    edit(u"composeReplaces"_s)->setText(form.replaces);
    combo(u"composeDelivery"_s)->setCurrentIndex(form.delivery);
    edit(u"composeWhen"_s)->setText(form.when);
    for (int i = 0; i < ComposePanel::ActionRows; ++i) {
        const QStringList parts = form.actions.value(i).split(u'|');
        const QString prefix = u"composeAction%1"_s.arg(i);
        combo(prefix + u"Kind"_s)->setCurrentIndex(parts.value(0).toInt());
        edit(prefix + u"Label"_s)->setText(parts.value(1));
        edit(prefix + u"Target"_s)->setText(parts.value(2));
        edit(prefix + u"Message"_s)->setText(parts.value(3));
    }
}
} // namespace

Q_DECLARE_METATYPE(Form)

// The notification side of the dashboard (issue 20): the compose panel's fields and the server's answers,
// the message table's priority and states (updated, withdrawn, expired, quiet), and the scheduled list.
class tst_DashboardNotify : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void composeBody_data();
    void composeBody();
    void composeShowsRefusalNamingTheField_data();
    void composeShowsRefusalNamingTheField();
    void composePublishesNotificationAndTableUpdatesInPlace();

    void modelPriorityAndQuiet();
    void modelUpdatesInPlace();
    void modelWithdraws();
    void modelFollowsChain();
    void modelExpires();

    void scheduledViewAgainstServer();
    void scheduledViewListsAndCancels();
    void scheduledViewRefusals();

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Herald::Server> m_server;
    quint16 m_port = 0;
    RestEndpoint m_endpoint;
    std::unique_ptr<RestApi> m_rest;
};

void tst_DashboardNotify::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_server = startTestServer(m_dir->filePath(u"data"_s));
    QVERIFY(m_server);
    m_port = m_server->port();
    m_endpoint = {QUrl(u"ws://127.0.0.1:%1/ws/server"_s.arg(m_port)), QString(), u"ops-anna"_s};
    m_rest = std::make_unique<RestApi>([this] { return m_endpoint; });
}

void tst_DashboardNotify::cleanup()
{
    m_rest.reset();
    QVERIFY(stopTestServer(m_server));
    m_dir.reset();
}

void tst_DashboardNotify::composeBody_data()
{
    QTest::addColumn<Form>("form");
    QTest::addColumn<QString>("token");
    QTest::addColumn<QJsonObject>("expected"); // empty: refused with `error`
    QTest::addColumn<QString>("error");

    Form f;
    QTest::newRow("plain: the operator as sender")
        << f << QString() << object(R"({"channel":"news","message":"hi","sender":"ops-anna"})") << QString();
    QTest::newRow("a token names the sender")
        << f << u"secret"_s << object(R"({"channel":"news","message":"hi"})") << QString();
    f = {};
    f.target = ComposePanel::Everyone;
    f.recipient.clear();
    QTest::newRow("broadcast keeps its type")
        << f << u"t"_s << object(R"({"channel":"broadcast","type":"broadcast","message":"hi"})") << QString();
    f = {};
    f.target = ComposePanel::User;
    f.recipient = u"7"_s;
    f.title = u"Build 7"_s;
    f.text.clear();
    QTest::newRow("user, title only")
        << f << u"t"_s << object(R"({"channel":"user:7","title":"Build 7"})") << QString();
    f = {};
    f.priority = 5;
    f.tags = u" ci, build ,, "_s;
    f.click = u" https://ci.example.com/7 "_s;
    QTest::newRow("urgent, tags, click")
        << f << u"t"_s << object(R"({"channel":"news","message":"hi","priority":5,"tags":["ci","build"],
                      "click":"https://ci.example.com/7"})")
        << QString();
    f = {};
    f.priority = 1;
    QTest::newRow("min priority") << f << u"t"_s
                                  << object(R"({"channel":"news","message":"hi","priority":1})") << QString();
    f = {};
    f.actions = {u"1|Open log|https://ci.example.com/7/log|ignored"_s, u"0|not sent|x|y"_s,
                 u"2|Retry|ci.commands|retry 7"_s};
    QTest::newRow("a view and a reply; the empty row skipped")
        << f << u"t"_s << object(R"({"channel":"news","message":"hi","actions":[
                      {"action":"view","label":"Open log","url":"https://ci.example.com/7/log"},
                      {"action":"reply","label":"Retry","channel":"ci.commands","message":"retry 7"}]})")
        << QString();
    f = {};
    f.actions = {u"2|Approve|approvals|"_s, u"1||"_s};
    QTest::newRow("reply without text; a view left for the server to judge")
        << f << u"t"_s << object(R"({"channel":"news","message":"hi","actions":[
                      {"action":"reply","label":"Approve","channel":"approvals"},
                      {"action":"view","label":"","url":""}]})")
        << QString();
    f = {};
    f.expires = u" 10m "_s;
    f.replaces = u"57"_s;
    QTest::newRow("expires and replaces")
        << f << u"t"_s << object(R"({"channel":"news","message":"hi","expires":"10m","replaces":57})")
        << QString();
    f = {};
    f.delivery = ComposePanel::At;
    f.when = u"2030-01-01T00:00:00Z"_s;
    QTest::newRow("at") << f << u"t"_s
                        << object(R"({"channel":"news","message":"hi","at":"2030-01-01T00:00:00Z"})")
                        << QString();
    f = {};
    f.delivery = ComposePanel::Delay;
    f.when = u"30s"_s;
    QTest::newRow("delay") << f << u"t"_s << object(R"({"channel":"news","message":"hi","delay":"30s"})")
                           << QString();
    f = {};
    f.delivery = ComposePanel::Now;
    f.when = u"30s"_s;
    QTest::newRow("now ignores the time")
        << f << u"t"_s << object(R"({"channel":"news","message":"hi"})") << QString();

    f = {};
    f.replaces = u"abc"_s;
    QTest::newRow("replaces not an id")
        << f << u"t"_s << QJsonObject()
        << u"Replaces takes the id of an earlier message (a positive number)."_s;
    f.replaces = u"-3"_s;
    QTest::newRow("replaces negative")
        << f << u"t"_s << QJsonObject()
        << u"Replaces takes the id of an earlier message (a positive number)."_s;
    f = {};
    f.delivery = ComposePanel::Delay;
    QTest::newRow("delay without a time")
        << f << u"t"_s << QJsonObject() << u"Say after how long to deliver it, or choose Now."_s;
    f = {};
    f.text = u"  "_s;
    QTest::newRow("nothing to show") << f << u"t"_s << QJsonObject() << u"Write a message first."_s;
    f = {};
    f.recipient = u"not a channel"_s;
    QTest::newRow("bad channel")
        << f << u"t"_s << QJsonObject()
        << u"A channel name is 1 to 128 characters: letters, digits and _ . : - (no spaces)."_s;
}

void tst_DashboardNotify::composeBody()
{
    QFETCH(Form, form);
    QFETCH(QString, token);
    QFETCH(QJsonObject, expected);
    QFETCH(QString, error);
    m_endpoint.token = token;
    ComposePanel panel(m_rest.get());
    fill(panel, form);
    const auto body = panel.publishBody();
    if (expected.isEmpty()) {
        QVERIFY(!body);
        QCOMPARE(body.error(), error);
        return;
    }
    QVERIFY2(body, qPrintable(body ? QString() : body.error()));
    // As compact JSON (keys sorted), so a difference shows.
    QCOMPARE(QString::fromUtf8(compactJson(*body)), QString::fromUtf8(compactJson(expected)));
}

void tst_DashboardNotify::composeShowsRefusalNamingTheField_data()
{
    QTest::addColumn<Form>("form");
    QTest::addColumn<QString>("field");
    Form f;
    f.click = u"javascript:alert(1)"_s;
    QTest::newRow("click") << f << u"click"_s;
    f = {};
    f.tags = u"a,b,c,d,e,f,g,h,i,j,k"_s;
    QTest::newRow("eleven tags") << f << u"tags"_s;
    f = {};
    f.actions = {u"1|Open|ftp://example.com/x"_s};
    QTest::newRow("action url") << f << u"actions"_s;
    f = {};
    f.expires = u"2001-01-01T00:00:00Z"_s;
    QTest::newRow("expiry in the past") << f << u"expires"_s;
    f = {};
    f.delivery = ComposePanel::Delay;
    f.when = u"soon"_s;
    QTest::newRow("delay") << f << u"delay"_s;
}

void tst_DashboardNotify::composeShowsRefusalNamingTheField()
{
    QFETCH(Form, form);
    QFETCH(QString, field);
    ComposePanel panel(m_rest.get());
    panel.show();
    fill(panel, form);
    auto *result = panel.findChild<QLabel *>(u"composeResult"_s);
    QTest::mouseClick(panel.findChild<QPushButton *>(u"composeSend"_s), Qt::LeftButton);
    QTRY_VERIFY2(result->text().startsWith(u"Refused"_s), qPrintable(result->text()));
    QVERIFY2(result->text().startsWith(u"Refused (bad_request: field '%1'"_s.arg(field)),
             qPrintable(result->text()));
    // Nothing was published: the text stays for the operator to fix and send again.
    QCOMPARE(panel.findChild<QLineEdit *>(u"composeText"_s)->text(), u"hi"_s);
    const HttpResult history = http("GET", m_port, u"/api/channels/news/history"_s);
    QVERIFY(history.status == 404 || history.json().value("messages"_L1).toArray().isEmpty());
}

void tst_DashboardNotify::composePublishesNotificationAndTableUpdatesInPlace()
{
    // The whole window against the server: its feed shows what its compose panel sent.
    Settings settings(m_dir->filePath(u"dashboard.ini"_s));
    settings.setOperatorName(u"ops-anna"_s);
    MainWindow window(&settings);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    window.watch(QUrl(u"ws://127.0.0.1:%1"_s.arg(m_port)), QString());
    QTRY_VERIFY(window.isLive());
    auto reader = openWs(m_port, u"/ws?client_id=reader&channels=news"_s);
    QVERIFY(reader);

    ComposePanel *panel = window.composePanel();
    Form f;
    f.title = u"Build 7"_s;
    f.text = u"40%"_s;
    f.priority = 5;
    f.tags = u"ci"_s;
    f.actions = {u"1|Open log|https://ci.example.com/7/log"_s, u"2|Retry|ci.commands|retry 7"_s};
    fill(*panel, f);
    QTest::mouseClick(panel->findChild<QPushButton *>(u"composeSend"_s), Qt::LeftButton);
    const auto first = reader->waitFor(u"message"_s);
    QVERIFY(first);
    QCOMPARE(first->value("priority"_L1).toInt(), 5);
    QCOMPARE(first->value("sender"_L1).toString(), u"ops-anna"_s);
    QCOMPARE(first->value("actions"_L1).toArray().size(), 2);
    const qint64 id = first->value("id"_L1).toInteger();
    QTRY_COMPARE(panel->resultText(), u"Published #%1 to news"_s.arg(id));

    MessageModel *model = window.messageModel();
    QTRY_COMPARE(model->rowCount(), 1);
    QCOMPARE(model->index(0, MessageModel::Priority).data().toString(), u"5 urgent"_s);
    QVERIFY(model->index(0, MessageModel::Text).data(Qt::FontRole).value<QFont>().bold());

    // The next state of the build replaces the row rather than adding one.
    f.text = u"80%"_s;
    f.replaces = QString::number(id);
    fill(*panel, f);
    QTest::mouseClick(panel->findChild<QPushButton *>(u"composeSend"_s), Qt::LeftButton);
    const auto second = reader->waitFor(u"message"_s);
    QVERIFY(second);
    QCOMPARE(second->value("replaces"_L1).toInteger(), id);
    const qint64 newId = second->value("id"_L1).toInteger();
    QTRY_COMPARE(model->index(0, MessageModel::Text).data().toString(), u"Build 7: 80%"_s);
    QCOMPARE(model->rowCount(), 1);
    QCOMPARE(model->index(0, 0).data(MessageModel::IdRole).toLongLong(), newId);
    QCOMPARE(model->index(0, MessageModel::State).data().toString(), u"updated"_s);

    // Withdrawn by its first id (the server resolves the chain): the row is marked, not a row of its own.
    const HttpResult withdrawn = http("DELETE", m_port, u"/api/messages/%1"_s.arg(id));
    QCOMPARE(withdrawn.status, 200);
    QTRY_COMPARE(model->index(0, MessageModel::State).data().toString(), u"updated, withdrawn"_s);
    QCOMPARE(model->rowCount(), 1);

    // One that stops mattering in a second greys out by itself.
    f = {};
    f.text = u"short-lived"_s;
    f.expires = u"1s"_s;
    fill(*panel, f);
    QTest::mouseClick(panel->findChild<QPushButton *>(u"composeSend"_s), Qt::LeftButton);
    QTRY_COMPARE(model->rowCount(), 2);
    QCOMPARE(model->index(0, MessageModel::Text).data().toString(), u"short-lived"_s);
    QTRY_COMPARE(model->index(0, MessageModel::State).data().toString(), u"expired"_s);
}

void tst_DashboardNotify::modelPriorityAndQuiet()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model);
    Message urgent = makeMessage(1, u"news"_s, u"fire"_s);
    urgent.notification.priority = 5;
    Message quiet = makeMessage(2, u"user:1"_s, u"later"_s);
    quiet.notification.quiet = true;
    quiet.notification.priority = 2;
    Message plain = makeMessage(3, u"news"_s, u"plain"_s);
    model.addMessages({urgent, quiet, plain});
    QCOMPARE(model.rowCount(), 3);
    // Newest first: plain, quiet, urgent.
    QCOMPARE(model.index(2, MessageModel::Priority).data().toString(), u"5 urgent"_s);
    QCOMPARE(model.index(2, 0).data(MessageModel::PriorityRole).toInt(), 5);
    QVERIFY(model.index(2, MessageModel::Text).data(Qt::FontRole).value<QFont>().bold());
    QVERIFY(model.index(2, MessageModel::Text).data(Qt::BackgroundRole).isValid());
    QCOMPARE(model.index(0, MessageModel::Priority).data().toString(), u"3 default"_s);
    QVERIFY(!model.index(0, MessageModel::Text).data(Qt::FontRole).isValid());
    QVERIFY(!model.index(0, MessageModel::Text).data(Qt::BackgroundRole).isValid());
    QCOMPARE(model.index(1, MessageModel::State).data().toString(), u"quiet"_s);
    QCOMPARE(states(model, 1), MessageStates(MessageState::Quiet));
    QVERIFY(model.index(1, MessageModel::Text).data(Qt::FontRole).value<QFont>().italic());
    QCOMPARE(model.index(0, MessageModel::State).data().toString(), QString());
    QCOMPARE(model.headerData(MessageModel::State, Qt::Horizontal).toString(), u"State"_s);
}

void tst_DashboardNotify::modelUpdatesInPlace()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model);
    model.addMessages({makeMessage(10, u"ci"_s, u"40%"_s), makeMessage(11, u"news"_s, u"other"_s)});
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);

    model.addMessage(update(12, u"ci"_s, 10, u"80%"_s));
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(inserted.count(), 0);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(model.rowOfId(12), 1); // where 10 was
    QCOMPARE(model.rowOfId(10), -1);
    QCOMPARE(model.index(1, MessageModel::Text).data().toString(), u"80%"_s);
    QCOMPARE(model.index(1, MessageModel::State).data().toString(), u"updated"_s);

    // A chain: the next update names the latest; an update and its target in one burst.
    model.addMessages({update(13, u"ci"_s, 12, u"done"_s), makeMessage(14, u"ci"_s, u"deploy 0%"_s),
                       update(15, u"ci"_s, 14, u"deploy 50%"_s)});
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.index(2, MessageModel::Text).data().toString(), u"done"_s);
    QCOMPARE(model.index(2, MessageModel::State).data().toString(), u"updated ×2"_s);
    QCOMPARE(model.index(0, 0).data(MessageModel::IdRole).toLongLong(), 15);
    QCOMPARE(model.index(0, MessageModel::Text).data().toString(), u"deploy 50%"_s);
    QCOMPARE(model.totalAdded(), 6);

    // An id of another channel is another message; an update of a row not held becomes a row.
    model.addMessage(update(16, u"news"_s, 13, u"not ci"_s));
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.index(0, MessageModel::Text).data().toString(), u"not ci"_s);
    QCOMPARE(model.index(3, MessageModel::Text).data().toString(), u"done"_s);
}

void tst_DashboardNotify::modelWithdraws()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model);
    model.addMessages({makeMessage(20, u"ci"_s, u"build"_s), makeMessage(21, u"ci"_s, u"keep"_s)});
    model.addMessage(withdrawal(22, u"ci"_s, 20));
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.index(1, MessageModel::State).data().toString(), u"withdrawn"_s);
    QCOMPARE(states(model, 1), MessageStates(MessageState::Withdrawn));
    QVERIFY(model.index(1, MessageModel::Text).data(Qt::FontRole).value<QFont>().strikeOut());
    QVERIFY(model.index(1, MessageModel::Text).data(Qt::ForegroundRole).isValid());
    QCOMPARE(model.index(0, MessageModel::State).data().toString(), QString());

    // Withdrawn after an update: the event names the chain's head, the row that now holds it.
    model.addMessages({update(23, u"ci"_s, 21, u"keep 2"_s), withdrawal(24, u"ci"_s, 23)});
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.index(0, MessageModel::State).data().toString(), u"updated, withdrawn"_s);

    // A withdrawal of a message not held is shown as the event it is.
    model.addMessage(withdrawal(25, u"ci"_s, 3));
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.index(0, MessageModel::Type).data().toString(), u"withdrawn"_s);
    QCOMPARE(model.index(0, MessageModel::Text).data().toString(), u"withdraws #3"_s);
}

void tst_DashboardNotify::modelFollowsChain()
{
    // The dashboard held 30 and was away while 30 became 32 and then 33: 33 names 32, which it never had, and
    // the chain's first id, 30, which it has.
    MessageModel model;
    QAbstractItemModelTester tester(&model);
    model.addMessages({makeMessage(30, u"ci"_s, u"40%"_s), makeMessage(31, u"news"_s, u"other"_s)});
    Message done = update(33, u"ci"_s, 32, u"done"_s);
    done.notification.chain = 30;
    model.addMessage(done);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.rowOfId(33), 1); // where 30 was
    QCOMPARE(model.rowOfId(30), -1);
    QCOMPARE(model.index(1, MessageModel::State).data().toString(), u"updated"_s);

    // The same chain id on another channel is another chain (ids are hub-wide: it cannot be this one).
    Message elsewhere = update(36, u"news"_s, 35, u"not ci"_s);
    elsewhere.notification.chain = 30;
    model.addMessage(elsewhere);
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.rowOfId(33), 2);

    // Withdrawn while away again: the event names 34, the chain's latest then, and the chain 30.
    Message gone = withdrawal(37, u"ci"_s, 34);
    gone.notification.chain = 30;
    model.addMessage(gone);
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.index(2, MessageModel::State).data().toString(), u"updated, withdrawn"_s);
}

void tst_DashboardNotify::modelExpires()
{
    MessageModel model;
    QAbstractItemModelTester tester(&model);
    const QDateTime now = QDateTime::currentDateTimeUtc();
    Message stale = makeMessage(30, u"ci"_s, u"already gone"_s);
    stale.notification.expires = now.addSecs(-5);
    Message soon = makeMessage(31, u"ci"_s, u"soon"_s);
    soon.notification.expires = now.addMSecs(300);
    Message later = makeMessage(32, u"ci"_s, u"later"_s);
    later.notification.expires = now.addSecs(3600);
    model.addMessages({stale, soon, later});
    QCOMPARE(model.index(2, MessageModel::State).data().toString(), u"expired"_s);
    QVERIFY(model.index(2, MessageModel::Text).data(Qt::ForegroundRole).isValid());
    QCOMPARE(states(model, 1), MessageStates());
    // The model's own timer marks the row when its time passes.
    QTRY_COMPARE(model.index(1, MessageModel::State).data().toString(), u"expired"_s);
    QCOMPARE(states(model, 0), MessageStates());
    // Or whoever says what time it is.
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.expireDue(now.addSecs(3600));
    QCOMPARE(states(model, 0), MessageStates(MessageState::Expired));
    QCOMPARE(changed.count(), 1); // only the row that just expired
    // An update with a later expiry brings the row back.
    Message renewed = update(33, u"ci"_s, 32, u"renewed"_s);
    renewed.notification.expires = now.addSecs(7200);
    model.addMessage(renewed);
    QCOMPARE(model.index(0, MessageModel::State).data().toString(), u"updated"_s);
}

void tst_DashboardNotify::scheduledViewAgainstServer()
{
    // The compose panel schedules, the view lists what the server keeps, and cancelling it there means it is
    // gone on the server too.
    ComposePanel panel(m_rest.get());
    panel.show();
    ScheduledView view(m_rest.get());
    connect(&panel, &ComposePanel::scheduled, &view, &ScheduledView::refresh);
    QSignalSpy refreshed(&view, &ScheduledView::refreshed);
    QSignalSpy scheduled(&panel, &ComposePanel::scheduled);
    Form f;
    f.title = u"Later"_s;
    f.priority = 5;
    f.delivery = ComposePanel::Delay;
    f.when = u"1h"_s;
    fill(panel, f);
    QTest::mouseClick(panel.findChild<QPushButton *>(u"composeSend"_s), Qt::LeftButton);
    QVERIFY(scheduled.wait());
    const QString first = scheduled.first().at(0).toString();
    QVERIFY(!first.isEmpty());
    QCOMPARE(scheduled.first().at(1).toString(), u"news"_s);
    QVERIFY2(panel.resultText().startsWith(u"Scheduled %1 for "_s.arg(first)),
             qPrintable(panel.resultText()));
    QVERIFY(panel.resultText().endsWith(u" on news"_s));
    QTRY_COMPARE(refreshed.count(), 1); // the view asked for the list at once
    QCOMPARE(view.model()->rowCount(), 1);
    // Nothing was delivered now.
    const HttpResult history = http("GET", m_port, u"/api/channels/news/history"_s);
    QVERIFY(history.status == 404 || history.json().value("messages"_L1).toArray().isEmpty());
    // Another one, due sooner, published by someone else: the list is sorted by when they are due.
    const HttpResult other =
        http("POST", m_port, u"/api/publish"_s, R"({"channel":"ci","message":"soon","delay":"30m"})");
    QCOMPARE(other.status, 202);
    const QString second = other.json().value("scheduled"_L1).toString();
    refreshed.clear();
    view.refresh();
    QVERIFY(refreshed.wait());
    ScheduledModel *model = view.model();
    QCOMPARE(model->rowCount(), 2);
    QCOMPARE(model->entryAt(0).handle, second);
    QCOMPARE(model->index(0, ScheduledModel::Text).data().toString(), u"soon"_s);
    QCOMPARE(model->entryAt(1).handle, first);
    QCOMPARE(model->index(1, ScheduledModel::Priority).data().toString(), u"5 urgent"_s);
    QCOMPARE(model->index(1, ScheduledModel::Text).data().toString(), u"Later: hi"_s);

    view.findChild<QTableView *>(u"scheduledTable"_s)->selectRow(1);
    QSignalSpy cancelled(&view, &ScheduledView::cancelled);
    QTest::mouseClick(view.findChild<QPushButton *>(u"scheduledCancel"_s), Qt::LeftButton);
    QVERIFY(cancelled.wait());
    QCOMPARE(cancelled.first().first().toString(), first);
    QCOMPARE(model->rowCount(), 1);
    QCOMPARE(http("GET", m_port, u"/api/scheduled/"_s + first).status, 404);
    QCOMPARE(http("DELETE", m_port, u"/api/scheduled/"_s + first).status, 404);
    refreshed.clear();
    view.refresh();
    QVERIFY(refreshed.wait());
    QCOMPARE(model->rowCount(), 1);
    QCOMPARE(model->entryAt(0).handle, second);
}

void tst_DashboardNotify::scheduledViewListsAndCancels()
{
    // Against a stand-in, for what a real server cannot be made to do on cue: an entry delivered between the
    // list and the cancel.
    FakeRest fake;
    QStringList held{u"h-1"_s, u"h-2"_s};
    fake.answer = [&held](const FakeRest::Request &r) -> std::pair<int, QByteArray> {
        if (r.method == "GET" && r.path == "/api/scheduled") {
            QJsonArray list;
            // Listed latest first, to see the view sort by time.
            if (held.contains(u"h-2"_s))
                list.append(object(R"({"handle":"h-2","at":"2030-01-02T00:00:00.000Z","channel":"news",
                                       "message":{"channel":"news","title":"Later","message":"two","priority":5}})"));
            if (held.contains(u"h-1"_s))
                list.append(object(R"({"handle":"h-1","at":"2030-01-01T00:00:00.000Z","channel":"ci",
                                       "message":{"channel":"ci","message":"one"}})"));
            return {200, compactJson(QJsonObject{{"scheduled"_L1, list}})};
        }
        if (r.method == "DELETE" && r.path.startsWith("/api/scheduled/")) {
            const QString handle = QString::fromUtf8(QByteArray::fromPercentEncoding(r.path.mid(15)));
            if (!held.removeOne(handle))
                return {404,
                        R"({"error":"not_found","detail":"no scheduled message )" + handle.toUtf8() + "\"}"};
            return {200, compactJson(QJsonObject{{"handle"_L1, handle}, {"cancelled"_L1, true}})};
        }
        return {405, R"({"error":"method_not_allowed","detail":"no"})"};
    };
    QVERIFY(fake.listen());
    m_endpoint = {fake.feedUrl(), u"tok"_s, u"ops"_s};

    ScheduledView view(m_rest.get());
    QSignalSpy refreshed(&view, &ScheduledView::refreshed);
    view.show(); // showing it asks for the list
    QVERIFY(refreshed.wait());
    ScheduledModel *model = view.model();
    QCOMPARE(model->rowCount(), 2);
    QCOMPARE(model->entryAt(0).handle, u"h-1"_s);
    QCOMPARE(model->index(0, ScheduledModel::Channel).data().toString(), u"ci"_s);
    QCOMPARE(model->index(1, ScheduledModel::Text).data().toString(), u"Later: two"_s);
    QCOMPARE(model->index(1, ScheduledModel::Priority).data().toString(), u"5 urgent"_s);
    QCOMPARE(view.statusText(), u"2 message(s) scheduled."_s);
    QCOMPARE(fake.requests.first().authorization, QByteArray("Bearer tok"));
    QCOMPARE(fake.requests.first().query, QByteArray("limit=1000"));

    auto *table = view.findChild<QTableView *>(u"scheduledTable"_s);
    auto *cancel = view.findChild<QPushButton *>(u"scheduledCancel"_s);
    QVERIFY(!cancel->isEnabled());
    table->selectRow(1);
    QVERIFY(cancel->isEnabled());
    QSignalSpy cancelled(&view, &ScheduledView::cancelled);
    QTest::mouseClick(cancel, Qt::LeftButton);
    QVERIFY(cancelled.wait());
    QCOMPARE(cancelled.first().first().toString(), u"h-2"_s);
    QCOMPARE(fake.requests.last().method, QByteArray("DELETE"));
    QCOMPARE(fake.requests.last().path, QByteArray("/api/scheduled/h-2"));
    QCOMPARE(model->rowCount(), 1);
    QCOMPARE(view.statusText(), u"Cancelled h-2: it will not be delivered."_s);

    // Delivered meanwhile: the server says 404, and the row goes.
    held.clear();
    table->selectRow(0);
    QTest::mouseClick(cancel, Qt::LeftButton);
    QTRY_COMPARE(model->rowCount(), 0);
    QCOMPARE(view.statusText(), u"h-1 is no longer scheduled (already delivered or cancelled)."_s);
    refreshed.clear();
    QTest::mouseClick(view.findChild<QPushButton *>(u"scheduledRefresh"_s), Qt::LeftButton);
    QVERIFY(refreshed.wait());
    QCOMPARE(view.statusText(), u"Nothing is scheduled."_s);
}

void tst_DashboardNotify::scheduledViewRefusals()
{
    FakeRest fake;
    QByteArray listAnswer = R"({"error":"forbidden","detail":"token may not write news"})";
    int listStatus = 403;
    fake.answer = [&](const FakeRest::Request &) {
        return std::pair{listStatus, listAnswer};
    };
    QVERIFY(fake.listen());
    m_endpoint = {fake.feedUrl(), QString(), QString()};
    ScheduledView view(m_rest.get());
    QSignalSpy refreshed(&view, &ScheduledView::refreshed);
    view.refresh();
    QVERIFY(refreshed.wait());
    QCOMPARE(view.statusText(),
             u"Could not list the scheduled messages: forbidden: token may not write news"_s);
    listStatus = 200;
    listAnswer = R"({"channels":[]})";
    view.refresh();
    QVERIFY(refreshed.wait());
    QCOMPARE(
        view.statusText(),
        u"Could not list the scheduled messages: the server's answer has no list of scheduled messages"_s);
    // No server watched: said, not sent.
    m_endpoint = {};
    view.refresh();
    QVERIFY(refreshed.wait());
    QCOMPARE(view.statusText(), u"Could not list the scheduled messages: No server is watched."_s);
    QCOMPARE(fake.requests.size(), 2);
}

QTEST_MAIN(tst_DashboardNotify)
#include "tst_dashboardnotify.moc"
