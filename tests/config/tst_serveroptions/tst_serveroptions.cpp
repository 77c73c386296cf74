#include "serveroptions.h"

#include <QFile>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <functional>

using namespace Qt::StringLiterals;
using namespace Herald;

class tst_ServerOptions : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaults();
    void options_data();
    void options();
    void helpAndVersion();
    void helpDefaultsAreTheDefaults_data();
    void helpDefaultsAreTheDefaults();
    void configFile();
    void configFileErrors_data();
    void configFileErrors();
    void storeSettings_data();
    void storeSettings();
    void retentionSection();
    void exampleConfigParses();
    void exampleKeysAreOptions_data();
    void exampleKeysAreOptions();
    void configOnlyKeysAreOptions();
    void optionsReachTheirSettings();
    void zeroOrAtLeast();
    void tokenHelp();
};

void tst_ServerOptions::defaults()
{
    const auto r = parseServerOptions({u"herald-server"_s});
    QVERIFY(r.hasValue());
    QCOMPARE(r->action, ServerOptions::Action::Run);
    QCOMPARE(r->config.port, 8000);
    QCOMPARE(r->config.bind, QHostAddress(QHostAddress::LocalHost));
    QCOMPARE(r->config.dataDir, u"./herald-data"_s);
    QCOMPARE(r->config.demoIntervalSeconds, 0);
    QCOMPARE(r->config.maxMessageSize, 64 * 1024);
    QCOMPARE(r->config.tlsHandshakeTimeout, std::chrono::milliseconds(10000));
    QCOMPARE(r->config.handshakeTimeout, std::chrono::milliseconds(10000));
    QCOMPARE(r->config.bodyTimeout, std::chrono::milliseconds(10000));
    QCOMPARE(r->config.writeTimeout, std::chrono::milliseconds(30000));
    QCOMPARE(r->config.maxSubscriptions, 1000);
    const auto set =
        parseServerOptions({u"herald-server"_s, u"--handshake-timeout"_s, u"3s"_s, u"--request-timeout"_s,
                            u"4s"_s, u"--body-timeout"_s, u"5s"_s, u"--write-timeout"_s, u"6s"_s});
    QVERIFY(set.hasValue());
    QCOMPARE(set->config.tlsHandshakeTimeout, std::chrono::milliseconds(3000));
    QCOMPARE(set->config.handshakeTimeout, std::chrono::milliseconds(4000));
    QCOMPARE(set->config.bodyTimeout, std::chrono::milliseconds(5000));
    QCOMPARE(set->config.writeTimeout, std::chrono::milliseconds(6000));
}

