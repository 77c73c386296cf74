#include "hub.h"
#include "processrun.h"
#include "server.h"

#include <QImage>
#include <QProcess>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

using namespace Qt::StringLiterals;
using HeraldTest::collectRun;

// The herald-dashboard program itself: options, the embedded mode (with a busy port), the remote mode against
// a real server, and a refused token. The window runs offscreen and quits after its --screenshot.
class tst_DashboardCli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void help();
    void badOptions_data();
    void badOptions();
    void embeddedModeFallsBackAndConnects();
    void remoteModeWatchesServer();
    void refusedTokenIsReported();

private:
    using Run = HeraldTest::ProcessRun;
    // Runs the dashboard to completion while this process's event loop keeps serving (the remote tests run
    // their server in here).
    Run run(const QStringList &args, int timeoutMs = 30000)
    {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(u"QT_QPA_PLATFORM"_s, u"offscreen"_s);
        // Settings and the default data dir land in the test's directory, not the user's.
        env.insert(u"XDG_CONFIG_HOME"_s, m_dir->filePath(u"config"_s));
        env.insert(u"XDG_DATA_HOME"_s, m_dir->filePath(u"data"_s));
        p.setProcessEnvironment(env);
        QSignalSpy finished(&p, &QProcess::finished);
        p.start(QStringLiteral(HERALD_DASHBOARD_BINARY), args);
        if (!p.waitForStarted())
            return Run();
        return collectRun(p, finished.wait(timeoutMs));
    }
    QStringList screenshotArgs(int delayMs = 2000) const
    {
        return {u"--screenshot"_s, m_dir->filePath(u"shot.png"_s), u"--screenshot-delay"_s,
                QString::number(delayMs)};
    }

    std::unique_ptr<QTemporaryDir> m_dir;
};

void tst_DashboardCli::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void tst_DashboardCli::help()
{
    const Run r = run({u"--help"_s});
    QCOMPARE(r.exitCode, 0);
    QVERIFY2(r.out.startsWith("Usage: herald-dashboard"), r.out.constData());
    for (const char *option : {"--connect", "--token", "--port", "--data-dir"})
        QVERIFY2(r.out.contains(option), option);
    QVERIFY(!r.out.contains("--screenshot")); // hidden
    const Run v = run({u"--version"_s});
    QCOMPARE(v.exitCode, 0);
    QCOMPARE(v.out, QByteArray("herald-dashboard " HERALD_VERSION "\n"));
}

void tst_DashboardCli::badOptions_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QByteArray>("error");
    QTest::newRow("token alone") << QStringList{u"--token"_s, u"t"_s}
                                 << QByteArray("herald-dashboard: --token");
    QTest::newRow("bad url") << QStringList{u"--connect"_s, u"gopher://x"_s}
                             << QByteArray("herald-dashboard: --connect");
    QTest::newRow("bad port") << QStringList{u"--port"_s, u"x"_s} << QByteArray("herald-dashboard: --port");
}

void tst_DashboardCli::badOptions()
{
    QFETCH(QStringList, args);
    QFETCH(QByteArray, error);
    const Run r = run(args);
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.startsWith(error), r.err.constData());
    QCOMPARE(r.err.count('\n'), 1);
}

void tst_DashboardCli::embeddedModeFallsBackAndConnects()
{
    // Someone already has the port: the embedded server takes another and the dashboard still connects.
    QTcpServer squatter;
    QVERIFY(squatter.listen(QHostAddress::LocalHost, 0));
    const Run r = run(QStringList{u"--port"_s, QString::number(squatter.serverPort()), u"--data-dir"_s,
                                  m_dir->filePath(u"server"_s)} +
                      screenshotArgs());
    QCOMPARE(r.exitCode, 0);
    QVERIFY2(r.err.contains("the embedded server uses port"), r.err.constData());
    QVERIFY2(r.err.contains("Connected to 127.0.0.1:"), r.err.constData());
    QVERIFY(
        !r.err.contains(QByteArray("Connected to 127.0.0.1:" + QByteArray::number(squatter.serverPort()))));
    QVERIFY(QFileInfo::exists(m_dir->filePath(u"server"_s)));
    const QImage shot(m_dir->filePath(u"shot.png"_s));
    QVERIFY(!shot.isNull());
    QVERIFY(shot.width() > 600 && shot.height() > 400);
}

void tst_DashboardCli::remoteModeWatchesServer()
{
    Herald::ServerConfig config;
    config.port = 0;
    config.dataDir = m_dir->filePath(u"remote"_s);
    config.workerThreads = 1;
    Herald::Server server(config);
    QVERIFY(server.start());
    auto &connections = server.hub()->metrics().wsConnections;

    const Run r =
        run(QStringList{u"--connect"_s, u"ws://127.0.0.1:%1"_s.arg(server.port())} + screenshotArgs());
    QCOMPARE(r.exitCode, 0);
    QVERIFY2(r.err.contains(QByteArray("Connected to 127.0.0.1:" + QByteArray::number(server.port()))),
             r.err.constData());
    QVERIFY(!r.err.contains("Embedded")); // no server of its own
    // The dashboard's admin connection was the server's only WebSocket, and it closed on exit.
    QCOMPARE(server.hub()->metrics().wsConnectionsTotal.load(), 1);
    QTRY_COMPARE(connections.load(), 0);
}

void tst_DashboardCli::refusedTokenIsReported()
{
    QTcpServer fake;
    QVERIFY(fake.listen(QHostAddress::LocalHost, 0));
    QByteArray head;
    connect(&fake, &QTcpServer::newConnection, &fake, [&] {
        while (QTcpSocket *s = fake.nextPendingConnection()) {
            connect(s, &QTcpSocket::readyRead, s, [&head, s] {
                head += s->readAll();
                if (head.contains("\r\n\r\n")) {
                    s->write("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    s->disconnectFromHost();
                }
            });
            connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
        }
    });
    const Run r = run(QStringList{u"--connect"_s, u"http://127.0.0.1:%1"_s.arg(fake.serverPort()),
                                  u"--token"_s, u"wrong"_s} +
                      screenshotArgs(1500));
    QCOMPARE(r.exitCode, 0);
    QVERIFY2(r.err.contains(QByteArray("Token refused by 127.0.0.1:" + QByteArray::number(fake.serverPort()) +
                                       " (HTTP 401)")),
             r.err.constData());
    QVERIFY2(head.contains("Authorization: Bearer wrong\r\n"), head.constData());
}

QTEST_GUILESS_MAIN(tst_DashboardCli) // QImage reads PNGs without a GUI application
#include "tst_dashboardcli.moc"
