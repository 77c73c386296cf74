#include "serveroptions.h"

#include "auth.h"
#include "channelname.h"
#include "logging.h"
#include "redisaddress.h"
#include "request.h"

#include <QCommandLineParser>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSettings>

#include <algorithm>
#include <vector>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
using R = Result<ServerOptions, QString>;

// A number with an optional one-letter unit suffix, as "90s", "7d" or "500M"; unknown units and values above
// `max` (in base units) fail.
std::optional<qint64> parseWithUnit(QString text, const QHash<QChar, qint64> &units, qint64 max)
{
    qint64 unit = 1;
    if (!text.isEmpty() && !text.back().isDigit()) {
        if (!units.contains(text.back()))
            return std::nullopt;
        unit = units.value(text.back());
        text.chop(1);
    }
    bool ok = false;
    const qint64 v = text.toLongLong(&ok);
    if (!ok || v < 0 || v > max / unit)
        return std::nullopt;
    return v * unit;
}

// "90", "90s", "15m", "12h", "7d", "2w" → seconds; 0 means "no limit".
std::optional<qint64> parseDuration(const QString &text)
{
    static const QHash<QChar, qint64> units = {
        {u's', 1}, {u'm', 60}, {u'h', 3600}, {u'd', 86400}, {u'w', 604800}};
    return parseWithUnit(text.trimmed().toLower(), units, 100LL * 365 * 86400);
}

