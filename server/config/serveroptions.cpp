#include "serveroptions.h"

#include "auth.h"
#include "channelname.h"
#include "redisaddress.h"
#include "request.h"

#include <QCommandLineParser>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>

#include <algorithm>
#include <functional>
#include <limits>
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

// Every setting is one row: its long option, which is also its key in the config file's [server] section, its
// help, the name of its value, and how it is read and applied. One table, so an option cannot exist in one
// place and not the other, and adding one is adding a row. `apply` returns an empty string or what is wrong
// with the value, without the setting's name: the caller adds "--name" or the file's line.
using Apply = std::function<QString(ServerConfig &, const QString &)>;
// A setting's value as its help shows it. With one, the help's %1 is ServerConfig's default in that form, so
// a default is written once, where ServerConfig declares it.
using Show = std::function<QString(const ServerConfig &)>;
struct OptionSpec
{
    const char16_t *name;
    const char16_t *help;
    const char16_t *valueName;
    Apply apply;
    Show shown = {};
};

// The help of a setting, with its default filled in.
QString helpOf(const OptionSpec &spec)
{
    const QString help = QString::fromUtf16(spec.help);
    return spec.shown ? help.arg(spec.shown(ServerConfig())) : help;
}

// How the help shows a default: a number as it is; a duration in days when it is whole days, else in seconds
// ("7d", "60s"); a size in MiB or KiB when it is whole ones ("4M").
template<typename T>
Show asNumber(T ServerConfig::*member)
{
    return [member](const ServerConfig &c) {
        return QString::number(c.*member);
    };
}
QString durationText(qint64 seconds)
{
    return seconds > 0 && seconds % 86400 == 0 ? u"%1d"_s.arg(seconds / 86400) : u"%1s"_s.arg(seconds);
}
template<typename D>
Show asDuration(D ServerConfig::*member)
{
    return [member](const ServerConfig &c) {
        return durationText(std::chrono::duration_cast<std::chrono::seconds>(c.*member).count());
    };
}
template<typename T>
Show asSize(T ServerConfig::*member)
{
    return [member](const ServerConfig &c) {
        const qint64 v = c.*member;
        if (v > 0 && v % (1024 * 1024) == 0)
            return u"%1M"_s.arg(v / (1024 * 1024));
        if (v > 0 && v % 1024 == 0)
            return u"%1k"_s.arg(v / 1024);
        return QString::number(v);
    };
}
Show asText(QString ServerConfig::*member)
{
    return [member](const ServerConfig &c) {
        return c.*member;
    };
}

// The kinds of value below build a row's `apply` from where the value goes and the error for a value they
// refuse ("'%1' is not …", %1 the value as given), so a row says only what differs from the others.

// Where a number goes: a ServerConfig member, or a small lambda where the member is nested.
using SetNumber = std::function<void(ServerConfig &, qint64)>;

template<typename T>
SetNumber into(T ServerConfig::*member)
{
    return [member](ServerConfig &c, qint64 v) {
        // Durations are read in seconds; the member may hold milliseconds.
        if constexpr (requires { typename T::period; })
            c.*member = std::chrono::seconds(v);
        else
            c.*member = T(v);
    };
}

// What a number may be: min to max, and 0 too where 0 means "off" or "no limit" below min.
struct Range
{
    qint64 min;
    qint64 max;
    bool orZero;
};
constexpr Range from(qint64 min)
{
    return Range{min, std::numeric_limits<qint64>::max(), false};
}
constexpr Range fromOrZero(qint64 min)
{
    return Range{min, std::numeric_limits<qint64>::max(), true};
}
constexpr Range between(qint64 min, qint64 max)
{
    return Range{min, max, false};
}

using ReadNumber = std::optional<qint64> (*)(const QString &);

Apply number(ReadNumber read, Range range, SetNumber set, const QString &expected)
{
    return [=](ServerConfig &c, const QString &value) -> QString {
        const auto v = read(value);
        if (!v || *v > range.max || (*v < range.min && !(range.orZero && *v == 0)))
            return expected.arg(value);
        set(c, *v);
        return {};
    };
}

