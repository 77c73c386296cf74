#include "desktopnotifier.h"
#include "notificationcenter.h"
#include "notifierlink.h"
#include "notifieroptions.h"
#include "notifiersettings.h"
#include "settingsdialog.h"
#include "trayapp.h"

#include <QApplication>
#include <QDateTime>
#include <QDir>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <cstdio>

using namespace Qt::StringLiterals;

namespace {

// The first-run dialog, and the tray's "Settings…": saves what was accepted (the token in the keyring).
bool editSettings(Herald::NotifierSettings &settings, Herald::TokenStore &tokens,
                  Herald::NotificationCenter *center)
{
    Herald::SettingsDialog dialog;
    Herald::SettingsDialog::Values values;
    values.server = settings.serverUrl();
    values.useToken = settings.userId().isEmpty();
    values.userId = settings.userId();
    values.channels = settings.channels();
    values.autostart = Herald::Autostart::isEnabled();
    values.muted = center->isMuted();
    dialog.setValues(values);
    if (dialog.exec() != QDialog::Accepted)
        return false;
    values = dialog.values();
    settings.setServerUrl(values.server);
    settings.setUserId(values.userId);
    settings.setChannels(values.channels);
    if (values.useToken && !values.token.isEmpty())
        tokens.write(values.server, values.token);
    if (!Herald::Autostart::setEnabled(values.autostart))
        std::fprintf(stderr, "herald-notifier: cannot write %s\n",
                     qPrintable(Herald::Autostart::entryPath()));
    center->setMuted(values.muted);
    settings.sync();
    return true;
}

// The README's picture: sample notifications (two read), the history window and the tray menu.
int screenshot(Herald::TrayApp &tray, const QString &file)
{
    struct Sample
    {
        const char *channel;
        int priority;
        const char *title;
        const char *text;
        bool read;
    };
    const Sample samples[] = {
        {"user:1", 3, "Your order shipped", "Tracking number 1Z999AA10123456784", true},
        {"news", 2, "Release 0.2 is out", "Read the notes on the blog", true},
        {"ci", 4, "Nightly build slow", "Took 41 minutes (usual: 12)", false},
        {"user:1", 3, "Anna mentioned you", "Can you look at the draft before 3?", false},
        {"alerts", 5, "Disk almost full", "db-2: 97% of /var used", false},
        {"ci", 5, "Build 7 failed", "test_login timed out", false},
    };
    Herald::NotificationCenter *center = tray.center();
    center->setMuted(true); // no pop-ups for the samples
    qint64 id = 50;
    QList<qint64> read;
    for (const Sample &s : samples) {
        Herald::Message m;
        m.id = ++id;
        m.channel = QString::fromUtf8(s.channel);
        m.type = u"message"_s;
        m.timestamp = QDateTime::currentDateTimeUtc().addSecs((id - 57) * 420);
        m.title = QString::fromUtf8(s.title);
        m.message = QString::fromUtf8(s.text);
        m.notification.priority = s.priority;
        center->addMessage(m);
        if (s.read)
            read.append(m.id);
    }
    center->setRead(read);
    center->setMuted(false);
    tray.setConnectionState(Herald::TrayApp::ConnectionState::Online);
    if (!tray.saveScreenshot(file)) {
        std::fprintf(stderr, "herald-notifier: cannot write %s\n", qPrintable(file));
        return 1;
    }
    std::printf("saved %s\n", qPrintable(file));
    return 0;
}

} // namespace

