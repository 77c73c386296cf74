#include "serveroptions.h"

#include "channelname.h"
#include "logging.h"

#include <QCommandLineParser>
#include <QFileInfo>
#include <QSettings>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
using R = Result<ServerOptions, QString>;

// Keys the config file may hold, the same names as the long options.
const QStringList configKeys = {u"bind"_s,
                                u"port"_s,
                                u"data-dir"_s,
                                u"log-level"_s,
                                u"demo-interval"_s,
                                u"workers"_s,
                                u"max-message-size"_s,
                                u"backlog"_s,
                                u"history-size"_s,
                                u"history-ttl"_s,
                                u"replay-limit"_s,
                                u"max-db-size"_s,
                                u"sync"_s,
                                u"ephemeral-channels"_s};

std::optional<int> parseInt(const QString &text, int min, int max)
{
    bool ok = false;
    const int v = text.trimmed().toInt(&ok);
    if (!ok || v < min || v > max)
        return std::nullopt;
    return v;
}

// "90", "90s", "15m", "12h", "7d" → seconds; 0 means "no limit".
std::optional<qint64> parseDuration(const QString &text)
{
    QString t = text.trimmed().toLower();
    qint64 unit = 1;
    if (!t.isEmpty() && !t.back().isDigit()) {
        static const QHash<QChar, qint64> units = {
            {u's', 1}, {u'm', 60}, {u'h', 3600}, {u'd', 86400}, {u'w', 604800}};
        if (!units.contains(t.back()))
            return std::nullopt;
        unit = units.value(t.back());
        t.chop(1);
    }
    bool ok = false;
    const qint64 v = t.toLongLong(&ok);
    if (!ok || v < 0 || v > 100LL * 365 * 86400 / unit)
        return std::nullopt;
    return v * unit;
}

// "65536", "64k", "100M", "2G" → bytes.
std::optional<qint64> parseSize(const QString &text)
{
    QString t = text.trimmed().toLower();
    if (t.endsWith(u'b'))
        t.chop(1);
    qint64 unit = 1;
    if (!t.isEmpty() && !t.back().isDigit()) {
        static const QHash<QChar, qint64> units = {
            {u'k', 1024}, {u'm', 1024 * 1024}, {u'g', 1024LL * 1024 * 1024}};
        if (!units.contains(t.back()))
            return std::nullopt;
        unit = units.value(t.back());
        t.chop(1);
    }
    bool ok = false;
    const qint64 v = t.toLongLong(&ok);
    if (!ok || v < 0 || v > (1LL << 50) / unit)
        return std::nullopt;
    return v * unit;
}

QString channelPatternsError(const QStringList &patterns)
{
    for (const QString &p : patterns) {
        QString bare = p;
        bare.remove(u'*');
        if (p.isEmpty() || (!bare.isEmpty() && !isValidChannelName(bare)))
            return u"'%1' is not a channel pattern ([A-Za-z0-9_.:-] and *)"_s.arg(p);
    }
    return {};
}

// A [retention] entry: "COUNT" or "COUNT,TTL" (either may be 0 for no limit).
QString parseRetention(const QString &pattern, const QString &value, RetentionRule &rule)
{
    if (const QString e = channelPatternsError({pattern}); !e.isEmpty())
        return e;
    const QStringList parts = value.split(u',');
    bool ok = false;
    const int count = parts.value(0).trimmed().toInt(&ok);
    if (!ok || count < 0 || parts.size() > 2)
        return u"'%1' is not COUNT or COUNT,TTL (e.g. 500,7d)"_s.arg(value);
    rule.pattern = pattern;
    rule.maxCount = count;
    if (parts.size() == 2) {
        const auto ttl = parseDuration(parts.at(1));
        if (!ttl)
            return u"'%1' is not a duration (e.g. 90s, 15m, 12h, 7d)"_s.arg(parts.at(1));
        rule.maxAge = std::chrono::seconds(*ttl);
    }
    return {};
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
    } else if (key == u"history-size"_s) {
        const auto v = parseInt(value, 0, 100000000);
        if (!v)
            return u"--history-size: '%1' is not a message count (0 = no count limit)"_s.arg(value);
        c.defaultRetention.maxCount = *v;
    } else if (key == u"history-ttl"_s) {
        const auto v = parseDuration(value);
        if (!v)
            return u"--history-ttl: '%1' is not a duration (e.g. 90s, 15m, 12h, 7d; 0 = no age limit)"_s.arg(
                value);
        c.defaultRetention.maxAge = std::chrono::seconds(*v);
    } else if (key == u"replay-limit"_s) {
        const auto v = parseInt(value, 1, 1000000);
        if (!v)
            return u"--replay-limit: '%1' is not a message count (1-1000000)"_s.arg(value);
        c.replayLimit = *v;
    } else if (key == u"max-db-size"_s) {
        const auto v = parseSize(value);
        if (!v || (*v != 0 && *v < 64 * 1024))
            return u"--max-db-size: '%1' is not a size of at least 64k (e.g. 500M, 2G; 0 = no limit)"_s.arg(
                value);
        c.maxDatabaseSize = *v;
    } else if (key == u"sync"_s) {
        const QString v = value.trimmed().toLower();
        if (v != u"normal"_s && v != u"full"_s)
            return u"sync: '%1' is not normal or full"_s.arg(value);
        c.synchronousFull = v == u"full"_s;
    } else if (key == u"ephemeral-channels"_s) {
        QStringList patterns;
        for (const QString &p : value.split(u',', Qt::SkipEmptyParts))
            patterns.append(p.trimmed());
        if (const QString e = channelPatternsError(patterns); !e.isEmpty())
            return u"ephemeral-channels: "_s + e;
        // client:<id> channels stay ephemeral whatever the setting: nobody could ever replay them.
        if (!patterns.contains(u"client:*"_s))
            patterns.append(u"client:*"_s);
        c.ephemeralChannels = patterns;
    } else {
        return u"unknown setting '%1'"_s.arg(key);
    }
    return {};
}

