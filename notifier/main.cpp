#include "desktopnotifier.h"
#include "notificationcenter.h"
#include "notifieroptions.h"
#include "notifiersettings.h"
#include "settingsdialog.h"
#include "trayapp.h"

#include <QApplication>

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

    Herald::NotifierSettings settings;
    Herald::TokenStore tokens;
    Herald::DesktopNotifier notifier;
    notifier.setAppName(QApplication::applicationDisplayName());
    Herald::TrayApp tray(&settings, &notifier);
    QObject::connect(&tray, &Herald::TrayApp::quitRequested, &app, &QApplication::quit);
    QObject::connect(&tray, &Herald::TrayApp::settingsRequested, &tray,
                     [&] { editSettings(settings, tokens, tray.center()); });

    if (!options->skipsDialog() && !settings.isConfigured() && !editSettings(settings, tokens, tray.center()))
        return 0; // the first-run dialog was cancelled

    // What the connection (HeraldClient) will use: the command line's values, else the saved ones. The
    // saved token arrives from the keyring asynchronously (TokenStore::tokenRead).
    const QUrl server = options->skipsDialog() ? options->server : settings.serverUrl();
    const QString userId = options->skipsDialog() ? options->userId : settings.userId();
    const QStringList channels = options->channelsGiven ? options->channels : settings.channels();
    Q_UNUSED(token)
    Q_UNUSED(userId)
    Q_UNUSED(channels)
    tray.setConnectionState(Herald::TrayApp::ConnectionState::Offline, server.toString());

    const int code = app.exec();
    settings.sync();
    return code;
}