// "65536", "64k", "100M", "2G" (a trailing B is allowed) → bytes.
std::optional<qint64> parseSize(const QString &text)
{
    static const QHash<QChar, qint64> units = {
        {u'k', 1024}, {u'm', 1024 * 1024}, {u'g', 1024LL * 1024 * 1024}};
    QString t = text.trimmed().toLower();
    if (t.endsWith(u'b'))
        t.chop(1);
    return parseWithUnit(t, units, 1LL << 50);
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
        const auto v = parseBoundedInt(value, 0, 65535);
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
        const auto v = parseBoundedInt(value, 0, 86400);
        if (!v)
            return u"--demo-interval: '%1' is not a number of seconds (0-86400)"_s.arg(value);
        c.demoIntervalSeconds = *v;
    } else if (key == u"workers"_s) {
        const auto v = parseBoundedInt(value, 0, 256);
        if (!v)
            return u"--workers: '%1' is not a thread count (0-256, 0 = one per core)"_s.arg(value);
        c.workerThreads = *v;
    } else if (key == u"publish-window"_s) {
        const auto v = parseBoundedInt(value, 0, 1024);
        if (!v)
            return u"--publish-window: '%1' is not a count of publishes (0-1024, 0 = answer at once)"_s.arg(
                value);
        c.publishWindow = *v;
    } else if (key == u"max-message-size"_s) {
        const auto v = parseBoundedInt(value, 128, 64 * 1024 * 1024);
        if (!v)
            return u"--max-message-size: '%1' is not a size in bytes (128 to 64 MiB)"_s.arg(value);
        c.maxMessageSize = *v;
    } else if (key == u"backlog"_s) {
        const auto v = parseBoundedInt(value, 1, 65535);
        if (!v)
            return u"--backlog: '%1' is not a queue length (1-65535)"_s.arg(value);
        c.listenBacklog = *v;
    } else if (key == u"history-size"_s) {
        const auto v = parseBoundedInt(value, 0, 100000000);
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
        const auto v = parseBoundedInt(value, 1, 1000000);
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
    } else if (key == u"auth"_s) {
        const QString v = value.trimmed().toLower();
        if (v != u"open"_s && v != u"token"_s)
            return u"--auth: '%1' is not open or token"_s.arg(value);
        c.authMode = v == u"open"_s ? ServerConfig::AuthMode::Open : ServerConfig::AuthMode::Token;
    } else if (key == u"jwt-secret-file"_s) {
        if (value.trimmed().isEmpty())
            return u"--jwt-secret-file: empty path"_s;
        c.jwtSecretFile = value.trimmed();
    } else if (key == u"allowed-origins"_s) {
        QStringList origins;
        for (const QString &o : value.split(u',', Qt::SkipEmptyParts)) {
            const QString t = o.trimmed();
            if (t != u"*"_s && !t.startsWith(u"http://"_s) && !t.startsWith(u"https://"_s))
                return u"--allowed-origins: '%1' is not an origin like https://example.com"_s.arg(t);
            origins.append(t.endsWith(u'/') ? t.chopped(1) : t);
        }
        c.anyOrigin = origins.contains(u"*"_s);
        c.allowedOrigins = c.anyOrigin ? QStringList() : origins;
    } else if (key == u"allowed-hosts"_s) {
        QStringList hosts;
        for (const QString &h : value.split(u',', Qt::SkipEmptyParts)) {
            QString t = h.trimmed().toLower();
            if (t.endsWith(u'.'))
                t.chop(1);
            static const QRegularExpression name(
                u"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$"_s);
            if (!name.match(t).hasMatch())
                return u"--allowed-hosts: '%1' is not a host name like herald.example.com"_s.arg(h.trimmed());
            hosts.append(t);
        }
        c.allowedHosts = hosts;
    } else if (key == u"rate-limit"_s) {
        const auto v = parseBoundedInt(value, 0, 1000000);
        if (!v)
            return u"--rate-limit: '%1' is not a number of messages per second (0 = off)"_s.arg(value);
        c.rateLimit = *v;
    } else if (key == u"max-connections-per-ip"_s) {
        const auto v = parseBoundedInt(value, 0, 10000000);
        if (!v)
            return u"--max-connections-per-ip: '%1' is not a count (0 = no cap)"_s.arg(value);
        c.maxConnectionsPerIp = *v;
    } else if (key == u"idle-timeout"_s) {
        const auto v = parseDuration(value);
        if (!v || (*v != 0 && *v < 2))
            return u"--idle-timeout: '%1' is not a duration of at least 2s (0 = off)"_s.arg(value);
        c.idleTimeout = std::chrono::seconds(*v);
    } else if (key == u"handshake-timeout"_s || key == u"request-timeout"_s || key == u"body-timeout"_s ||
               key == u"write-timeout"_s) {
        // A deadline cannot be turned off: without one a silent client holds its connection forever.
        const auto v = parseDuration(value);
        if (!v || *v < 1 || *v > 3600)
            return u"--%1: '%2' is not a duration from 1s to 1h"_s.arg(key, value);
        const std::chrono::milliseconds ms = std::chrono::seconds(*v);
        if (key == u"handshake-timeout"_s)
            c.tlsHandshakeTimeout = ms;
        else if (key == u"request-timeout"_s)
            c.handshakeTimeout = ms;
        else if (key == u"body-timeout"_s)
            c.bodyTimeout = ms;
        else
            c.writeTimeout = ms;
    } else if (key == u"max-subscriptions"_s) {
        const auto v = parseBoundedInt(value, 1, 1000000);
        if (!v)
            return u"--max-subscriptions: '%1' is not a count (1-1000000)"_s.arg(value);
        c.maxSubscriptions = *v;
    } else if (key == u"send-buffer"_s) {
        const auto v = parseSize(value);
        if (!v || *v < 64 * 1024)
            return u"--send-buffer: '%1' is not a size of at least 64k"_s.arg(value);
        c.maxSendBuffer = *v;
    } else if (key == u"send-stall-timeout"_s) {
        const auto v = parseDuration(value);
        if (!v || *v < 1)
            return u"--send-stall-timeout: '%1' is not a duration of at least 1s"_s.arg(value);
        c.sendStallTimeout = std::chrono::seconds(*v);
    } else if (key == u"tls-cert"_s || key == u"tls-key"_s) {
        if (value.trimmed().isEmpty())
            return u"--%1: empty path"_s.arg(key);
        (key == u"tls-cert"_s ? c.tlsCert : c.tlsKey) = value.trimmed();
    } else if (key == u"redis"_s) {
        const QString v = value.trimmed();
        if (!v.isEmpty() && !RedisAddress::parse(v))
            return u"--redis: '%1' is not a URL like redis://127.0.0.1:6379 (or redis://:password@host:port/db)"_s
                .arg(value);
        c.redisUrl = v;
    } else if (key == u"redis-prefix"_s) {
        const QString v = value.trimmed();
        if (v.isEmpty() || v.size() > 64 || v.contains(u' '))
            return u"--redis-prefix: '%1' is not a key prefix of 1 to 64 characters without spaces"_s.arg(
                value);
        c.redisPrefix = v;
    } else if (key == u"node-id"_s) {
        const QString v = value.trimmed();
        if (!isValidIdentifier(v))
            return u"--node-id: '%1' is not a name of [A-Za-z0-9_.:-]"_s.arg(value);
        c.nodeId = v;
    } else if (key == u"node-ttl"_s) {
        const auto v = parseDuration(value);
        if (!v || *v < 1 || *v > 3600)
            return u"--node-ttl: '%1' is not a duration from 1s to 1h"_s.arg(value);
        c.nodeTtl = std::chrono::seconds(*v);
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

bool isConfigKey(const QString &name);

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
        if (!key.startsWith(u"server/"_s) || !isConfigKey(name))
            return u"--config: %1: unknown setting '%2'"_s.arg(path, key);
        const QString error = apply(c, name, settingText(settings, key));
        if (!error.isEmpty())
            return u"--config: %1: %2"_s.arg(path, error.mid(error.indexOf(u':') + 2));
    }
    return {};
}
} // namespace

