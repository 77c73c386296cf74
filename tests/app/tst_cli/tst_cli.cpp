#include "processrun.h"
#include "testclient.h"

#include <QFile>
#include <QProcess>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace Qt::StringLiterals;
using namespace HeraldTest;

// The herald-server binary as a user runs it: errors on stderr and exit codes, signals, the real port.
class tst_Cli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void help();
    void badOptionIsOneLine();
    void portInUse();
    void unwritableDataDir_data();
    void unwritableDataDir();
    void startupSaysPageAndDemo_data();
    void startupSaysPageAndDemo();
    void redisUnreachableIsOneLine();
    void sigtermClosesClients_data();
    void sigtermClosesClients();
    void sigtermAfterAdminKick();
    void killNineLosesNothingAcknowledged();
    void badStoreOptions_data();
    void badStoreOptions();

private:
    using Run = ProcessRun;
    static Run run(const QStringList &args)
    {
        QProcess p;
        p.start(QStringLiteral(HERALD_SERVER_BINARY), args);
        return collectRun(p, p.waitForFinished(10000));
    }
};

void tst_Cli::help()
{
    const Run r = run({u"--help"_s});
    QCOMPARE(r.exitCode, 0);
    QVERIFY(r.out.contains("--port"));
    QVERIFY(r.out.contains("--demo-interval"));
    // The program as a user types it, not the build path it was started by.
    QVERIFY2(r.out.startsWith("Usage: herald-server [options]\n"), r.out.left(200).constData());
    const Run token = run({u"token"_s, u"--help"_s});
    QCOMPARE(token.exitCode, 0);
    QVERIFY2(token.out.startsWith("Usage: herald-server token "), token.out.left(200).constData());
    QVERIFY(!token.out.contains("--bind"));
}

void tst_Cli::badOptionIsOneLine()
{
    const Run r = run({u"--port"_s, u"nope"_s});
    QVERIFY(r.exitCode != 0);
    QCOMPARE(r.err.count('\n'), 1);
    QVERIFY2(r.err.startsWith("herald-server: --port"), r.err.constData());
}

void tst_Cli::portInUse()
{
    QTcpServer occupier;
    QVERIFY(occupier.listen(QHostAddress::LocalHost, 0));
    QTemporaryDir dir;
    const Run r = run({u"--port"_s, QString::number(occupier.serverPort()), u"--data-dir"_s, dir.path()});
    QCOMPARE(r.exitCode, 1);
    QCOMPARE(r.err.count('\n'), 1);
    QVERIFY2(r.err.contains("cannot listen on 127.0.0.1:") && r.err.contains("address"), r.err.constData());
}

void tst_Cli::unwritableDataDir_data()
{
    QTest::addColumn<QString>("dir");
    QTest::addColumn<QByteArray>("reason"); // the system's, after the path
    QTest::newRow("in /proc") << u"/proc/herald-cannot-be-here"_s << QByteArray("No such file or directory");
    QTest::newRow("under a file") << u"/dev/null/herald"_s << QByteArray("Not a directory");
}

void tst_Cli::unwritableDataDir()
{
    QFETCH(QString, dir);
    QFETCH(QByteArray, reason);
    const Run r = run({u"--port"_s, u"0"_s, u"--data-dir"_s, dir});
    QCOMPARE(r.exitCode, 1);
    QCOMPARE(r.err.count('\n'), 1);
    QCOMPARE(r.err, "herald-server: cannot create data directory " + dir.toUtf8() + ": " + reason + '\n');
}

void tst_Cli::startupSaysPageAndDemo_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QByteArray>("demo");
    QTest::newRow("demo on") << QStringList{u"--demo-interval"_s, u"7"_s}
                             << QByteArray("demo on: a notification to users 1 and 2 every 7 s");
    QTest::newRow("demo off") << QStringList{} << QByteArray("demo off (--demo-interval 10 turns it on)");
}

// Start-up says where the page is and whether the demo runs, not only where it listens.
void tst_Cli::startupSaysPageAndDemo()
{
    QFETCH(QStringList, args);
    QFETCH(QByteArray, demo);
    QTemporaryDir dir;
    const quint16 port = freePort();
    QProcess server;
    server.start(QStringLiteral(HERALD_SERVER_BINARY),
                 args + QStringList{u"--port"_s, QString::number(port), u"--data-dir"_s, dir.path()});
    QVERIFY(server.waitForStarted());
    QByteArray err;
    QElapsedTimer t;
    t.start();
    while (!err.contains("page: ") && t.elapsed() < 60000) {
        server.waitForReadyRead(100);
        err += server.readAllStandardError();
    }
    ::kill(pid_t(server.processId()), SIGTERM);
    QVERIFY(server.waitForFinished(5000));
    err += server.readAllStandardError();
    const QByteArray url = "http://127.0.0.1:" + QByteArray::number(port);
    QVERIFY2(err.contains(QByteArray("listening on " + url + "/")), err.constData());
    QVERIFY2(err.contains(QByteArray("page: " + url + "/?user_id=1; " + demo + "\n")), err.constData());
}