// QSettings reads "a, b" as a list of two strings; every setting here is text, commas included.
QString settingText(const QSettings &settings, const QString &key)
{
    const QVariant v = settings.value(key);
    if (v.typeId() == QMetaType::QStringList)
        return v.toStringList().join(u',');
    return v.toString();
}

QString loadConfigFile(ServerConfig &c, const QString &path)
{
    const QFileInfo info(path);
    if (!info.isFile() || !info.isReadable())
        return u"--config: cannot read %1"_s.arg(path);
    QSettings settings(path, QSettings::IniFormat);
    if (settings.status() != QSettings::NoError)
        return u"--config: %1 is not a valid INI file"_s.arg(path);
    // [retention]: one rule per channel pattern. QSettings does not keep the file's order, so the most
    // specific pattern (the longest without its stars) is tried first.
    settings.beginGroup(u"retention"_s);
    QList<RetentionRule> rules;
    for (const QString &pattern : settings.childKeys()) {
        RetentionRule rule = c.defaultRetention;
        const QString error = parseRetention(pattern, settingText(settings, pattern), rule);
        if (!error.isEmpty())
            return u"--config: %1: [retention] %2"_s.arg(path, error);
        rules.append(rule);
    }
    settings.endGroup();
    std::stable_sort(rules.begin(), rules.end(), [](const RetentionRule &a, const RetentionRule &b) {
        return QString(a.pattern).remove(u'*').size() > QString(b.pattern).remove(u'*').size();
    });
    c.retentionRules = rules;
    // Settings live in [server]; keys outside it are a mistake worth reporting.
    for (const QString &key : settings.allKeys()) {
        if (key.startsWith(u"retention/"_s))
            continue;
        const QString name = key.startsWith(u"server/"_s) ? key.mid(7) : key;
        if (!key.startsWith(u"server/"_s) || !configKeys.contains(name))
            return u"--config: %1: unknown setting '%2'"_s.arg(path, key);
        const QString error = apply(c, name, settingText(settings, key));
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
    const QCommandLineOption historySize(
        u"history-size"_s,
        u"Messages kept per channel for history and replay (default 1000; 0 = no limit)."_s, u"count"_s);
    const QCommandLineOption historyTtl(
        u"history-ttl"_s,
        u"Age after which stored messages are deleted, e.g. 12h, 7d (default 7d; 0 = never)."_s,
        u"duration"_s);
    const QCommandLineOption replayLimit(
        u"replay-limit"_s, u"Most messages one reconnect replays (default 5000)."_s, u"count"_s);
    const QCommandLineOption maxDbSize(
        u"max-db-size"_s, u"Largest database, e.g. 500M; when full, publishes get 503 (default: no limit)."_s,
        u"size"_s);
    parser.addOptions({help, version, bind, port, dataDir, config, logLevel, demo, workers, maxSize, backlog,
                       historySize, historyTtl, replayLimit, maxDbSize});

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
                                                                  {&backlog, u"backlog"_s},
                                                                  {&historySize, u"history-size"_s},
                                                                  {&historyTtl, u"history-ttl"_s},
                                                                  {&replayLimit, u"replay-limit"_s},
                                                                  {&maxDbSize, u"max-db-size"_s}};
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