void tst_ServerOptions::options_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QString>("errorContains");
    QTest::newRow("port") << QStringList{u"--port"_s, u"9000"_s} << true << QString();
    QTest::newRow("port 0") << QStringList{u"--port=0"_s} << true << QString();
    QTest::newRow("bind any") << QStringList{u"--bind"_s, u"0.0.0.0"_s} << true << QString();
    QTest::newRow("bind v6") << QStringList{u"--bind"_s, u"::1"_s} << true << QString();
    QTest::newRow("all") << QStringList{u"--data-dir"_s,      u"/tmp/x"_s, u"--log-level"_s, u"debug"_s,
                                        u"--demo-interval"_s, u"10"_s,     u"--workers"_s,   u"3"_s}
                         << true << QString();
    QTest::newRow("publish window") << QStringList{u"--publish-window"_s, u"1"_s} << true << QString();
    QTest::newRow("publish window range")
        << QStringList{u"--publish-window"_s, u"5000"_s} << false << u"--publish-window"_s;
    QTest::newRow("port text") << QStringList{u"--port"_s, u"http"_s} << false << u"--port"_s;
    QTest::newRow("port range") << QStringList{u"--port"_s, u"70000"_s} << false << u"--port"_s;
    QTest::newRow("bad bind") << QStringList{u"--bind"_s, u"example.com"_s} << false << u"--bind"_s;
    QTest::newRow("bad level") << QStringList{u"--log-level"_s, u"loud"_s} << false << u"--log-level"_s;
    QTest::newRow("negative demo") << QStringList{u"--demo-interval"_s, u"-1"_s} << false
                                   << u"--demo-interval"_s;
    QTest::newRow("unknown option") << QStringList{u"--frobnicate"_s} << false << u"frobnicate"_s;
    QTest::newRow("missing value") << QStringList{u"--port"_s} << false << u"port"_s;
    QTest::newRow("positional") << QStringList{u"extra"_s} << false << u"extra"_s;
    QTest::newRow("missing config") << QStringList{u"--config"_s, u"/nonexistent/herald.conf"_s} << false
                                    << u"cannot read"_s;
    QTest::newRow("redis") << QStringList{u"--redis"_s,        u"redis://127.0.0.1:6379"_s,
                                          u"--redis-prefix"_s, u"prod:"_s,
                                          u"--node-id"_s,      u"n1"_s,
                                          u"--node-ttl"_s,     u"3s"_s}
                           << true << QString();
    QTest::newRow("redis password db")
        << QStringList{u"--redis=redis://:secret@10.0.0.5:6380/2"_s} << true << QString();
    QTest::newRow("redis scheme") << QStringList{u"--redis"_s, u"http://127.0.0.1:6379"_s} << false
                                  << u"--redis"_s;
    QTest::newRow("redis port") << QStringList{u"--redis"_s, u"redis://127.0.0.1:99999"_s} << false
                                << u"--redis"_s;
    QTest::newRow("empty prefix") << QStringList{u"--redis-prefix="_s} << false << u"--redis-prefix"_s;
    QTest::newRow("node id") << QStringList{u"--node-id"_s, u"a b"_s} << false << u"--node-id"_s;
    QTest::newRow("node ttl") << QStringList{u"--node-ttl"_s, u"0"_s} << false << u"--node-ttl"_s;
    QTest::newRow("deadlines") << QStringList{u"--handshake-timeout"_s, u"5s"_s,
                                              u"--request-timeout"_s,   u"15"_s,
                                              u"--body-timeout"_s,      u"1m"_s,
                                              u"--write-timeout"_s,     u"2m"_s}
                               << true << QString();
    QTest::newRow("deadline off") << QStringList{u"--write-timeout"_s, u"0"_s} << false
                                  << u"--write-timeout"_s;
    QTest::newRow("deadline text") << QStringList{u"--body-timeout"_s, u"soon"_s} << false
                                   << u"--body-timeout"_s;
    QTest::newRow("max subscriptions") << QStringList{u"--max-subscriptions"_s, u"50"_s} << true << QString();
    QTest::newRow("max subscriptions 0")
        << QStringList{u"--max-subscriptions"_s, u"0"_s} << false << u"--max-subscriptions"_s;
}

void tst_ServerOptions::options()
{
    QFETCH(QStringList, args);
    QFETCH(bool, ok);
    QFETCH(QString, errorContains);
    const auto r = parseServerOptions(QStringList{u"herald-server"_s} + args);
    QCOMPARE(r.hasValue(), ok);
    if (!ok) {
        QVERIFY2(r.error().contains(errorContains), qPrintable(r.error()));
        QVERIFY(!r.error().contains(u'\n'));
    }
}

void tst_ServerOptions::helpAndVersion()
{
    // argv[0] as a build tree starts it: the usage names the program, not the path.
    const auto help = parseServerOptions({u"/build/dbg/server/herald-server"_s, u"--help"_s});
    QVERIFY(help.hasValue());
    QCOMPARE(help->action, ServerOptions::Action::Help);
    QVERIFY2(help->text.startsWith(u"Usage: herald-server [options]\n"_s), qPrintable(help->text));
    QVERIFY2(!help->text.contains(u"/build/"_s), qPrintable(help->text));
    for (const QString &opt : {u"--bind"_s, u"--port"_s, u"--data-dir"_s, u"--config"_s, u"--log-level"_s,
                               u"--sync"_s, u"--ephemeral-channels"_s})
        QVERIFY2(help->text.contains(opt), qPrintable(opt));
    // The words docs/protocol.md uses: the rate limit counts frames, the cap is 1000 off loopback.
    const QString flat = help->text.simplified();
    QVERIFY2(flat.contains(u"WebSocket frames per second"_s), qPrintable(flat));
    QVERIFY2(flat.contains(u"default 0 on loopback, 1000 otherwise"_s), qPrintable(flat));
    const auto version = parseServerOptions({u"herald-server"_s, u"--version"_s});
    QVERIFY(version.hasValue());
    QVERIFY(version->text.startsWith(u"herald-server "_s));
}

