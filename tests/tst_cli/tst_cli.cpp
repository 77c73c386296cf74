#include "testclient.h"

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
    void unwritableDataDir();
    void sigtermClosesClients_data();
    void sigtermClosesClients();

private:
    static quint16 freePort()
    {
        QTcpServer s;
        s.listen(QHostAddress::LocalHost, 0);
        return s.serverPort();
    }
    struct Run
    {
        int exitCode = -1;
        QByteArray out, err;
    };
    static Run run(const QStringList &args)
    {
        QProcess p;
        p.start(QStringLiteral(HERALD_SERVER_BINARY), args);
        Run r;
        if (!p.waitForFinished(10000)) {
            p.kill();
            p.waitForFinished();
        }
        r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
        r.out = p.readAllStandardOutput();
        r.err = p.readAllStandardError();
        return r;
    }
};

void tst_Cli::help()
{
    const Run r = run({u"--help"_s});
    QCOMPARE(r.exitCode, 0);
    QVERIFY(r.out.contains("--port"));
    QVERIFY(r.out.contains("--demo-interval"));
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

void tst_Cli::unwritableDataDir()
{
    const Run r = run({u"--port"_s, u"0"_s, u"--data-dir"_s, u"/proc/herald-cannot-be-here"_s});
    QCOMPARE(r.exitCode, 1);
    QCOMPARE(r.err.count('\n'), 1);
    QVERIFY2(r.err.contains("data directory"), r.err.constData());
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
    while (!a.open(port, u"/ws/client"_s, 200) && t.elapsed() < 5000)
        QTest::qWait(50);
    QVERIFY(a.isConnected());
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

QTEST_GUILESS_MAIN(tst_Cli)
#include "tst_cli.moc"
