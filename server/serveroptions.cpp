#include "serveroptions.h"

#include "logging.h"

#include <QCommandLineParser>
#include <QFileInfo>
#include <QSettings>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
using R = Result<ServerOptions, QString>;

// Keys the config file may hold, the same names as the long options.
const QStringList configKeys = {u"bind"_s,          u"port"_s,    u"data-dir"_s,         u"log-level"_s,
                                u"demo-interval"_s, u"workers"_s, u"max-message-size"_s, u"backlog"_s};

std::optional<int> parseInt(const QString &text, int min, int max)
{
    bool ok = false;
    const int v = text.trimmed().toInt(&ok);
    if (!ok || v < min || v > max)
        return std::nullopt;
    return v;
}

// Applies one setting; returns an error line or an empty string.
QString apply(ServerConfig &c, const QString &key, const QString &value)
{
    if (key == u"bind"_s) {
        QHostAddress address;
        const QString v = value.trimmed();
        if (v == u"localhost"_s)
            address = QHostAddress::LocalHost;
        else if (!address.setAddress(v))
            return u"--bind: '%1' is not an IP address"_s.arg(value);
        c.bind = address;
        c.bindText = v;
    } else if (key == u"port"_s) {
        const auto v = parseInt(value, 0, 65535);
        if (!v)
            return u"--port: '%1' is not a port number (0-65535)"_s.arg(value);
        c.port = quint16(*v);
    } else if (key == u"data-dir"_s) {
        if (value.trimmed().isEmpty())
            return u"--data-dir: empty path"_s;
        c.dataDir = value.trimmed();
    } else if (key == u"log-level"_s) {
        const QString v = value.trimmed().toLower();
        if (v != u"debug"_s && v != u"info"_s && v != u"warning"_s && v != u"error"_s)
            return u"--log-level: '%1' is not one of debug, info, warning, error"_s.arg(value);
        c.logLevel = v;
    } else if (key == u"demo-interval"_s) {
        const auto v = parseInt(value, 0, 86400);
        if (!v)
            return u"--demo-interval: '%1' is not a number of seconds (0-86400)"_s.arg(value);
        c.demoIntervalSeconds = *v;
    } else if (key == u"workers"_s) {
        const auto v = parseInt(value, 0, 256);
        if (!v)
            return u"--workers: '%1' is not a thread count (0-256, 0 = one per core)"_s.arg(value);
        c.workerThreads = *v;
    } else if (key == u"max-message-size"_s) {
        const auto v = parseInt(value, 128, 64 * 1024 * 1024);
        if (!v)
            return u"--max-message-size: '%1' is not a size in bytes (128 to 64 MiB)"_s.arg(value);
        c.maxMessageSize = *v;
    } else if (key == u"backlog"_s) {
        const auto v = parseInt(value, 1, 65535);
        if (!v)
            return u"--backlog: '%1' is not a queue length (1-65535)"_s.arg(value);
        c.listenBacklog = *v;
    } else {
        return u"unknown setting '%1'"_s.arg(key);
    }
    return {};
}

QString loadConfigFile(ServerConfig &c, const QString &path)
{
    const QFileInfo info(path);
    if (!info.isFile() || !info.isReadable())
        return u"--config: cannot read %1"_s.arg(path);
    QSettings settings(path, QSettings::IniFormat);
    if (settings.status() != QSettings::NoError)
        return u"--config: %1 is not a valid INI file"_s.arg(path);
    // Settings live in [server]; keys outside it are a mistake worth reporting.
    for (const QString &key : settings.allKeys()) {
        const QString name = key.startsWith(u"server/"_s) ? key.mid(7) : key;
        if (!key.startsWith(u"server/"_s) || !configKeys.contains(name))
            return u"--config: %1: unknown setting '%2'"_s.arg(path, key);
        const QString error = apply(c, name, settings.value(key).toString());
        if (!error.isEmpty())
            return u"--config: %1: %2"_s.arg(path, error.mid(error.indexOf(u':') + 2));
    }
    return {};
}
} // namespace

Result<ServerOptions, QString> parseServerOptions(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Herald: a self-hosted real-time notification hub.\n"
                                     "WebSocket, Server-Sent Events and a JSON REST API on one port."_s);
    const QCommandLineOption help({u"h"_s, u"help"_s}, u"Show this help and exit."_s);
    const QCommandLineOption version({u"v"_s, u"version"_s}, u"Show the version and exit."_s);
    const QCommandLineOption bind(u"bind"_s, u"Address to listen on (default 127.0.0.1)."_s, u"address"_s);
    const QCommandLineOption port(u"port"_s, u"Port for HTTP, WebSocket and SSE (default 8000; 0 = any)."_s,
                                  u"port"_s);
    const QCommandLineOption dataDir(u"data-dir"_s, u"Directory for the database (default ./herald-data)."_s,
                                     u"dir"_s);
    const QCommandLineOption config(u"config"_s, u"INI file with a [server] section of these options."_s,
                                    u"file"_s);
    const QCommandLineOption logLevel(u"log-level"_s, u"debug, info, warning or error (default info)."_s,
                                      u"level"_s);
    const QCommandLineOption demo(
        u"demo-interval"_s, u"Publish a demo notification to users 1 and 2 every N seconds (0 = off)."_s,
        u"seconds"_s);
    const QCommandLineOption workers(u"workers"_s, u"I/O threads (default: one per core)."_s, u"count"_s);
    const QCommandLineOption maxSize(u"max-message-size"_s,
                                     u"Largest WebSocket message or HTTP body in bytes (default 65536)."_s,
                                     u"bytes"_s);
    const QCommandLineOption backlog(u"backlog"_s, u"Listen queue length (default 4096)."_s, u"length"_s);
    parser.addOptions(
        {help, version, bind, port, dataDir, config, logLevel, demo, workers, maxSize, backlog});

    if (!parser.parse(arguments))
        return R::failure(parser.errorText() + u" (see --help)"_s);
    if (!parser.positionalArguments().isEmpty())
        return R::failure(
            u"unexpected argument '%1' (see --help)"_s.arg(parser.positionalArguments().constFirst()));

    ServerOptions options;
    if (parser.isSet(help)) {
        options.action = ServerOptions::Action::Help;
        options.text = parser.helpText();
        return options;
    }
    if (parser.isSet(version)) {
        options.action = ServerOptions::Action::Version;
        options.text = u"herald-server %1\n"_s.arg(QStringLiteral(HERALD_VERSION));
        return options;
    }
    if (parser.isSet(config)) {
        options.config.configFile = parser.value(config);
        const QString error = loadConfigFile(options.config, options.config.configFile);
        if (!error.isEmpty())
            return R::failure(error);
    }
    const std::pair<const QCommandLineOption *, QString> cli[] = {{&bind, u"bind"_s},
                                                                  {&port, u"port"_s},
                                                                  {&dataDir, u"data-dir"_s},
                                                                  {&logLevel, u"log-level"_s},
                                                                  {&demo, u"demo-interval"_s},
                                                                  {&workers, u"workers"_s},
                                                                  {&maxSize, u"max-message-size"_s},
                                                                  {&backlog, u"backlog"_s}};
    for (const auto &[option, key] : cli) {
        if (!parser.isSet(*option))
            continue;
        const QString error = apply(options.config, key, parser.value(*option));
        if (!error.isEmpty())
            return R::failure(error);
    }
    return options;
}

} // namespace Herald