// The default each option's help shows is what the server runs with when the option is not given: taken from
// the help and given back as the option's value, it changes nothing.
void tst_ServerOptions::helpDefaultsAreTheDefaults_data()
{
    QTest::addColumn<QString>("option");
    QTest::addColumn<std::function<QString(const ServerConfig &)>>("setting");
    const auto number = [](auto member) {
        return std::function<QString(const ServerConfig &)>(
            [member](const ServerConfig &c) { return QString::number(qint64(c.*member)); });
    };
    const auto ms = [](auto member) {
        return std::function<QString(const ServerConfig &)>([member](const ServerConfig &c) {
            return QString::number(std::chrono::milliseconds(c.*member).count());
        });
    };
    const auto text = [](QString ServerConfig::*member) {
        return std::function<QString(const ServerConfig &)>(
            [member](const ServerConfig &c) { return c.*member; });
    };
    QTest::newRow("bind") << u"bind"_s << text(&ServerConfig::bindText);
    QTest::newRow("port") << u"port"_s << number(&ServerConfig::port);
    QTest::newRow("data-dir") << u"data-dir"_s << text(&ServerConfig::dataDir);
    QTest::newRow("log-level") << u"log-level"_s << text(&ServerConfig::logLevel);
    QTest::newRow("max-message-size") << u"max-message-size"_s << number(&ServerConfig::maxMessageSize);
    QTest::newRow("backlog") << u"backlog"_s << number(&ServerConfig::listenBacklog);
    QTest::newRow("history-size") << u"history-size"_s
                                  << std::function<QString(const ServerConfig &)>([](const ServerConfig &c) {
                                         return QString::number(c.defaultRetention.maxCount);
                                     });
    QTest::newRow("history-ttl") << u"history-ttl"_s
                                 << std::function<QString(const ServerConfig &)>([](const ServerConfig &c) {
                                        return QString::number(c.defaultRetention.maxAge.count());
                                    });
    QTest::newRow("replay-limit") << u"replay-limit"_s << number(&ServerConfig::replayLimit);
    QTest::newRow("rate-limit") << u"rate-limit"_s << number(&ServerConfig::rateLimit);
    QTest::newRow("idle-timeout") << u"idle-timeout"_s << ms(&ServerConfig::idleTimeout);
    QTest::newRow("handshake-timeout") << u"handshake-timeout"_s << ms(&ServerConfig::tlsHandshakeTimeout);
    QTest::newRow("request-timeout") << u"request-timeout"_s << ms(&ServerConfig::handshakeTimeout);
    QTest::newRow("body-timeout") << u"body-timeout"_s << ms(&ServerConfig::bodyTimeout);
    QTest::newRow("write-timeout") << u"write-timeout"_s << ms(&ServerConfig::writeTimeout);
    QTest::newRow("max-subscriptions") << u"max-subscriptions"_s << number(&ServerConfig::maxSubscriptions);
    QTest::newRow("send-buffer") << u"send-buffer"_s << number(&ServerConfig::maxSendBuffer);
    QTest::newRow("send-stall-timeout") << u"send-stall-timeout"_s << ms(&ServerConfig::sendStallTimeout);
    QTest::newRow("sync") << u"sync"_s
                          << std::function<QString(const ServerConfig &)>([](const ServerConfig &c) {
                                 return c.synchronousFull ? u"full"_s : u"normal"_s;
                             });
    QTest::newRow("idempotency-window") << u"idempotency-window"_s << ms(&ServerConfig::idempotencyWindow);
    QTest::newRow("redis-prefix") << u"redis-prefix"_s << text(&ServerConfig::redisPrefix);
    QTest::newRow("node-ttl") << u"node-ttl"_s << ms(&ServerConfig::nodeTtl);
}