namespace {
// Every setting: a long option and a key of the config file's [server] section, or the file only.
struct OptionSpec
{
    const char16_t *name;
    const char16_t *help;
    const char16_t *valueName; // nullptr: config file only
};
constexpr OptionSpec optionSpecs[] = {
    {u"bind", u"Address to listen on (default 127.0.0.1).", u"address"},
    {u"port", u"Port for HTTP, WebSocket and SSE (default 8000; 0 = any).", u"port"},
    {u"data-dir", u"Directory for the database (default ./herald-data).", u"dir"},
    {u"log-level", u"debug, info, warning or error (default info).", u"level"},
    {u"demo-interval", u"Publish a demo notification to users 1 and 2 every N seconds (0 = off).",
     u"seconds"},
    {u"workers", u"I/O threads (default: one per core).", u"count"},
    {u"publish-window",
     u"REST publishes a connection may have in flight before answers wait for the fan-out (default 0 = "
     u"answer "
     u"at once; 1 = after the fan-out, as nchan).",
     u"count"},
    {u"max-message-size", u"Largest WebSocket message or HTTP body in bytes (default 65536).", u"bytes"},
    {u"backlog", u"Listen queue length (default 4096).", u"length"},
    {u"history-size", u"Messages kept per channel for history and replay (default 1000; 0 = no limit).",
     u"count"},
    {u"history-ttl", u"Age after which stored messages are deleted, e.g. 12h, 7d (default 7d; 0 = never).",
     u"duration"},
    {u"replay-limit", u"Most messages one reconnect replays (default 5000).", u"count"},
    {u"max-db-size", u"Largest database, e.g. 500M; when full, publishes get 503 (default: no limit).",
     u"size"},
    {u"auth", u"open or token (default: open on a loopback address, token on any other).", u"mode"},
    {u"jwt-secret-file", u"File holding the HS256 secret that signs tokens (at least 32 bytes).", u"file"},
    {u"allowed-origins",
     u"Comma-separated origins allowed for WebSocket, SSE and CORS besides the server's own, or * (default: "
     u"any "
     u"with --auth token; none with --auth open).",
     u"origins"},
    {u"allowed-hosts",
     u"Host names an open server answers besides localhost and IP addresses (default: none).", u"names"},
    {u"rate-limit", u"Messages per second one connection may send (burst twice that; 0 = off; default 100).",
     u"count"},
    {u"max-connections-per-ip",
     u"Connections one address may hold (0 = no cap; default 0 on loopback, 1000).", u"count"},
    {u"idle-timeout", u"Close a WebSocket silent this long; pinged halfway (default 60s; 0 = off).",
     u"duration"},
    {u"handshake-timeout",
     u"Close a TLS connection whose handshake is not done this long after connecting "
     u"(default 10s).",
     u"duration"},
    {u"request-timeout",
     u"Answer 408 to a connection that sends no complete request head in this long "
     u"(default 10s).",
     u"duration"},
    {u"body-timeout",
     u"Answer 408 to a request whose body is not all there this long after its head "
     u"(default 10s).",
     u"duration"},
    {u"write-timeout",
     u"Close a connection whose client reads nothing of its answer for this long (default "
     u"30s).",
     u"duration"},
    {u"max-subscriptions", u"Channels one connection may subscribe to (default 1000).", u"count"},
    {u"send-buffer",
     u"Bytes queued for one client; a burst or replay beyond it is read from the store as the client reads "
     u"(default 4M).",
     u"size"},
    {u"send-stall-timeout",
     u"Cut off (to resume later) a client owed more than --send-buffer that reads nothing this long (default "
     u"5s).",
     u"duration"},
    {u"tls-cert", u"PEM certificate (chain) for https:// and wss:// on the same port.", u"file"},
    {u"tls-key", u"PEM private key for --tls-cert.", u"file"},
    {u"redis", u"Run as one node of a cluster on this Redis, e.g. redis://127.0.0.1:6379.", u"url"},
    {u"redis-prefix", u"Prefix of the cluster's Redis keys and channels (default herald:).", u"prefix"},
    {u"node-id", u"This node's name in the cluster (default: host-port-random).", u"name"},
    {u"node-ttl", u"A node that stops reporting leaves the cluster totals after this (default 6s).",
     u"duration"},
    {u"sync", nullptr, nullptr},
    {u"ephemeral-channels", nullptr, nullptr},
};

Result<ServerOptions, QString> parseTokenCommand(const QStringList &arguments)
{
    // herald-server token --sub alice --role publisher --ttl 1h [--channels 'news,user:*'] (--jwt-secret-file
    // F | --config F): prints one signed token, for scripts and for trying token mode by hand.
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Mints an HS256 token for herald-server --auth token."_s);
    const QCommandLineOption help({u"h"_s, u"help"_s}, u"Show this help and exit."_s);
    const QCommandLineOption sub(u"sub"_s, u"The user the token is for (its user:<sub> queue)."_s, u"id"_s);
    const QCommandLineOption role(u"role"_s, u"subscriber, publisher or admin (default subscriber)."_s,
                                  u"role"_s);
    const QCommandLineOption ttl(u"ttl"_s, u"Lifetime, e.g. 15m, 1h, 30d (default 1h; 0 = no expiry)."_s,
                                 u"duration"_s);
    const QCommandLineOption channels(u"channels"_s, u"Comma-separated channel patterns it may use."_s,
                                      u"patterns"_s);
    const QCommandLineOption secret(u"jwt-secret-file"_s, u"The server's secret file."_s, u"file"_s);
    const QCommandLineOption config(u"config"_s, u"Read jwt-secret-file from this config."_s, u"file"_s);
    parser.addOptions({help, sub, role, ttl, channels, secret, config});
    if (!parser.parse(arguments))
        return R::failure(u"token: "_s + parser.errorText());
    ServerOptions options;
    options.action = ServerOptions::Action::Token;
    if (parser.isSet(help)) {
        options.action = ServerOptions::Action::Help;
        options.text = parser.helpText();
        return options;
    }
    if (parser.positionalArguments().size() > 1)
        return R::failure(u"token: unexpected argument '%1'"_s.arg(parser.positionalArguments().at(1)));
    if (parser.isSet(config)) {
        const QString error = loadConfigFile(options.config, parser.value(config));
        if (!error.isEmpty())
            return R::failure(error);
    }
    if (parser.isSet(secret))
        options.config.jwtSecretFile = parser.value(secret);
    if (options.config.jwtSecretFile.isEmpty())
        return R::failure(u"token: --jwt-secret-file (or --config with jwt-secret-file) is required"_s);
    options.token.subject = parser.value(sub);
    if (!isValidIdentifier(options.token.subject))
        return R::failure(u"token: --sub must match [A-Za-z0-9_.:-]{1,121}"_s);
    if (parser.isSet(role)) {
        const auto r = roleFromName(parser.value(role));
        if (!r)
            return R::failure(u"token: --role must be subscriber, publisher or admin"_s);
        options.token.role = *r;
    }
    if (parser.isSet(ttl)) {
        const auto t = parseDuration(parser.value(ttl));
        if (!t)
            return R::failure(
                u"token: --ttl '%1' is not a duration (e.g. 15m, 1h, 30d)"_s.arg(parser.value(ttl)));
        options.token.ttl = std::chrono::seconds(*t);
    }
    for (const QString &p : parser.value(channels).split(u',', Qt::SkipEmptyParts))
        options.token.channels.append(p.trimmed());
    if (const QString e = channelPatternsError(options.token.channels); !e.isEmpty())
        return R::failure(u"token: --channels: "_s + e);
    return options;
}
bool isConfigKey(const QString &name)
{
    for (const OptionSpec &spec : optionSpecs) {
        if (name == QStringView(spec.name))
            return true;
    }
    return false;
}
} // namespace

