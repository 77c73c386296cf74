#include "notifieroptions.h"
#include "notifiersettings.h"
#include "processrun.h"

#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace Qt::StringLiterals;
using Herald::NotifierOptions;

class TestNotifierOptions : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        // Autostart entries go under $XDG_CONFIG_HOME: a temporary one, never the real one.
        qputenv("XDG_CONFIG_HOME", QFile::encodeName(m_dir.filePath(u"config"_s)));
    }

    void parse_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("error"); // a part of it; empty = accepted
        QTest::addColumn<QString>("server");
        QTest::addColumn<QString>("user");
        QTest::addColumn<QStringList>("channels");

        QTest::newRow("nothing: the saved settings")
            << QStringList{} << QString() << QString() << QString() << QStringList{};
        QTest::newRow("open mode") << QStringList{u"--server"_s, u"http://127.0.0.1:8000"_s, u"--user"_s,
                                                  u"1"_s}
                                   << QString() << u"http://127.0.0.1:8000"_s << u"1"_s << QStringList{};
        QTest::newRow("channels") << QStringList{u"--server"_s,   u"https://h.example"_s, u"--user"_s, u"7"_s,
                                                 u"--channels"_s, u"news, alerts,,news"_s}
                                  << QString() << u"https://h.example"_s << u"7"_s
                                  << QStringList{u"news"_s, u"alerts"_s};
        QTest::newRow("token file") << QStringList{u"--server"_s, u"wss://h.example"_s, u"--token-file"_s,
                                                   u"/t"_s}
                                    << QString() << u"wss://h.example"_s << QString() << QStringList{};
        QTest::newRow("server alone")
            << QStringList{u"--server"_s, u"http://h"_s} << u"--user or --token-file"_s << QString()
            << QString() << QStringList{};
        QTest::newRow("user without server") << QStringList{u"--user"_s, u"1"_s} << u"need --server"_s
                                             << QString() << QString() << QStringList{};
        QTest::newRow("both user and token")
            << QStringList{u"--server"_s, u"http://h"_s, u"--user"_s, u"1"_s, u"--token-file"_s, u"/t"_s}
            << u"exclude each other"_s << QString() << QString() << QStringList{};
        QTest::newRow("not a URL") << QStringList{u"--server"_s, u"ftp://h"_s, u"--user"_s, u"1"_s}
                                   << u"--server must be"_s << QString() << QString() << QStringList{};
        QTest::newRow("no host") << QStringList{u"--server"_s, u"http://"_s, u"--user"_s, u"1"_s}
                                 << u"--server must be"_s << QString() << QString() << QStringList{};
        QTest::newRow("bad user id") << QStringList{u"--server"_s, u"http://h"_s, u"--user"_s, u"a b"_s}
                                     << u"not a user id"_s << QString() << QString() << QStringList{};
        QTest::newRow("empty user id") << QStringList{u"--server"_s, u"http://h"_s, u"--user"_s, u""_s}
                                       << u"not a user id"_s << QString() << QString() << QStringList{};
        QTest::newRow("bad channel") << QStringList{u"--server"_s, u"http://h"_s,   u"--user"_s,
                                                    u"1"_s,        u"--channels"_s, u"ok,bad channel"_s}
                                     << u"not a channel name"_s << QString() << QString() << QStringList{};
        QTest::newRow("unknown option")
            << QStringList{u"--nope"_s} << u"nope"_s << QString() << QString() << QStringList{};
        QTest::newRow("positional") << QStringList{u"extra"_s} << u"unexpected argument 'extra'"_s
                                    << QString() << QString() << QStringList{};
    }
    void parse()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, error);
        QFETCH(QString, server);
        QFETCH(QString, user);
        QFETCH(QStringList, channels);
        args.prepend(u"herald-notifier"_s);
        const auto options = Herald::parseNotifierOptions(args);
        if (!error.isEmpty()) {
            QVERIFY(!options);
            QVERIFY2(options.error().contains(error), qPrintable(options.error()));
            return;
        }
        QVERIFY2(options, options ? "" : qPrintable(options.error()));
        QCOMPARE(options->server.toString(), server);
        QCOMPARE(options->skipsDialog(), !server.isEmpty());
        QCOMPARE(options->userId, user);
        QCOMPARE(options->channels, channels);
    }

    void help()
    {
        const auto options = Herald::parseNotifierOptions({u"herald-notifier"_s, u"--help"_s});
        QVERIFY(options);
        QCOMPARE(options->action, NotifierOptions::Action::Help);
        for (const auto *word : {"--server <url>", "--user <id>", "--token-file <file>", "--channels <list>",
                                 "herald-notifier [options]"})
            QVERIFY2(options->text.contains(QLatin1StringView(word)), word);
    }

    // The program itself: --help without a display, a bad argument refused with status 2.
    void binary_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("output");
        QTest::newRow("--help") << QStringList{u"--help"_s} << 0 << u"--token-file"_s;
        QTest::newRow("--version") << QStringList{u"--version"_s} << 0 << u"herald-notifier "_s;
        QTest::newRow("bad argument") << QStringList{u"--server"_s, u"nope"_s, u"--user"_s, u"1"_s} << 2
                                      << u"herald-notifier: --server must be"_s;
        QTest::newRow("missing token file")
            << QStringList{u"--server"_s, u"http://h"_s, u"--token-file"_s, u"/nonexistent/token"_s} << 2
            << u"cannot read the token file"_s;
    }
    void binary()
    {
        QFETCH(QStringList, args);
        QFETCH(int, exitCode);
        QFETCH(QString, output);
        QProcess p;
        p.start(QStringLiteral(HERALD_NOTIFIER_BINARY), args);
        const auto run = HeraldTest::collectRun(p, p.waitForFinished(30'000));
        QCOMPARE(run.exitCode, exitCode);
        const QByteArray printed = run.out + run.err;
        QVERIFY2(QString::fromUtf8(printed).contains(output), printed.constData());
    }

    void tokenFile_data()
    {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("token"); // empty: refused
        QTest::newRow("one line") << QByteArray("abc.def\n") << u"abc.def"_s;
        QTest::newRow("spaces and more lines") << QByteArray("  tok  \nsecond\n") << u"tok"_s;
        QTest::newRow("empty") << QByteArray("\n") << QString();
    }
    void tokenFile()
    {
        QFETCH(QByteArray, content);
        QFETCH(QString, token);
        const QString path = m_dir.filePath(u"token"_s);
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write(content);
        file.close();
        const auto read = Herald::readTokenFile(path);
        QCOMPARE(read.hasValue(), !token.isEmpty());
        if (read)
            QCOMPARE(*read, token);
    }

    void autostart()
    {
        const QString path = Herald::Autostart::entryPath();
        QVERIFY2(path.startsWith(m_dir.path()), qPrintable(path));
        QVERIFY(!Herald::Autostart::isEnabled());
        QVERIFY(Herald::Autostart::setEnabled(true, u"/opt/my apps/herald-notifier"_s));
        QVERIFY(Herald::Autostart::isEnabled());
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray entry = file.readAll();
        QVERIFY(entry.startsWith("[Desktop Entry]\n"));
        QVERIFY2(entry.contains("\nExec=\"/opt/my apps/herald-notifier\"\n"), entry.constData());
        QVERIFY(entry.contains("\nType=Application\n"));
        QVERIFY(Herald::Autostart::setEnabled(false));
        QVERIFY(!QFile::exists(path));
        QVERIFY(Herald::Autostart::setEnabled(false)); // nothing to remove is fine
    }

    void settingsRoundTrip()
    {
        const QString ini = m_dir.filePath(u"notifier.ini"_s);
        {
            Herald::NotifierSettings settings(ini);
            QVERIFY(!settings.isConfigured());
            settings.setServerUrl(QUrl(u"http://127.0.0.1:8000"_s));
            settings.setUserId(u"1"_s);
            settings.setChannels({u"news"_s, u"alerts"_s});
            settings.setMuted(true);
        }
        Herald::NotifierSettings settings(ini);
        QVERIFY(settings.isConfigured());
        QCOMPARE(settings.serverUrl(), QUrl(u"http://127.0.0.1:8000"_s));
        QCOMPARE(settings.userId(), u"1"_s);
        QCOMPARE(settings.channels(), (QStringList{u"news"_s, u"alerts"_s}));
        QVERIFY(settings.muted());
        // The token is never in the settings file.
        QFile file(ini);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QVERIFY(!file.readAll().toLower().contains("token"));
    }

    void tokenKeyPerServer_data()
    {
        QTest::addColumn<QString>("a");
        QTest::addColumn<QString>("b");
        QTest::addColumn<bool>("same");
        QTest::newRow("path ignored") << u"http://h:8000/"_s << u"http://h:8000"_s << true;
        QTest::newRow("other port") << u"http://h:8000"_s << u"http://h:9000"_s << false;
        QTest::newRow("other host") << u"https://a.example"_s << u"https://b.example"_s << false;
    }
    void tokenKeyPerServer()
    {
        QFETCH(QString, a);
        QFETCH(QString, b);
        QFETCH(bool, same);
        QCOMPARE(Herald::TokenStore::keyFor(QUrl(a)) == Herald::TokenStore::keyFor(QUrl(b)), same);
    }

private:
    QTemporaryDir m_dir;
};

QTEST_GUILESS_MAIN(TestNotifierOptions)
#include "tst_notifieroptions.moc"