void tst_ServerOptions::helpDefaultsAreTheDefaults()
{
    QFETCH(QString, option);
    QFETCH(std::function<QString(const ServerConfig &)>, setting);
    const auto help = parseServerOptions({u"herald-server"_s, u"--help"_s});
    QVERIFY(help.hasValue());
    // "--name <value>   … (default X; …)": the description may wrap, so read the text flattened.
    const QString flat = help->text.simplified();
    const qsizetype at = flat.indexOf(u"--"_s + option + u" <"_s);
    QVERIFY2(at >= 0, qPrintable(option));
    static const QRegularExpression shown(u"(?:\\(|; )default ([^;) ]+)"_s);
    const auto m = shown.match(flat, at);
    // Within this option's description: before the next option ("--name <…>"), if any.
    static const QRegularExpression nextOption(u" --[a-z-]+ <"_s);
    const auto next = nextOption.match(flat, at + 2);
    QVERIFY2(m.hasMatch() && (!next.hasMatch() || next.capturedStart() > m.capturedStart()),
             qPrintable(option));
    const QString value = m.captured(1).chopped(m.captured(1).endsWith(u'.') ? 1 : 0);
    const auto given = parseServerOptions({u"herald-server"_s, u"--"_s + option, value});
    QVERIFY2(given.hasValue(), qPrintable(given.hasValue() ? QString() : given.error()));
    QCOMPARE(setting(given->config), setting(ServerConfig()));
}

void tst_ServerOptions::configFile()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(u"herald.conf"_s);
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    // Comments after a value and quoted values, as QSettings read them before.
    f.write(
        "\xef\xbb\xbf[server]\nport = 9100 ; the port\nbind = \"0.0.0.0\"\n# a comment\ndemo-interval = 5\n");
    f.close();
    const auto r = parseServerOptions({u"herald-server"_s, u"--config"_s, path});
    QVERIFY(r.hasValue());
    QCOMPARE(r->config.port, 9100);
    QCOMPARE(r->config.bindText, u"0.0.0.0"_s);
    QCOMPARE(r->config.demoIntervalSeconds, 5);
    // The command line wins over the file.
    const auto overridden =
        parseServerOptions({u"herald-server"_s, u"--config"_s, path, u"--port"_s, u"9200"_s});
    QVERIFY(overridden.hasValue());
    QCOMPARE(overridden->config.port, 9200);
}

void tst_ServerOptions::configFileErrors_data()
{
    QTest::addColumn<QByteArray>("content");
    QTest::addColumn<QString>("errorContains");
    QTest::newRow("unknown key") << "[server]\ncolour = blue\n"_ba << u"unknown setting"_s;
    QTest::newRow("no section") << "port = 1\n"_ba << u"unknown setting"_s;
    QTest::newRow("bad value") << "[server]\nport = many\n"_ba << u"many"_s;
    QTest::newRow("bad sync") << "[server]\nsync = sometimes\n"_ba << u"sometimes"_s;
    QTest::newRow("bad ephemeral") << "[server]\nephemeral-channels = a b\n"_ba << u"a b"_s;
    QTest::newRow("bad retention count") << "[retention]\nchat = lots\n"_ba << u"lots"_s;
    QTest::newRow("bad retention ttl") << "[retention]\nchat = 10,soon\n"_ba << u"soon"_s;
    QTest::newRow("bad retention pattern") << "[retention]\na%20b = 10\n"_ba << u":2: [retention] a%20b:"_s;
    // Every error names the line and the key.
    QTest::newRow("bad duration") << "; comment\n[server]\n\nhistory-ttl = forever\n"_ba
                                  << u":4: history-ttl: 'forever' is not a duration"_s;
    QTest::newRow("bad retention duration")
        << "[server]\nport = 1\n[retention]\nchat = 10,forever\n"_ba << u":4: [retention] chat: 'forever'"_s;
    QTest::newRow("bad value line") << "[server]\nport = many\n"_ba << u":2: port: 'many'"_s;
    QTest::newRow("unknown key line")
        << "[server]\nport = 1\ncolour = blue\n"_ba << u":3: unknown setting 'colour'"_s;
    QTest::newRow("unknown section") << "[sever]\nport = 1\n"_ba
                                     << u":2: unknown setting 'port' in [sever]"_s;
    // Not INI at all: the line that is neither a section nor a setting.
    QTest::newRow("no equals") << "[server]\nport 8000\n"_ba << u":2: 'port 8000' is not 'key = value'"_s;
    QTest::newRow("broken header") << "[server]\nport = 1\n[retention\n"_ba
                                   << u":3: '[retention' is not a section"_s;
    QTest::newRow("twice") << "[server]\nport = 1\nport = 2\n"_ba
                           << u":3: port is set twice (first on line 2)"_s;
    QTest::newRow("open quote") << "[server]\ndata-dir = \"/var/lib\n"_ba
                                << u":2: data-dir: unbalanced quotes"_s;
}