int main(int argc, char *argv[])
{
    // Parse before QApplication exists, so --help and argument errors work without a display.
    QStringList arguments;
    for (int i = 0; i < argc; ++i)
        arguments.append(QString::fromLocal8Bit(argv[i]));
    const auto options = Herald::parseNotifierOptions(arguments);
    if (!options) {
        std::fprintf(stderr, "herald-notifier: %s\n", qPrintable(options.error()));
        return 2;
    }
    if (options->action != Herald::NotifierOptions::Action::Run) {
        std::fputs(qPrintable(options->text), stdout);
        return 0;
    }
    QString token;
    if (!options->tokenFile.isEmpty()) {
        const auto read = Herald::readTokenFile(options->tokenFile);
        if (!read) {
            std::fprintf(stderr, "herald-notifier: %s\n", qPrintable(read.error()));
            return 2;
        }
        token = *read;
    }

    QApplication app(argc, argv);
    QApplication::setOrganizationName(u"Herald"_s);
    QApplication::setApplicationName(u"herald-notifier"_s);
    QApplication::setApplicationDisplayName(u"Herald Notifier"_s);
    QApplication::setApplicationVersion(QStringLiteral(HERALD_VERSION));
    QApplication::setDesktopFileName(u"herald-notifier"_s);
    // It lives in the tray: closing the history window does not end it.
    QApplication::setQuitOnLastWindowClosed(false);

    // A picture must not depend on (or change) whoever runs it: settings in a scratch file then.
    QTemporaryDir scratch;
    Herald::NotifierSettings settings(
        options->screenshotFile.isEmpty() ? QString() : scratch.filePath(u"notifier.ini"_s));
    Herald::TokenStore tokens;
    Herald::DesktopNotifier notifier;
    notifier.setAppName(QApplication::applicationDisplayName());
    Herald::TrayApp tray(&settings, &notifier);
    QObject::connect(&tray, &Herald::TrayApp::quitRequested, &app, &QApplication::quit);

    if (!options->screenshotFile.isEmpty())
        return screenshot(tray, options->screenshotFile);
    if (!options->skipsDialog() && !settings.isConfigured() && !editSettings(settings, tokens, tray.center()))
        return 0; // the first-run dialog was cancelled

    // The connection: the command line's values, else the saved ones. A saved token arrives from the
    // keyring asynchronously (TokenStore::tokenRead); the link waits for it then.
    Herald::NotifierLink::Config config;
    config.server = options->skipsDialog() ? options->server : settings.serverUrl();
    config.userId = options->skipsDialog() ? options->userId : settings.userId();
    config.channels = options->channelsGiven ? options->channels : settings.channels();
    config.token = token;
    const QString dataDir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    QDir().mkpath(dataDir);
    config.resumeFile = QDir(dataDir).filePath(u"resume.json"_s);
    Herald::NotifierLink link(tray.center(), &tray);
    tray.setConnectionState(Herald::TrayApp::ConnectionState::Offline, config.server.toString());
    if (!link.start(config)) {
        std::fprintf(stderr, "herald-notifier: %s\n", qPrintable(link.errorString()));
        return 2;
    }
    QObject::connect(&tokens, &Herald::TokenStore::tokenRead, &link,
                     [&link](const QString &read, const QString &error) {
                         if (read.isEmpty())
                             std::fprintf(stderr, "herald-notifier: no token in the keyring%s%s\n",
                                          error.isEmpty() ? "" : ": ", qPrintable(error));
                         else
                             link.setToken(read);
                     });
    if (config.token.isEmpty() && config.userId.isEmpty())
        tokens.read(config.server);
    // Changed settings apply at once: the saved values now (the command line's were for the start).
    QObject::connect(&tray, &Herald::TrayApp::settingsRequested, &tray, [&] {
        if (!editSettings(settings, tokens, tray.center()))
            return;
        Herald::NotifierLink::Config changed = config;
        changed.server = settings.serverUrl();
        changed.userId = settings.userId();
        changed.channels = settings.channels();
        if (changed.server == config.server && changed.userId == config.userId) {
            link.client()->setChannels(changed.channels); // subscribes and unsubscribes while connected
            config = changed;
            return;
        }
        // Another server or user: a token from the command line was for the old one; the keyring has
        // the one for the new server (TokenStore files them per server).
        changed.token.clear();
        config = changed;
        if (!link.start(config))
            std::fprintf(stderr, "herald-notifier: %s\n", qPrintable(link.errorString()));
        else if (config.userId.isEmpty())
            tokens.read(config.server);
    });

    const int code = app.exec();
    settings.sync();
    return code;
}
