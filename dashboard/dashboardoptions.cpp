#include "dashboardoptions.h"

#include "adminclient.h"
#include "request.h"

#include <QCommandLineParser>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
using R = Result<DashboardOptions, QString>;

} // namespace

Result<DashboardOptions, QString> parseDashboardOptions(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Herald dashboard: live counts, messages and clients of a Herald notification hub.\n"
        "Without --connect it starts an embedded server in-process and watches that."_s);
    const QCommandLineOption help({u"h"_s, u"help"_s}, u"Show this help and exit."_s);
    const QCommandLineOption version({u"v"_s, u"version"_s}, u"Show the version and exit."_s);
    const QCommandLineOption connectTo(
        u"connect"_s, u"Watch a remote server, e.g. ws://host:8000 (its /ws/server feed)."_s, u"url"_s);
    const QCommandLineOption token(u"token"_s, u"Admin token for --connect (default: the saved one)."_s,
                                   u"token"_s);
    const QCommandLineOption port(
        u"port"_s, u"Port of the embedded server (default 8000; any free one if busy)."_s, u"port"_s);
    const QCommandLineOption dataDir(
        u"data-dir"_s, u"Data directory of the embedded server (default: the app data dir)."_s, u"dir"_s);
    const QCommandLineOption demo(
        u"demo-interval"_s, u"Embedded server: publish a demo notification every N seconds."_s, u"seconds"_s);
    QCommandLineOption screenshot(u"screenshot"_s, u"Save a screenshot of the window and quit."_s, u"file"_s);
    screenshot.setFlags(QCommandLineOption::HiddenFromHelp);
    QCommandLineOption screenshotDelay(u"screenshot-delay"_s, u"Milliseconds before --screenshot."_s,
                                       u"ms"_s);
    screenshotDelay.setFlags(QCommandLineOption::HiddenFromHelp);
    parser.addOptions({help, version, connectTo, token, port, dataDir, demo, screenshot, screenshotDelay});

    if (!parser.parse(arguments))
        return R::failure(parser.errorText() + u" (see --help)"_s);
    if (!parser.positionalArguments().isEmpty())
        return R::failure(
            u"unexpected argument '%1' (see --help)"_s.arg(parser.positionalArguments().constFirst()));

    DashboardOptions options;
    if (parser.isSet(help)) {
        options.action = DashboardOptions::Action::Help;
        // Parsed before the application object exists, so Qt cannot know the program's name yet.
        options.text = parser.helpText().replace(u"<executable_name>"_s, u"herald-dashboard"_s);
        return options;
    }
    if (parser.isSet(version)) {
        options.action = DashboardOptions::Action::Version;
        options.text = u"herald-dashboard %1\n"_s.arg(QStringLiteral(HERALD_VERSION));
        return options;
    }
    if (parser.isSet(connectTo)) {
        options.connectUrl = AdminClient::feedUrl(parser.value(connectTo));
        if (options.connectUrl.isEmpty())
            return R::failure(u"--connect: '%1' is not a ws://, wss://, http:// or https:// URL"_s.arg(
                parser.value(connectTo)));
        for (const QCommandLineOption *o : {&port, &dataDir, &demo}) {
            if (parser.isSet(*o))
                return R::failure(
                    u"--%1 configures the embedded server and cannot be used with --connect"_s.arg(
                        o->names().constFirst()));
        }
    } else if (parser.isSet(token)) {
        return R::failure(u"--token is for --connect: the embedded server needs none"_s);
    }
    if (parser.isSet(token)) {
        options.token = parser.value(token);
        options.tokenGiven = true;
    }
    if (parser.isSet(port)) {
        const auto v = parseBoundedInt(parser.value(port), 0, 65535);
        if (!v)
            return R::failure(u"--port: '%1' is not a port number (0-65535)"_s.arg(parser.value(port)));
        options.port = quint16(*v);
    }
    if (parser.isSet(dataDir)) {
        options.dataDir = parser.value(dataDir).trimmed();
        if (options.dataDir.isEmpty())
            return R::failure(u"--data-dir: empty path"_s);
    }
    if (parser.isSet(demo)) {
        const auto v = parseBoundedInt(parser.value(demo), 0, 86400);
        if (!v)
            return R::failure(
                u"--demo-interval: '%1' is not a number of seconds (0-86400)"_s.arg(parser.value(demo)));
        options.demoIntervalSeconds = *v;
    }
    if (parser.isSet(screenshot))
        options.screenshotFile = parser.value(screenshot);
    if (parser.isSet(screenshotDelay)) {
        const auto v = parseBoundedInt(parser.value(screenshotDelay), 0, 3600 * 1000);
        if (!v)
            return R::failure(u"--screenshot-delay: '%1' is not a number of milliseconds"_s.arg(
                parser.value(screenshotDelay)));
        options.screenshotDelayMs = *v;
    }
    return options;
}

} // namespace Herald