void tst_ServerOptions::storeSettings_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("historySize");
    QTest::addColumn<qint64>("historyTtl");
    QTest::addColumn<qint64>("maxDbSize");
    QTest::addColumn<int>("replayLimit");
    QTest::newRow("defaults") << QStringList{} << 1000 << qint64(7 * 86400) << qint64(0) << 5000;
    QTest::newRow("seconds") << QStringList{u"--history-ttl"_s, u"90"_s} << 1000 << qint64(90) << qint64(0)
                             << 5000;
    QTest::newRow("units") << QStringList{u"--history-size=0"_s, u"--history-ttl=12h"_s,
                                          u"--max-db-size=500M"_s, u"--replay-limit=10"_s}
                           << 0 << qint64(12 * 3600) << qint64(500) * 1024 * 1024 << 10;
    QTest::newRow("weeks and gigabytes")
        << QStringList{u"--history-ttl"_s, u"2w"_s, u"--max-db-size"_s, u"2G"_s} << 1000 << qint64(14 * 86400)
        << qint64(2) * 1024 * 1024 * 1024 << 5000;
    QTest::newRow("no age limit") << QStringList{u"--history-ttl"_s, u"0"_s} << 1000 << qint64(0) << qint64(0)
                                  << 5000;
}

void tst_ServerOptions::storeSettings()
{
    QFETCH(QStringList, args);
    QFETCH(int, historySize);
    QFETCH(qint64, historyTtl);
    QFETCH(qint64, maxDbSize);
    QFETCH(int, replayLimit);
    const auto r = parseServerOptions(QStringList{u"herald-server"_s} + args);
    QVERIFY2(r.hasValue(), r.hasValue() ? "" : qPrintable(r.error()));
    QCOMPARE(r->config.defaultRetention.maxCount, historySize);
    QCOMPARE(qint64(r->config.defaultRetention.maxAge.count()), historyTtl);
    QCOMPARE(r->config.maxDatabaseSize, maxDbSize);
    QCOMPARE(r->config.replayLimit, replayLimit);
}

void tst_ServerOptions::retentionSection()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(u"herald.conf"_s);
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("[server]\nsync = full\nephemeral-channels = typing.*, presence\n"
            "[retention]\nuser:* = 500, 30d\nchat = 100\n* = 10\nuser:vip:* = 0,0\n");
    f.close();
    const auto r = parseServerOptions({u"herald-server"_s, u"--config"_s, path});
    QVERIFY2(r.hasValue(), r.hasValue() ? "" : qPrintable(r.error()));
    const Herald::ServerConfig &c = r->config;
    QVERIFY(c.synchronousFull);
    QCOMPARE(c.ephemeralChannels, QStringList({u"typing.*"_s, u"presence"_s, u"client:*"_s}));
    // Most specific first, whatever the file's order.
    QStringList order;
    for (const Herald::RetentionRule &rule : c.retentionRules)
        order.append(rule.pattern);
    QCOMPARE(order, QStringList({u"user:vip:*"_s, u"user:*"_s, u"chat"_s, u"*"_s}));
    QCOMPARE(c.retentionRules.at(1).maxCount, 500);
    QCOMPARE(c.retentionRules.at(1).maxAge, std::chrono::seconds(30 * 86400));
    QCOMPARE(c.retentionRules.at(0).maxCount, 0);
    QCOMPARE(c.retentionRules.at(0).maxAge, std::chrono::seconds(0));
    // A rule without a TTL keeps the default age limit.
    QCOMPARE(c.retentionRules.at(2).maxAge, c.defaultRetention.maxAge);
}