std::optional<qint64> readInteger(const QString &text)
{
    const auto v = parseBoundedInt(text, std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
    return v ? std::optional<qint64>(*v) : std::nullopt;
}

// A plain integer.
Apply integer(Range range, SetNumber set, const QString &expected)
{
    return number(readInteger, range, std::move(set), expected);
}

// A duration, "90", "90s", "15m", "12h", "7d", "2w", in seconds.
Apply duration(Range range, SetNumber set, const QString &expected)
{
    return number(parseDuration, range, std::move(set), expected);
}

// A deadline on a phase of a connection. It cannot be turned off: without one a silent client holds its
// connection forever.
Apply deadline(SetNumber set)
{
    return duration(between(1, 3600), std::move(set), u"'%1' is not a duration from 1s to 1h"_s);
}

// A size, "65536", "64k", "100M", "2G", in bytes.
Apply size(Range range, SetNumber set, const QString &expected)
{
    return number(parseSize, range, std::move(set), expected);
}

// A file or directory: the value trimmed, not empty.
Apply path(QString ServerConfig::*member)
{
    return [member](ServerConfig &c, const QString &value) -> QString {
        if (value.trimmed().isEmpty())
            return u"empty path"_s;
        c.*member = value.trimmed();
        return {};
    };
}

// One of a few words, whatever their case; `set` gets the word in lower case.
Apply choice(const QStringList &words, std::function<void(ServerConfig &, const QString &)> set)
{
    // "normal or full", "one of debug, info, warning, error"
    const QString expected =
        words.size() == 2 ? words.join(u" or "_s) : QString(u"one of "_s + words.join(u", "_s));
    return [=](ServerConfig &c, const QString &value) -> QString {
        const QString v = value.trimmed().toLower();
        if (!words.contains(v))
            return u"'%1' is not %2"_s.arg(value, expected);
        set(c, v);
        return {};
    };
}

const OptionSpec optionSpecs[] = {
    {u"bind", u"Address to listen on (default %1).", u"address",
     [](ServerConfig &c, const QString &value) -> QString {
         QHostAddress address;
         const QString v = value.trimmed();
         if (v == u"localhost"_s)
             address = QHostAddress::LocalHost;
         else if (!address.setAddress(v))
             return u"'%1' is not an IP address"_s.arg(value);
         c.bind = address;
         c.bindText = v;
         return {};
     },
     asText(&ServerConfig::bindText)},
    {u"port", u"Port for HTTP, WebSocket and SSE (default %1; 0 = any).", u"port",
     integer(between(0, 65535), into(&ServerConfig::port), u"'%1' is not a port number (0-65535)"_s),
     asNumber(&ServerConfig::port)},
    {u"data-dir", u"Directory for the database (default %1).", u"dir", path(&ServerConfig::dataDir),
     asText(&ServerConfig::dataDir)},
    {u"log-level", u"debug, info, warning or error (default %1).", u"level",
     choice({u"debug"_s, u"info"_s, u"warning"_s, u"error"_s},
            [](ServerConfig &c, const QString &v) { c.logLevel = v; }),
     asText(&ServerConfig::logLevel)},
    {u"demo-interval", u"Publish a demo notification to users 1 and 2 every N seconds (default 0 = off).",
     u"seconds",
     integer(between(0, 86400), into(&ServerConfig::demoIntervalSeconds),
             u"'%1' is not a number of seconds (0-86400)"_s)},
    {u"workers", u"I/O threads (default: one per core).", u"count",
     integer(between(0, 256), into(&ServerConfig::workerThreads),
             u"'%1' is not a thread count (0-256, 0 = one per core)"_s)},
    {u"publish-window",
     u"REST publishes a connection may have in flight before answers wait for the fan-out (default 0 = "
     u"answer "
     u"at once; 1 = after the fan-out, as nchan).",
     u"count",
     integer(between(0, 1024), into(&ServerConfig::publishWindow),
             u"'%1' is not a count of publishes (0-1024, 0 = answer at once)"_s)},
    {u"max-message-size", u"Largest WebSocket message or HTTP body in bytes (default %1).", u"bytes",
     integer(between(128, 64 * 1024 * 1024), into(&ServerConfig::maxMessageSize),
             u"'%1' is not a size in bytes (128 to 64 MiB)"_s),
     asNumber(&ServerConfig::maxMessageSize)},
    {u"backlog", u"Listen queue length (default %1).", u"length",
     integer(between(1, 65535), into(&ServerConfig::listenBacklog),
             u"'%1' is not a queue length (1-65535)"_s),
     asNumber(&ServerConfig::listenBacklog)},
    {u"history-size", u"Messages kept per channel for history and replay (default %1; 0 = no limit).",
     u"count",
     integer(
         between(0, 100000000), [](ServerConfig &c, qint64 v) { c.defaultRetention.maxCount = int(v); },
         u"'%1' is not a message count (0 = no count limit)"_s),
     [](const ServerConfig &c) {
         return QString::number(c.defaultRetention.maxCount);
     }},
    {u"history-ttl", u"Age after which stored messages are deleted, e.g. 12h, 7d (default %1; 0 = never).",
     u"duration",
     duration(
         from(0), [](ServerConfig &c, qint64 v) { c.defaultRetention.maxAge = std::chrono::seconds(v); },
         u"'%1' is not a duration (e.g. 90s, 15m, 12h, 7d; 0 = no age limit)"_s),
     [](const ServerConfig &c) {
         return durationText(c.defaultRetention.maxAge.count());
     }},
    {u"replay-limit", u"Most messages one reconnect replays (default %1).", u"count",
     integer(between(1, 1000000), into(&ServerConfig::replayLimit),
             u"'%1' is not a message count (1-1000000)"_s),
     asNumber(&ServerConfig::replayLimit)},
    {u"max-db-size", u"Largest database, e.g. 500M; when full, publishes get 503 (default: no limit).",
     u"size",
     size(fromOrZero(64 * 1024), into(&ServerConfig::maxDatabaseSize),
          u"'%1' is not a size of at least 64k (e.g. 500M, 2G; 0 = no limit)"_s)},
    {u"sync",
     u"normal: a commit survives a crash of the process (kill -9); full: also a power cut, at an fsync "
     u"per "
     u"commit (default %1).",
     u"mode",
     choice({u"normal"_s, u"full"_s},
            [](ServerConfig &c, const QString &v) { c.synchronousFull = v == u"full"_s; }),
     [](const ServerConfig &c) {
         return c.synchronousFull ? u"full"_s : u"normal"_s;
     }},
    {u"idempotency-window",
     u"How long a publish's Idempotency-Key is remembered: a retry within it gets the first answer and "
     u"publishes nothing (default %1).",
     u"duration",
     duration(between(1, 30 * 86400), into(&ServerConfig::idempotencyWindow),
              u"'%1' is not a duration from 1s to 30d"_s),
     asDuration(&ServerConfig::idempotencyWindow)},
    {u"ephemeral-channels",
     u"Comma-separated channel patterns delivered live but never stored or replayed (client:* always "
     u"is).",
     u"patterns",
     [](ServerConfig &c, const QString &value) -> QString {
         QStringList patterns;
         for (const QString &p : value.split(u',', Qt::SkipEmptyParts))
             patterns.append(p.trimmed());
         if (const QString e = channelPatternsError(patterns); !e.isEmpty())
             return e;
         // client:<id> channels stay ephemeral whatever the setting: nobody could ever replay them.
         if (!patterns.contains(u"client:*"_s))
             patterns.append(u"client:*"_s);
         c.ephemeralChannels = patterns;
         return {};
     }},
    {u"auth", u"open or token (default: open on a loopback address, token on any other).", u"mode",
     choice({u"open"_s, u"token"_s},
            [](ServerConfig &c, const QString &v) {
                c.authMode = v == u"open"_s ? ServerConfig::AuthMode::Open : ServerConfig::AuthMode::Token;
            })},
    {u"jwt-secret-file", u"File holding the HS256 secret that signs tokens (at least 32 bytes).", u"file",
     path(&ServerConfig::jwtSecretFile)},
    {u"allowed-origins",
     u"Comma-separated origins allowed for WebSocket, SSE and CORS besides the server's own, or * "
     u"(default: "
     u"any "
     u"with --auth token; none with --auth open).",
     u"origins",
     [](ServerConfig &c, const QString &value) -> QString {
         QStringList origins;
         for (const QString &o : value.split(u',', Qt::SkipEmptyParts)) {
             const QString t = o.trimmed();
             if (t != u"*"_s && !t.startsWith(u"http://"_s) && !t.startsWith(u"https://"_s))
                 return u"'%1' is not an origin like https://example.com"_s.arg(t);
             origins.append(t.endsWith(u'/') ? t.chopped(1) : t);
         }
         c.anyOrigin = origins.contains(u"*"_s);
         c.allowedOrigins = c.anyOrigin ? QStringList() : origins;
         return {};
     }},
    {u"allowed-hosts",
     u"Host names an open server answers besides localhost and IP addresses (default: none).", u"names",
     [](ServerConfig &c, const QString &value) -> QString {
         QStringList hosts;
         for (const QString &h : value.split(u',', Qt::SkipEmptyParts)) {
             QString t = h.trimmed().toLower();
             if (t.endsWith(u'.'))
                 t.chop(1);
             static const QRegularExpression name(
                 u"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$"_s);
             if (!name.match(t).hasMatch())
                 return u"'%1' is not a host name like herald.example.com"_s.arg(h.trimmed());
             hosts.append(t);
         }
         c.allowedHosts = hosts;
         return {};
     }},
    // What the session counts: every text or binary WebSocket frame from the client, control frames
    // aside.
    {u"rate-limit",
     u"WebSocket frames per second one connection may send (burst twice that; 0 = off; default %1).",
     u"count",
     integer(between(0, 1000000), into(&ServerConfig::rateLimit),
             u"'%1' is not a number of frames per second (0 = off)"_s),
     asNumber(&ServerConfig::rateLimit)},
    {u"max-connections-per-ip",
     u"Connections one address may hold (0 = no cap; default 0 on loopback, 1000 otherwise).", u"count",
     integer(between(0, 10000000), into(&ServerConfig::maxConnectionsPerIp),
             u"'%1' is not a count (0 = no cap)"_s)},
    {u"idle-timeout", u"Close a WebSocket silent this long; pinged halfway (default %1; 0 = off).",
     u"duration",
     duration(fromOrZero(2), into(&ServerConfig::idleTimeout),
              u"'%1' is not a duration of at least 2s (0 = off)"_s),
     asDuration(&ServerConfig::idleTimeout)},
    {u"handshake-timeout",
     u"Close a TLS connection whose handshake is not done this long after connecting (default %1).",
     u"duration", deadline(into(&ServerConfig::tlsHandshakeTimeout)),
     asDuration(&ServerConfig::tlsHandshakeTimeout)},
    {u"request-timeout",
     u"Answer 408 to a connection that sends no complete request head in this long (default %1).",
     u"duration", deadline(into(&ServerConfig::handshakeTimeout)),
     asDuration(&ServerConfig::handshakeTimeout)},
    {u"body-timeout",
     u"Answer 408 to a request whose body is not all there this long after its head (default %1).",
     u"duration", deadline(into(&ServerConfig::bodyTimeout)), asDuration(&ServerConfig::bodyTimeout)},
    {u"write-timeout",
     u"Close a connection whose client reads nothing of its answer for this long (default %1).", u"duration",
     deadline(into(&ServerConfig::writeTimeout)), asDuration(&ServerConfig::writeTimeout)},
    {u"max-subscriptions", u"Channels one connection may subscribe to (default %1).", u"count",
     integer(between(1, 1000000), into(&ServerConfig::maxSubscriptions),
             u"'%1' is not a count (1-1000000)"_s),
     asNumber(&ServerConfig::maxSubscriptions)},
    {u"send-buffer",
     u"Bytes queued for one client; a burst or replay beyond it is read from the store as the client "
     u"reads "
     u"(default %1).",
     u"size",
     size(from(64 * 1024), into(&ServerConfig::maxSendBuffer), u"'%1' is not a size of at least 64k"_s),
     asSize(&ServerConfig::maxSendBuffer)},
    {u"send-stall-timeout",
     u"Cut off (to resume later) a client owed more than --send-buffer that reads nothing this long "
     u"(default "
     u"%1).",
     u"duration",
     duration(from(1), into(&ServerConfig::sendStallTimeout), u"'%1' is not a duration of at least 1s"_s),
     asDuration(&ServerConfig::sendStallTimeout)},
    {u"tls-cert", u"PEM certificate (chain) for https:// and wss:// on the same port.", u"file",
     path(&ServerConfig::tlsCert)},
    {u"tls-key", u"PEM private key for --tls-cert.", u"file", path(&ServerConfig::tlsKey)},
    {u"redis", u"Run as one node of a cluster on this Redis, e.g. redis://127.0.0.1:6379.", u"url",
     [](ServerConfig &c, const QString &value) -> QString {
         const QString v = value.trimmed();
         if (!v.isEmpty() && !RedisAddress::parse(v))
             return u"'%1' is not a URL like redis://127.0.0.1:6379 (or redis://:password@host:port/db)"_s
                 .arg(value);
         c.redisUrl = v;
         return {};
     }},
    {u"redis-prefix", u"Prefix of the cluster's Redis keys and channels (default %1).", u"prefix",
     [](ServerConfig &c, const QString &value) -> QString {
         const QString v = value.trimmed();
         if (v.isEmpty() || v.size() > 64 || v.contains(u' '))
             return u"'%1' is not a key prefix of 1 to 64 characters without spaces"_s.arg(value);
         c.redisPrefix = v;
         return {};
     },
     asText(&ServerConfig::redisPrefix)},
    {u"node-id", u"This node's name in the cluster (default: host-port-random).", u"name",
     [](ServerConfig &c, const QString &value) -> QString {
         const QString v = value.trimmed();
         if (!isValidIdentifier(v))
             return u"'%1' is not a name of [A-Za-z0-9_.:-]"_s.arg(value);
         c.nodeId = v;
         return {};
     }},
    {u"node-ttl", u"A node that stops reporting leaves the cluster totals after this (default %1).",
     u"duration",
     duration(between(1, 3600), into(&ServerConfig::nodeTtl), u"'%1' is not a duration from 1s to 1h"_s),
     asDuration(&ServerConfig::nodeTtl)},
};

const OptionSpec *findOption(QStringView name)
{
    for (const OptionSpec &spec : optionSpecs) {
        if (name == QStringView(spec.name))
            return &spec;
    }
    return nullptr;
}

// One `key = value` of the config file, with where it was.
struct IniEntry
{
    QString section;
    QString key;
    QString value;
    int line = 0;
};

// The config file, read by hand rather than with QSettings, which reports neither the line of a bad entry
// nor malformed lines at all. Whole-line comments start with ';' or '#', and so does the rest of a line after
// whitespace; a value may be wrapped in double quotes. Errors are "LINE: what".
Result<QList<IniEntry>, QString> readIni(const QByteArray &bytes)
{
    using IR = Result<QList<IniEntry>, QString>;
    QString text = QString::fromUtf8(bytes);
    if (text.startsWith(QChar(0xfeff)))
        text.remove(0, 1);
    QList<IniEntry> entries;
    QHash<QString, int> seen; // "section/key" -> line
    QString section;
    const QStringList lines = text.split(u'\n');
    for (qsizetype i = 0; i < lines.size(); ++i) {
        const int n = int(i) + 1;
        QString line = lines.at(i).trimmed();
        if (line.isEmpty() || line.startsWith(u';') || line.startsWith(u'#'))
            continue;
        if (line.startsWith(u'[')) {
            static const QRegularExpression header(u"^\\[\\s*([A-Za-z0-9_.-]+)\\s*\\]$"_s);
            const auto m = header.match(line);
            if (!m.hasMatch())
                return IR::failure(
                    u"%1: '%2' is not a section header like [server]"_s.arg(QString::number(n), line));
            section = m.captured(1);
            continue;
        }
        const qsizetype eq = line.indexOf(u'=');
        if (eq <= 0)
            return IR::failure(
                u"%1: '%2' is not 'key = value' or a [section]"_s.arg(QString::number(n), line.left(80)));
        IniEntry e{section, line.left(eq).trimmed(), line.mid(eq + 1).trimmed(), n};
        if (e.value.startsWith(u'"')) {
            const qsizetype close = e.value.indexOf(u'"', 1);
            const QString after = close > 0 ? e.value.mid(close + 1).trimmed() : QString();
            if (close < 0 || !(after.isEmpty() || after.startsWith(u';') || after.startsWith(u'#')))
                return IR::failure(
                    u"%1: %2: unbalanced quotes in %3"_s.arg(QString::number(n), e.key, e.value));
            e.value = e.value.mid(1, close - 1);
        } else {
            static const QRegularExpression comment(u"\\s[;#].*$"_s);
            e.value.remove(comment);
        }
        const QString id = section + u'/' + e.key;
        if (const int first = seen.value(id); first > 0)
            return IR::failure(u"%1: %2 is set twice (first on line %3)"_s.arg(QString::number(n), e.key,
                                                                               QString::number(first)));
        seen.insert(id, n);
        entries.append(e);
    }
    return entries;
}

QString loadConfigFile(ServerConfig &c, const QString &path)
{
    QFile file(path);
    if (!QFileInfo(path).isFile())
        return u"--config: cannot read %1: not a file"_s.arg(path);
    if (!file.open(QIODevice::ReadOnly))
        return u"--config: cannot read %1: %2"_s.arg(path, file.errorString());
    const auto entries = readIni(file.readAll());
    // "FILE:LINE: …", as compilers say it, so an editor can jump there.
    if (!entries)
        return u"--config: %1:%2"_s.arg(path, entries.error());
    QList<RetentionRule> rules;
    for (const IniEntry &e : *entries) {
        const QString where = u"--config: %1:%2:"_s.arg(path, QString::number(e.line));
        if (e.section == u"retention"_s) {
            // [retention]: one rule per channel pattern.
            RetentionRule rule = c.defaultRetention;
            const QString error = parseRetention(e.key, e.value, rule);
            if (!error.isEmpty())
                return u"%1 [retention] %2: %3"_s.arg(where, e.key, error);
            rules.append(rule);
            continue;
        }
        // Settings live in [server]; keys outside it are a mistake worth reporting.
        if (e.section != u"server"_s) {
            return e.section.isEmpty()
                       ? u"%1 unknown setting '%2' outside a section (settings go in [server])"_s.arg(where,
                                                                                                      e.key)
                       : u"%1 unknown setting '%2' in [%3] (there are [server] and [retention])"_s.arg(
                             where, e.key, e.section);
        }
        const OptionSpec *spec = findOption(e.key);
        if (!spec)
            return u"%1 unknown setting '%2'"_s.arg(where, e.key);
        if (const QString error = spec->apply(c, e.value); !error.isEmpty())
            return u"%1 %2: %3"_s.arg(where, e.key, error);
    }
    // The most specific pattern (the longest without its stars) is tried first, whatever the file's order.
    std::stable_sort(rules.begin(), rules.end(), [](const RetentionRule &a, const RetentionRule &b) {
        return QString(a.pattern).remove(u'*').size() > QString(b.pattern).remove(u'*').size();
    });
    c.retentionRules = rules;
    return {};
}

// QCommandLineParser's help starts "Usage: <argv[0]> [options]", the path it was started by (a build
// directory, /usr/bin/…): the usage names the program as a user types it instead.
QString helpWithUsage(const QCommandLineParser &parser, const QString &usage)
{
    QString text = parser.helpText();
    const qsizetype end = text.indexOf(u'\n');
    text.replace(0, end < 0 ? text.size() : end, u"Usage: "_s + usage);
    return text;
}

Result<ServerOptions, QString> parseTokenCommand(const QStringList &arguments)
{
    // herald-server token --sub alice --role publisher --ttl 1h [--channels 'news,user:*'] (--jwt-secret-file
    // F | --config F): prints one signed token, for scripts and for trying token mode by hand.
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Prints an HS256 token for herald-server --auth token, signed with the server's secret.\n"
        "The server's own options: herald-server --help."_s);
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
        options.text =
            helpWithUsage(parser, u"herald-server token --sub ID [--role ROLE] [--ttl DURATION] "
                                  "[--channels PATTERNS] (--jwt-secret-file FILE | --config FILE)"_s);
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
} // namespace