// A cluster node that cannot reach Redis says so in one line, before it creates or migrates a database.
void tst_Cli::redisUnreachableIsOneLine()
{
    QTemporaryDir dir;
    const quint16 nobody = freePort();
    const Run r = run({u"--port"_s, u"0"_s, u"--data-dir"_s, dir.path(), u"--redis"_s,
                       u"redis://127.0.0.1:%1"_s.arg(nobody)});
    QCOMPARE(r.exitCode, 1);
    QCOMPARE(r.err, "herald-server: cannot reach Redis at redis://127.0.0.1:" + QByteArray::number(nobody) +
                        ": Connection refused\n");
    QVERIFY(!QFile::exists(dir.filePath(u"herald.db"_s)));
}

void tst_Cli::sigtermClosesClients_data()
{
    QTest::addColumn<int>("signal");
    QTest::newRow("SIGTERM") << int(SIGTERM);
    QTest::newRow("SIGINT") << int(SIGINT);
}

void tst_Cli::sigtermClosesClients()
{
    QFETCH(int, signal);
    QTemporaryDir dir;
    const quint16 port = freePort();
    QProcess server;
    server.start(QStringLiteral(HERALD_SERVER_BINARY), {u"--port"_s, QString::number(port), u"--data-dir"_s,
                                                        dir.path(), u"--log-level"_s, u"warning"_s});
    QVERIFY(server.waitForStarted());
    WsClient a, b;
    QElapsedTimer t;
    t.start();
    // Start-up is slow on a loaded machine (the CI builds beside it): wait for the port, not a fixed time.
    while (!a.open(port, u"/ws/client"_s, 2000) && t.elapsed() < 60000)
        QTest::qWait(50);
    QVERIFY2(a.isConnected(), server.readAllStandardError().constData());
    QVERIFY(b.open(port, u"/ws/users"_s));
    QVERIFY(a.waitFor(u"counts"_s));

    t.restart();
    ::kill(pid_t(server.processId()), signal);
    QVERIFY(a.waitDisconnected());
    QVERIFY(b.waitDisconnected());
    QCOMPARE(a.closeCode(), 1001);
    QCOMPARE(b.closeCode(), 1001);
    // waitForFinished() is false for a process that already ended while the event loop ran: poll the state.
    QTRY_VERIFY_WITH_TIMEOUT(server.state() == QProcess::NotRunning, 5000);
    QVERIFY(t.elapsed() < 5000);
    QCOMPARE(server.exitStatus(), QProcess::NormalExit);
    QCOMPARE(server.exitCode(), 0);
}

// With one I/O thread, an admin's kick of a client on its own thread used to freeze that thread for good, and
// SIGTERM, which waits for every thread to drain, no longer stopped the process.
void tst_Cli::sigtermAfterAdminKick()
{
    QTemporaryDir dir;
    const quint16 port = freePort();
    QProcess server;
    server.start(QStringLiteral(HERALD_SERVER_BINARY),
                 {u"--port"_s, QString::number(port), u"--data-dir"_s, dir.path(), u"--log-level"_s,
                  u"warning"_s, u"--workers"_s, u"1"_s});
    QVERIFY(server.waitForStarted());
    WsClient admin, target, bystander;
    QElapsedTimer t;
    t.start();
    while (!admin.open(port, u"/ws/server"_s, 2000) && t.elapsed() < 60000)
        QTest::qWait(50);
    QVERIFY2(admin.isConnected(), server.readAllStandardError().constData());
    QVERIFY(admin.waitFor(u"snapshot"_s));
    QVERIFY(target.open(port, u"/ws/target"_s));
    QVERIFY(bystander.open(port, u"/ws?client_id=bystander"_s));
    QVERIFY(admin.waitFor(u"client_connected"_s));
    QVERIFY(admin.waitFor(u"client_connected"_s));

    admin.send({{"action"_L1, "disconnect"_L1}, {"client_id"_L1, "target"_L1}});
    QVERIFY(target.waitDisconnected());
    QCOMPARE(target.closeCode(), 4001);

    t.restart();
    ::kill(pid_t(server.processId()), SIGTERM);
    QTRY_VERIFY_WITH_TIMEOUT(server.state() == QProcess::NotRunning, 5000);
    QVERIFY(t.elapsed() < 5000);
    QCOMPARE(server.exitStatus(), QProcess::NormalExit);
    QCOMPARE(server.exitCode(), 0);
    QVERIFY(bystander.waitDisconnected());
    QCOMPARE(bystander.closeCode(), 1001);
    QVERIFY(admin.waitFor(u"disconnected"_s, 0));
}