void tst_ServerOptions::configFileErrors()
{
    QFETCH(QByteArray, content);
    QFETCH(QString, errorContains);
    QTemporaryDir dir;
    const QString path = dir.filePath(u"bad.conf"_s);
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(content);
    f.close();
    const auto r = parseServerOptions({u"herald-server"_s, u"--config"_s, path});
    QVERIFY(!r.hasValue());
    QVERIFY2(r.error().contains(errorContains), qPrintable(r.error()));
    QVERIFY(r.error().contains(path));
}

// The installed example must stay a valid config: every key it sets is one herald-server knows.
void tst_ServerOptions::exampleConfigParses()
{
    const auto r =
        parseServerOptions({u"herald-server"_s, u"--config"_s, QStringLiteral(HERALD_EXAMPLE_CONFIG)});
    QVERIFY2(r.hasValue(), r.hasValue() ? "" : qPrintable(r.error()));
    QCOMPARE(r->config.port, 8000);
    QCOMPARE(r->config.rateLimit, 100);
    QCOMPARE(r->config.idleTimeout, std::chrono::seconds(60));
    QCOMPARE(r->config.maxSendBuffer, qint64(4) * 1024 * 1024);
    QCOMPARE(r->config.sendStallTimeout, std::chrono::milliseconds(5000));
    // The example states the defaults.
    const ServerConfig defaults;
    QCOMPARE(r->config.tlsHandshakeTimeout, defaults.tlsHandshakeTimeout);
    QCOMPARE(r->config.handshakeTimeout, defaults.handshakeTimeout);
    QCOMPARE(r->config.bodyTimeout, defaults.bodyTimeout);
    QCOMPARE(r->config.writeTimeout, defaults.writeTimeout);
    QCOMPARE(r->config.maxSubscriptions, defaults.maxSubscriptions);
}

// "Every key is a herald-server long option": each key the example config sets, or shows commented out,
// is accepted on the command line with the example's value.
void tst_ServerOptions::exampleKeysAreOptions_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("value");
    QFile f(QStringLiteral(HERALD_EXAMPLE_CONFIG));
    QVERIFY(f.open(QIODevice::ReadOnly | QIODevice::Text));
    static const QRegularExpression setting(u"^;? ?([a-z-]+) = (.*)$"_s);
    bool server = false;
    int rows = 0;
    for (const QString &line : QString::fromUtf8(f.readAll()).split(u'\n')) {
        if (line.startsWith(u'['))
            server = line == u"[server]"_s;
        const auto m = setting.match(line);
        if (server && m.hasMatch()) {
            QTest::newRow(qPrintable(m.captured(1))) << m.captured(1) << m.captured(2);
            ++rows;
        }
    }
    QVERIFY(rows > 30);
}

void tst_ServerOptions::exampleKeysAreOptions()
{
    QFETCH(QString, key);
    QFETCH(QString, value);
    QStringList args{u"herald-server"_s, u"--"_s + key, value};
    if (key.startsWith(u"tls-"_s)) // they go together
        args << (key == u"tls-cert"_s ? u"--tls-key"_s : u"--tls-cert"_s) << u"/x.pem"_s;
    const auto r = parseServerOptions(args);
    QVERIFY2(r.hasValue(), qPrintable(r.hasValue() ? QString() : r.error()));
}

void tst_ServerOptions::configOnlyKeysAreOptions()
{
    const auto r = parseServerOptions(
        {u"herald-server"_s, u"--sync"_s, u"full"_s, u"--ephemeral-channels"_s, u"typing.*, presence"_s});
    QVERIFY2(r.hasValue(), qPrintable(r.hasValue() ? QString() : r.error()));
    QVERIFY(r->config.synchronousFull);
    QCOMPARE(r->config.ephemeralChannels, QStringList({u"typing.*"_s, u"presence"_s, u"client:*"_s}));
    const auto bad = parseServerOptions({u"herald-server"_s, u"--sync"_s, u"sometimes"_s});
    QVERIFY(!bad.hasValue());
    QCOMPARE(bad.error(), u"--sync: 'sometimes' is not normal or full"_s);
}