Result<ServerOptions, QString> parseServerOptions(const QStringList &arguments)
{
    if (arguments.size() > 1 && arguments.at(1) == u"token"_s)
        return parseTokenCommand(arguments.mid(0, 1) + arguments.mid(1));

    QCommandLineParser parser;
    parser.setApplicationDescription(u"Herald: a self-hosted real-time notification hub.\n"
                                     "WebSocket, Server-Sent Events and a JSON REST API on one port.\n\n"
                                     "herald-server token --sub ID --role ROLE --ttl 1h --jwt-secret-file F\n"
                                     "  prints a token for --auth token (herald-server token --help)."_s);
    const QCommandLineOption help({u"h"_s, u"help"_s}, u"Show this help and exit."_s);
    const QCommandLineOption version({u"v"_s, u"version"_s}, u"Show the version and exit."_s);
    const QCommandLineOption config(u"config"_s, u"INI file with a [server] section of these options."_s,
                                    u"file"_s);
    parser.addOptions({help, version, config});
    std::vector<std::pair<QCommandLineOption, const OptionSpec *>> cli;
    for (const OptionSpec &spec : optionSpecs) {
        cli.emplace_back(QCommandLineOption(QString::fromUtf16(spec.name), helpOf(spec),
                                            QString::fromUtf16(spec.valueName)),
                         &spec);
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
        options.text = helpWithUsage(parser, u"herald-server [options]"_s);
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
    for (const auto &[option, spec] : cli) {
        if (!parser.isSet(option))
            continue;
        if (const QString error = spec->apply(options.config, parser.value(option)); !error.isEmpty())
            return R::failure(u"--%1: %2"_s.arg(QStringView(spec->name), error));
    }
    if (options.config.tlsCert.isEmpty() != options.config.tlsKey.isEmpty())
        return R::failure(u"--tls-cert and --tls-key go together"_s);
    return options;
}

} // namespace Herald