// SPEC section 2's promise, against the real binary: a message acknowledged with 202 is committed, so a crash
// (SIGKILL, no shutdown code runs) right after the acknowledgement loses nothing, and the restarted server
// replays it and continues the id sequence.
void tst_Cli::killNineLosesNothingAcknowledged()
{
    QTemporaryDir dir;
    const quint16 port = freePort();
    const QStringList args = {u"--port"_s, QString::number(port), u"--data-dir"_s,
                              dir.path(),  u"--log-level"_s,      u"warning"_s};
    QProcess server;
    server.start(QStringLiteral(HERALD_SERVER_BINARY), args);
    QVERIFY(server.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(http("GET", port, u"/healthz"_s).status == 200, 20000);

    // A subscriber that has seen the first message, then goes away.
    WsClient sub;
    QVERIFY(sub.open(port, u"/ws?user_id=7"_s));
    QVERIFY(sub.waitFor(u"connected"_s));
    QList<qint64> acked;
    for (int i = 0; i < 150; ++i) {
        const HttpResult r = http("POST", port, u"/api/publish"_s,
                                  R"({"channel":"user:7","message":"n)" + QByteArray::number(i) + R"("})");
        QCOMPARE(r.status, 202);
        acked.append(r.json().value("id"_L1).toInteger());
    }
    QVERIFY(sub.waitFor(u"message"_s));
    sub.close();
    // Ephemeral ids are handed out too, and must not be reused after the crash.
    WsClient chat;
    QVERIFY(chat.open(port, u"/ws/someone"_s));
    chat.send({{"type"_L1, "notification"_L1}, {"message"_L1, "personal, unstored"_L1}});
    const auto personal = chat.waitFor(u"notification"_s);
    QVERIFY(personal);
    const qint64 personalId = personal->value("id"_L1).toInteger();

    ::kill(pid_t(server.processId()), SIGKILL);
    QTRY_VERIFY_WITH_TIMEOUT(server.state() == QProcess::NotRunning, 5000);
    QCOMPARE(server.exitStatus(), QProcess::CrashExit);

    QProcess restarted;
    restarted.start(QStringLiteral(HERALD_SERVER_BINARY), args);
    QVERIFY(restarted.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(http("GET", port, u"/healthz"_s).status == 200, 20000);

    const HttpResult list = http("GET", port, u"/api/notifications?user_id=7&limit=1000"_s);
    QCOMPARE(list.status, 200);
    QCOMPARE(idsIn(list.json().value("notifications"_L1).toArray()), acked);

    // The subscriber comes back with the first id it saw and gets the other 149, in order.
    WsClient back;
    QVERIFY(back.open(port, u"/ws?user_id=7&since=%1"_s.arg(acked.first())));
    const QJsonObject notice{{"count"_L1, 149}, {"recovered"_L1, true}};
    QCOMPARE(replayNotice(back, notice), notice);
    QList<qint64> replayed;
    QElapsedTimer t;
    t.start();
    while (replayed.size() < 149 && t.elapsed() < 5000) {
        if (auto m = back.waitFor(u"message"_s, 100))
            replayed.append(m->value("id"_L1).toInteger());
    }
    QCOMPARE(replayed, acked.mid(1));

    const HttpResult next =
        http("POST", port, u"/api/publish"_s, R"({"channel":"user:7","message":"after"})");
    QCOMPARE(next.status, 202);
    QVERIFY(next.json().value("id"_L1).toInteger() > personalId);

    ::kill(pid_t(restarted.processId()), SIGTERM);
    QTRY_VERIFY_WITH_TIMEOUT(restarted.state() == QProcess::NotRunning, 5000);
    QCOMPARE(restarted.exitCode(), 0);
}

void tst_Cli::badStoreOptions_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QByteArray>("message");
    QTest::newRow("history-size") << QStringList{u"--history-size"_s, u"many"_s}
                                  << QByteArray("--history-size");
    QTest::newRow("history-ttl") << QStringList{u"--history-ttl"_s, u"7x"_s} << QByteArray("--history-ttl");
    QTest::newRow("replay-limit") << QStringList{u"--replay-limit"_s, u"0"_s} << QByteArray("--replay-limit");
    QTest::newRow("max-db-size") << QStringList{u"--max-db-size"_s, u"12"_s} << QByteArray("--max-db-size");
}

void tst_Cli::badStoreOptions()
{
    QFETCH(QStringList, args);
    QFETCH(QByteArray, message);
    QTemporaryDir dir;
    const Run r = run(args + QStringList{u"--data-dir"_s, dir.path(), u"--port"_s, u"0"_s});
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.startsWith(QByteArray("herald-server: " + message)), r.err.constData());
    QCOMPARE(r.err.count('\n'), 1);
}

QTEST_GUILESS_MAIN(tst_Cli)
#include "tst_cli.moc"