// The settings no other test reads back: each option's value lands in its own ServerConfig member.
void tst_ServerOptions::optionsReachTheirSettings()
{
    const auto r = parseServerOptions(
        {u"herald-server"_s, u"--workers=3"_s, u"--backlog=17"_s, u"--max-connections-per-ip=9"_s,
         u"--log-level= WARNING "_s, u"--auth=Token"_s, u"--node-ttl=2m"_s, u"--node-id=n-1"_s,
         u"--redis-prefix=h2:"_s, u"--jwt-secret-file= /etc/herald/secret "_s, u"--tls-cert=/c.pem"_s,
         u"--tls-key=/k.pem"_s, u"--allowed-hosts=Herald.Example.com."_s,
         u"--allowed-origins=https://a.example/"_s});
    QVERIFY2(r.hasValue(), qPrintable(r.hasValue() ? QString() : r.error()));
    const ServerConfig &c = r->config;
    QCOMPARE(c.workerThreads, 3);
    QCOMPARE(c.listenBacklog, 17);
    QCOMPARE(c.maxConnectionsPerIp, 9);
    QCOMPARE(c.logLevel, u"warning"_s);
    QCOMPARE(c.authMode, ServerConfig::AuthMode::Token);
    QCOMPARE(c.nodeTtl, std::chrono::seconds(120));
    QCOMPARE(c.nodeId, u"n-1"_s);
    QCOMPARE(c.redisPrefix, u"h2:"_s);
    QCOMPARE(c.jwtSecretFile, u"/etc/herald/secret"_s);
    QCOMPARE(c.tlsCert, u"/c.pem"_s);
    QCOMPARE(c.tlsKey, u"/k.pem"_s);
    QCOMPARE(c.allowedHosts, QStringList{u"herald.example.com"_s});
    QCOMPARE(c.allowedOrigins, QStringList{u"https://a.example"_s});
}

// Where 0 means "off" or "no limit" it is allowed below the option's least value, and only 0.
void tst_ServerOptions::zeroOrAtLeast()
{
    const auto off = parseServerOptions({u"herald-server"_s, u"--idle-timeout=0"_s, u"--max-db-size=0"_s});
    QVERIFY2(off.hasValue(), qPrintable(off.hasValue() ? QString() : off.error()));
    QCOMPARE(off->config.idleTimeout, std::chrono::seconds(0));
    QCOMPARE(off->config.maxDatabaseSize, 0);
    const auto idle = parseServerOptions({u"herald-server"_s, u"--idle-timeout=1s"_s});
    QVERIFY(!idle.hasValue());
    QCOMPARE(idle.error(), u"--idle-timeout: '1s' is not a duration of at least 2s (0 = off)"_s);
    const auto size = parseServerOptions({u"herald-server"_s, u"--max-db-size=63k"_s});
    QVERIFY(!size.hasValue());
    QCOMPARE(size.error(),
             u"--max-db-size: '63k' is not a size of at least 64k (e.g. 500M, 2G; 0 = no limit)"_s);
}

// `herald-server token --help` is the token command's help, not the server's.
void tst_ServerOptions::tokenHelp()
{
    const auto r = parseServerOptions({u"/build/dbg/server/herald-server"_s, u"token"_s, u"--help"_s});
    QVERIFY(r.hasValue());
    QCOMPARE(r->action, ServerOptions::Action::Help);
    QVERIFY2(r->text.startsWith(u"Usage: herald-server token --sub ID"_s), qPrintable(r->text));
    QVERIFY2(r->text.contains(u"--role"_s) && r->text.contains(u"--ttl"_s), qPrintable(r->text));
    QVERIFY2(!r->text.contains(u"--bind"_s) && !r->text.contains(u"/build/"_s), qPrintable(r->text));
}

QTEST_GUILESS_MAIN(tst_ServerOptions)
#include "tst_serveroptions.moc"