Result<ServerOptions, QString> parseServerOptions(const QStringList &arguments)
{
    if (arguments.size() > 1 && arguments.at(1) == u"token"_s)
        return parseTokenCommand(arguments.mid(0, 1) + arguments.mid(1));

    QCommandLineParser parser;
    parser.setApplicationDescription(u"Herald: a self-hosted real-time notification hub.\n"
                                     "WebSocket, Server-Sent Events and a JSON REST API on one port.\n\n"
                                     "herald-server token --sub ID --role ROLE --ttl 1h --jwt-secret-file F\n"
                                     "  prints a token for --auth token."_s);
    const QCommandLineOption help({u"h"_s, u"help"_s}, u"Show this help and exit."_s);
    const QCommandLineOption version({u"v"_s, u"version"_s}, u"Show the version and exit."_s);
    const QCommandLineOption config(u"config"_s, u"INI file with a [server] section of these options."_s,
                                    u"file"_s);
    parser.addOptions({help, version, config});
    std::vector<std::pair<QCommandLineOption, QString>> cli;
    for (const OptionSpec &spec : optionSpecs) {
        if (!spec.valueName)
            continue;
        const QString name = QString::fromUtf16(spec.name);
        cli.emplace_back(
            QCommandLineOption(name, QString::fromUtf16(spec.help), QString::fromUtf16(spec.valueName)),
            name);
        parser.addOption(cli.back().first);
    }

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
    for (const auto &[option, key] : cli) {
        if (!parser.isSet(option))
            continue;
        const QString error = apply(options.config, key, parser.value(option));
        if (!error.isEmpty())
            return R::failure(error);
    }
    if (options.config.tlsCert.isEmpty() != options.config.tlsKey.isEmpty())
        return R::failure(u"--tls-cert and --tls-key go together"_s);
    return options;
}

} // namespace Herald
