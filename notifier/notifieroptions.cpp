#include "notifieroptions.h"

#include "channelname.h"

#include <QCommandLineParser>
#include <QFile>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
using R = Result<NotifierOptions, QString>;
constexpr qint64 MaxTokenFileSize = 16 * 1024;
} // namespace

QStringList splitChannels(const QString &text)
{
    QStringList channels;
    for (const QString &part : text.split(u',', Qt::SkipEmptyParts)) {
        const QString channel = part.trimmed();
        if (!channel.isEmpty() && !channels.contains(channel))
            channels.append(channel);
    }
    return channels;
}

Result<QString, QString> readTokenFile(const QString &path)
{
    using T = Result<QString, QString>;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return T::failure(u"cannot read the token file %1: %2"_s.arg(path, file.errorString()));
    const QByteArray bytes = file.read(MaxTokenFileSize);
    const QString token = QString::fromUtf8(bytes).section(u'\n', 0, 0).trimmed();
    if (token.isEmpty())
        return T::failure(u"the token file %1 is empty"_s.arg(path));
    return token;
}

Result<NotifierOptions, QString> parseNotifierOptions(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Herald notifier: a tray icon that shows a Herald server's notifications for you as desktop "
        "notifications.\nWithout --server it uses the saved settings, or asks for them on the first run."_s);
    const QCommandLineOption help({u"h"_s, u"help"_s}, u"Show this help and exit."_s);
    const QCommandLineOption version({u"v"_s, u"version"_s}, u"Show the version and exit."_s);
    const QCommandLineOption server(u"server"_s, u"The server, e.g. http://host:8000 (skips the dialog)."_s,
                                    u"url"_s);
    const QCommandLineOption user(u"user"_s, u"Your user id, on a server in open mode."_s, u"id"_s);
    const QCommandLineOption tokenFile(u"token-file"_s, u"A file whose first line is your token."_s,
                                       u"file"_s);
    const QCommandLineOption channels(
        u"channels"_s, u"Channels to follow besides your own queue, comma-separated."_s, u"list"_s);
    QCommandLineOption screenshot(u"screenshot"_s,
                                  u"Save a picture of the history and the menu, then quit."_s, u"file"_s);
    screenshot.setFlags(QCommandLineOption::HiddenFromHelp);
    parser.addOptions({help, version, server, user, tokenFile, channels, screenshot});

    if (!parser.parse(arguments))
        return R::failure(parser.errorText() + u" (see --help)"_s);
    if (!parser.positionalArguments().isEmpty())
        return R::failure(
            u"unexpected argument '%1' (see --help)"_s.arg(parser.positionalArguments().constFirst()));

    NotifierOptions options;
    if (parser.isSet(help)) {
        options.action = NotifierOptions::Action::Help;
        // The usage line names the program itself: before the application object exists Qt does not know
        // it, and afterwards (tests) it would name whatever runs the parser.
        const QString text = parser.helpText();
        options.text = u"Usage: herald-notifier [options]"_s + text.mid(text.indexOf(u'\n'));
        return options;
    }
    if (parser.isSet(version)) {
        options.action = NotifierOptions::Action::Version;
        options.text = u"herald-notifier %1\n"_s.arg(QStringLiteral(HERALD_VERSION));
        return options;
    }
    options.screenshotFile = parser.value(screenshot);
    if (parser.isSet(user) && parser.isSet(tokenFile))
        return R::failure(u"--user and --token-file exclude each other (see --help)"_s);
    if ((parser.isSet(user) || parser.isSet(tokenFile) || parser.isSet(channels)) && !parser.isSet(server))
        return R::failure(u"--user, --token-file and --channels need --server (see --help)"_s);
    if (parser.isSet(server)) {
        const QUrl url(parser.value(server), QUrl::StrictMode);
        const QString scheme = url.scheme();
        if (!url.isValid() || url.host().isEmpty() ||
            (scheme != "http"_L1 && scheme != "https"_L1 && scheme != "ws"_L1 && scheme != "wss"_L1))
            return R::failure(u"--server must be an http, https, ws or wss URL with a host"_s);
        options.server = url;
        if (!parser.isSet(user) && !parser.isSet(tokenFile))
            return R::failure(u"--server needs --user or --token-file (see --help)"_s);
    }
    if (parser.isSet(user)) {
        options.userId = parser.value(user).trimmed();
        if (options.userId.isEmpty() || !isValidChannelName(QString(u"user:"_s + options.userId)))
            return R::failure(u"--user: '%1' is not a user id"_s.arg(options.userId));
    }
    options.tokenFile = parser.value(tokenFile);
    if (parser.isSet(channels)) {
        options.channelsGiven = true;
        options.channels = splitChannels(parser.value(channels));
        for (const QString &channel : std::as_const(options.channels)) {
            if (!isValidChannelName(channel))
                return R::failure(u"--channels: '%1' is not a channel name"_s.arg(channel));
        }
    }
    return options;
}

} // namespace Herald
