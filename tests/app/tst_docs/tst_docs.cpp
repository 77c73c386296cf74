#include "hub.h"
#include "rawclient.h"
#include "server.h"
#include "serveroptions.h"
#include "store.h"
#include "testclient.h"
#include "testserver.h"

#include <QFile>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <functional>
#include <vector>

using namespace Qt::StringLiterals;
using namespace HeraldTest;

// Keeps docs/protocol.md true. Every example is read from the markdown at run time and checked against a live
// in-process server, so editing the document into a lie (or the server away from the document) fails here.
// The test never carries its own copy of an example: it carries only the knowledge of how to *produce* each
// kind of example live, and fails loudly ("teach tst_docs") when the document grows a kind it cannot produce.

namespace {

constexpr QChar Ellipsis(0x2026);
// The member the normaliser adds to an object written with "…" for "and more": extra live keys are allowed.
const QString OpenMarker = QString(Ellipsis);

// ---------------------------------------------------------------------------------------------------------
// The markdown, as lines, fenced blocks, code spans and tables.

struct Fence
{
    int line = 0; // 1-based line of the first line inside the fence
    QString lang;
    QString text;
    QString section; // the nearest heading above
};

struct Row
{
    int line = 0;
    QStringList cells;
};

QStringList codeSpans(const QString &text)
{
    QStringList out;
    const QStringList parts = text.split(u'`');
    // Odd parts are inside backticks; an unterminated last one is not a span.
    for (qsizetype i = 1; i + 1 < parts.size(); i += 2)
        out.append(parts.at(i));
    return out;
}

// Splits a table row on '|' outside code spans.
QStringList splitRow(const QString &line)
{
    QStringList cells;
    QString current;
    bool code = false;
    for (QChar c : line) {
        if (c == u'`')
            code = !code;
        if (c == u'|' && !code) {
            cells.append(current.trimmed());
            current.clear();
        } else {
            current += c;
        }
    }
    cells.append(current.trimmed());
    if (!cells.isEmpty() && cells.constFirst().isEmpty())
        cells.removeFirst();
    if (!cells.isEmpty() && cells.constLast().isEmpty())
        cells.removeLast();
    return cells;
}

class ProtocolDoc
{
public:
    bool load(const QString &path)
    {
        QFile file(path);
        if (!file.open(QIODevice::ReadOnly | QIODevice::Text)) {
            m_error = file.errorString();
            return false;
        }
        m_lines = QString::fromUtf8(file.readAll()).split(u'\n');
        m_inFence.fill(false, m_lines.size());
        QString section;
        for (qsizetype i = 0; i < m_lines.size(); ++i) {
            const QString &l = m_lines.at(i);
            if (l.startsWith(u'#'))
                section = l.trimmed();
            if (!l.startsWith(u"```"_s))
                continue;
            Fence f;
            f.lang = l.mid(3).trimmed();
            f.line = int(i) + 2;
            f.section = section;
            m_inFence[i] = true;
            qsizetype j = i + 1;
            QStringList body;
            while (j < m_lines.size() && !m_lines.at(j).startsWith(u"```"_s)) {
                m_inFence[j] = true;
                body.append(m_lines.at(j));
                ++j;
            }
            if (j < m_lines.size())
                m_inFence[j] = true;
            f.text = body.join(u'\n');
            m_fences.append(f);
            i = j;
        }
        return true;
    }
    QString errorString() const { return m_error; }
    qsizetype lineCount() const { return m_lines.size(); }
    // 1-based.
    QString line(int n) const { return m_lines.value(n - 1); }
    bool inFence(int n) const { return m_inFence.value(n - 1); }
    const QList<Fence> &fences() const { return m_fences; }
    QString text() const { return m_lines.join(u'\n'); }

    // The first line outside fences that starts with the given text (after trimming), or 0.
    int lineStartingWith(QStringView start, int from = 1) const
    {
        for (int n = from; n <= lineCount(); ++n) {
            if (!inFence(n) && line(n).trimmed().startsWith(start))
                return n;
        }
        return 0;
    }
    QString sectionOf(int n) const
    {
        for (int i = n; i >= 1; --i) {
            if (!inFence(i) && line(i).startsWith(u'#'))
                return line(i).trimmed();
        }
        return {};
    }
    // The paragraph around line n, joined with spaces.
    QString paragraphAt(int n) const
    {
        auto isText = [this](int i) {
            return i >= 1 && i <= lineCount() && !inFence(i) && !line(i).trimmed().isEmpty() &&
                   !line(i).startsWith(u'#') && !line(i).startsWith(u'|');
        };
        int first = n;
        while (isText(first - 1))
            --first;
        QStringList parts;
        for (int i = first; isText(i); ++i)
            parts.append(line(i).trimmed());
        return parts.join(u' ');
    }
    // The body rows (no header, no separator) of the first table after line n, before the next heading.
    QList<Row> tableAfter(int n) const
    {
        QList<Row> rows;
        int i = n + 1;
        while (i <= lineCount() && !line(i).startsWith(u'|')) {
            if (line(i).startsWith(u'#'))
                return rows;
            ++i;
        }
        static const QRegularExpression separator(u"^\\|[-| :]+\\|$"_s);
        bool header = true;
        for (; i <= lineCount() && line(i).startsWith(u'|'); ++i) {
            if (header) {
                header = false;
                continue;
            }
            if (separator.match(line(i).trimmed()).hasMatch())
                continue;
            rows.append(Row{i, splitRow(line(i))});
        }
        return rows;
    }

private:
    QStringList m_lines;
    QList<bool> m_inFence;
    QList<Fence> m_fences;
    QString m_error;
};

const ProtocolDoc &doc()
{
    static const ProtocolDoc d = [] {
        ProtocolDoc p;
        p.load(QStringLiteral(HERALD_DOCS_DIR) + u"/protocol.md"_s);
        return p;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------
// Examples to JSON.

// Turns a documentation example into JSON. Outside strings:
//   {…} and ,…} -> an object member "…": null (the object is open: the live one may have more members)
//   "key":…     -> null (a value of any type)
//   […] and ,…] -> nothing (any elements)
//   <name>      -> "<name>" (a placeholder string, e.g. <client_id>)
//   code        -> "<code>" (a bare word other than true/false/null is a placeholder too)
// Strings are copied untouched: "…" inside a string is already valid JSON and marks free text.
QString normalise(const QString &in)
{
    QString out;
    QList<QChar> stack;
    auto lastSignificant = [&out]() -> QChar {
        for (qsizetype i = out.size() - 1; i >= 0; --i) {
            if (!out.at(i).isSpace())
                return out.at(i);
        }
        return {};
    };
    auto nextSignificant = [&in](qsizetype from) -> qsizetype {
        for (qsizetype i = from; i < in.size(); ++i) {
            if (!in.at(i).isSpace())
                return i;
        }
        return -1;
    };
    for (qsizetype i = 0; i < in.size(); ++i) {
        const QChar c = in.at(i);
        if (c == u'"') {
            qsizetype j = i + 1;
            while (j < in.size() && in.at(j) != u'"')
                j += in.at(j) == u'\\' ? 2 : 1;
            out += QStringView(in).mid(i, j - i + 1);
            i = j;
            continue;
        }
        if (c == u'{' || c == u'[') {
            stack.append(c);
            out += c;
            continue;
        }
        if (c == u'}' || c == u']') {
            if (!stack.isEmpty())
                stack.removeLast();
            out += c;
            continue;
        }
        if (c == Ellipsis) {
            const QChar prev = lastSignificant();
            const qsizetype n = nextSignificant(i + 1);
            const QChar next = n >= 0 ? in.at(n) : QChar();
            const bool inObject = !stack.isEmpty() && stack.constLast() == u'{';
            if (prev == u':') {
                out += "null"_L1;
            } else if (inObject) {
                out += u"\""_s + OpenMarker + u"\":null"_s;
            } else if (next == u']' && prev == u',') {
                while (!out.isEmpty() && out.back() != u',')
                    out.chop(1);
                out.chop(1);
            } else if (next == u',') {
                i = n; // "[…, x]": drop the placeholder element and its comma
            } else if (next != u']') {
                out += "null"_L1;
            }
            continue;
        }
        if (c == u'<') {
            const qsizetype j = in.indexOf(u'>', i);
            if (j > i) {
                out += u'"' + QStringView(in).mid(i, j - i + 1) + u'"';
                i = j;
                continue;
            }
        }
        if (c.isLetter() || c == u'_') {
            qsizetype j = i;
            while (j < in.size() && (in.at(j).isLetterOrNumber() || in.at(j) == u'_'))
                ++j;
            const QStringView word = QStringView(in).mid(i, j - i);
            if (word == u"true" || word == u"false" || word == u"null")
                out += word;
            else
                out += u"\"<"_s + word + u">\""_s;
            i = j - 1;
            continue;
        }
        out += c;
    }
    return out;
}

std::optional<QJsonObject> parseExample(const QString &example, QString *error = nullptr)
{
    QJsonParseError e{};
    const QString normalised = normalise(example);
    const QJsonDocument d = QJsonDocument::fromJson(normalised.toUtf8(), &e);
    if (e.error != QJsonParseError::NoError || !d.isObject()) {
        if (error)
            *error = u"%1 at offset %2 of: %3"_s.arg(e.errorString()).arg(e.offset).arg(normalised);
        return std::nullopt;
    }
    return d.object();
}

// The example as a request to send: open markers removed, so "data":{…} becomes "data":{}.
QJsonValue stripOpen(const QJsonValue &v)
{
    if (v.isObject()) {
        QJsonObject o = v.toObject();
        o.remove(OpenMarker);
        for (auto it = o.begin(); it != o.end(); ++it)
            it.value() = stripOpen(it.value());
        return o;
    }
    if (v.isArray()) {
        QJsonArray a;
        for (const QJsonValue &e : v.toArray())
            a.append(stripOpen(e));
        return a;
    }
    return v;
}

QString typeName(const QJsonValue &v)
{
    switch (v.type()) {
    case QJsonValue::Null:
        return u"null"_s;
    case QJsonValue::Bool:
        return u"bool"_s;
    case QJsonValue::Double:
        return u"number"_s;
    case QJsonValue::String:
        return u"string"_s;
    case QJsonValue::Array:
        return u"array"_s;
    case QJsonValue::Object:
        return u"object"_s;
    case QJsonValue::Undefined:
        break;
    }
    return u"undefined"_s;
}

// How a live frame is held against an example.
struct Shape
{
    // Placeholders with a known value in this scenario, e.g. "<client_id>" -> the requester's id.
    QHash<QString, QString> placeholders;
    // Keys a live top-level object may add to a closed example. Only "ref": the document says once, in prose,
    // that replies echo a request's "ref", instead of repeating it in every example.
    QStringList allowedExtra;
};

// Keys whose example values are sample data by nature: timestamps (checked for the documented format instead)
// and the server's version.
bool isTimestampKey(const QString &key)
{
    return key == u"timestamp"_s || key == u"connected_at"_s;
}

void compareShape(const QJsonValue &example, const QJsonValue &live, const QString &path, const Shape &shape,
                  bool topLevel, QStringList &problems)
{
    if (example.isNull())
        return; // "key":… : any value
    if (example.type() != live.type()) {
        problems.append(u"%1: the document shows a %2, the server sends a %3"_s.arg(path, typeName(example),
                                                                                    typeName(live)));
        return;
    }
    const QString key = path.section(u'.', -1);
    switch (example.type()) {
    case QJsonValue::String: {
        const QString want = example.toString();
        const QString got = live.toString();
        static const QRegularExpression iso(u"^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$"_s);
        static const QRegularExpression placeholder(u"^<[^<>]+>$"_s);
        if (isTimestampKey(key)) {
            if (!iso.match(got).hasMatch())
                problems.append(u"%1: '%2' is not ISO-8601 UTC with milliseconds"_s.arg(path, got));
        } else if (key == u"version"_s) {
            if (got.isEmpty())
                problems.append(u"%1: empty"_s.arg(path));
        } else if (key == u"epoch"_s) {
            // Random per history: the documented form, not the sample value.
            static const QRegularExpression hex16(u"^[0-9a-f]{16}$"_s);
            if (!hex16.match(got).hasMatch())
                problems.append(u"%1: '%2' is not 16 hex digits"_s.arg(path, got));
        } else if (placeholder.match(want).hasMatch()) {
            if (shape.placeholders.contains(want) && shape.placeholders.value(want) != got)
                problems.append(u"%1: %2 should be '%3', the server sends '%4'"_s.arg(
                    path, want, shape.placeholders.value(want), got));
        } else if (!want.contains(Ellipsis) && want != got) {
            problems.append(u"%1: the document shows '%2', the server sends '%3'"_s.arg(path, want, got));
        }
        return;
    }
    case QJsonValue::Bool:
        if (example.toBool() != live.toBool())
            problems.append(u"%1: boolean differs"_s.arg(path));
        return;
    case QJsonValue::Double:
        return; // ids, counts, uptimes: sample values
    case QJsonValue::Array: {
        const QJsonArray want = example.toArray();
        const QJsonArray got = live.toArray();
        if (want.isEmpty())
            return; // […]
        if (want.size() != got.size()) {
            problems.append(u"%1: the document shows %2 elements, the server sends %3"_s.arg(path)
                                .arg(want.size())
                                .arg(got.size()));
            return;
        }
        for (qsizetype i = 0; i < want.size(); ++i)
            compareShape(want.at(i), got.at(i), u"%1[%2]"_s.arg(path).arg(i), shape, false, problems);
        return;
    }
    case QJsonValue::Object: {
        const QJsonObject want = example.toObject();
        const QJsonObject got = live.toObject();
        for (auto it = want.begin(); it != want.end(); ++it) {
            if (it.key() == OpenMarker)
                continue;
            const QString sub = path.isEmpty() ? it.key() : path + u'.' + it.key();
            if (!got.contains(it.key())) {
                problems.append(u"%1: documented but not sent"_s.arg(sub));
                continue;
            }
            compareShape(it.value(), got.value(it.key()), sub, shape, false, problems);
        }
        if (want.contains(OpenMarker))
            return;
        for (auto it = got.begin(); it != got.end(); ++it) {
            if (want.contains(it.key()) || (topLevel && shape.allowedExtra.contains(it.key())))
                continue;
            problems.append(u"%1: sent but not in the document"_s.arg(
                path.isEmpty() ? it.key() : path + u'.' + it.key()));
        }
        return;
    }
    case QJsonValue::Null:
    case QJsonValue::Undefined:
        return;
    }
}

// Empty if the live frame has the example's shape; else one line per difference, with both texts.
QStringList shapeProblems(const QJsonObject &example, const QJsonObject &live, const Shape &shape = {})
{
    QStringList problems;
    compareShape(example, live, QString(), shape, true, problems);
    return problems;
}

QString describe(const QStringList &problems, const QJsonObject &example, const QJsonObject &live)
{
    if (problems.isEmpty())
        return {};
    return problems.join(u"; "_s) + u"\n  document: "_s + QString::fromUtf8(Herald::compactJson(example)) +
           u"\n  server:   "_s + QString::fromUtf8(Herald::compactJson(live));
}

// Empty if the live frame has the example's shape; else one line per difference, with both texts.
QString shapeDiff(const QJsonObject &example, const QJsonObject &live, const Shape &shape = {})
{
    return describe(shapeProblems(example, live, shape), example, live);
}

#define QVERIFY_SHAPE(example, live, ...)                                                                    \
    do {                                                                                                     \
        const QString diff_ = shapeDiff((example), (live)__VA_OPT__(, ) __VA_ARGS__);                        \
        QVERIFY2(diff_.isEmpty(), qPrintable(diff_));                                                        \
    } while (false)

// Every object named "channels" whose values are counts: the channel names a scenario has to populate.
void collectCountedChannels(const QJsonValue &v, QStringList &out)
{
    if (v.isArray()) {
        for (const QJsonValue &e : v.toArray())
            collectCountedChannels(e, out);
        return;
    }
    if (!v.isObject())
        return;
    const QJsonObject o = v.toObject();
    for (auto it = o.begin(); it != o.end(); ++it) {
        if (it.key() == "channels"_L1 && it.value().isObject()) {
            const QJsonObject map = it.value().toObject();
            for (auto c = map.begin(); c != map.end(); ++c) {
                if (c.value().isDouble() && !out.contains(c.key()))
                    out.append(c.key());
            }
        } else {
            collectCountedChannels(it.value(), out);
        }
    }
}

// The top-level keys of the Messages example plus the extra fields the document names for seed frames: every
// message frame must stay within these.
// "Some frames carry extra top-level fields from the seeds they serve (`model` for seed 004, …)": each field
// with the words that say where it appears.
QList<std::pair<QString, QString>> documentedExtraFields()
{
    QList<std::pair<QString, QString>> out;
    const int line = doc().lineStartingWith(u"- Some frames carry extra top-level fields");
    static const QRegularExpression field(u"`([a-z_]+)` ((?:for|on) [^,)]+)"_s);
    for (auto it = field.globalMatch(doc().paragraphAt(line)); line > 0 && it.hasNext();) {
        const auto m = it.next();
        out.append({m.captured(1), m.captured(2)});
    }
    return out;
}

QStringList documentedMessageKeys()
{
    QStringList keys;
    for (const Fence &f : doc().fences()) {
        if (f.section == u"## Messages"_s && f.lang == u"json"_s) {
            if (const auto o = parseExample(f.text))
                keys = o->keys();
            break;
        }
    }
    for (const auto &[name, where] : documentedExtraFields())
        keys.append(name);
    return keys;
}

QString messageKeysProblem(const QJsonObject &frame)
{
    static const QStringList allowed = documentedMessageKeys();
    QStringList unknown;
    for (const QString &k : frame.keys()) {
        if (!allowed.contains(k))
            unknown.append(k);
    }
    if (unknown.isEmpty())
        return {};
    return u"message frame has fields the Messages section does not document (%1): %2"_s.arg(
        unknown.join(u", "_s), QString::fromUtf8(Herald::compactJson(frame)));
}

// ---------------------------------------------------------------------------------------------------------
// Raw sockets.

// Sends a raw request and returns the answer: the head and as much body as its Content-Length announces.
QByteArray httpAnswer(quint16 port, const QByteArray &request, int timeoutMs = 5000)
{
    QTcpSocket s;
    s.connectToHost(u"127.0.0.1"_s, port);
    QByteArray out;
    QElapsedTimer t;
    t.start();
    bool sent = false;
    static const QRegularExpression length(u"\r\ncontent-length: *(\\d+)\r\n"_s,
                                           QRegularExpression::CaseInsensitiveOption);
    while (t.elapsed() < timeoutMs) {
        if (!sent && s.state() == QAbstractSocket::ConnectedState) {
            s.write(request);
            sent = true;
        }
        out += s.readAll();
        const qsizetype end = out.indexOf("\r\n\r\n");
        if (end >= 0) {
            const auto m = length.match(QString::fromLatin1(out.left(end + 2)));
            if (!m.hasMatch() || out.size() - end - 4 >= m.captured(1).toLongLong())
                break;
        }
        if (sent && s.state() == QAbstractSocket::UnconnectedState)
            break;
        QTest::qWait(5);
    }
    s.abort();
    return out;
}

} // namespace

class tst_Docs : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void examplesParse_data();
    void examplesParse();
    void errorCodesAreKnown_data();
    void errorCodesAreKnown();
    void webSocketTable_data();
    void webSocketTable();
    void serverFrames_data();
    void serverFrames();
    void routeFrames_data();
    void routeFrames();
    void seedExtraFields_data();
    void seedExtraFields();
    void prepareModelRoute(const QString &path);
    void httpTable_data();
    void httpTable();
    void httpPublishErrors_data();
    void httpPublishErrors();
    void httpPublishSkipsClient();
    void httpRejections_data();
    void httpRejections();
    void httpFraming_data();
    void httpFraming();
    void sseStream();
    void sseHeartbeat();
    void sseEventNaming_data();
    void sseEventNaming();
    void closeCodes_data();
    void closeCodes();
    void documentedDefaults_data();
    void documentedDefaults();
    void readmeTour();
    void readmeSynopsis_data();
    void readmeSynopsis();

private:
    // A server with the documented defaults, on a free port, its data in dataDir.
    static std::unique_ptr<Herald::Server>
    startServer(const QString &dataDir, const std::function<void(Herald::ServerConfig &)> &tweak = {});
    std::unique_ptr<WsClient> openWs(const QString &path);
    // Clients the scenario opens; cleanup() closes them before the server goes.
    WsClient *keep(std::unique_ptr<WsClient> c)
    {
        m_clients.push_back(std::move(c));
        return m_clients.back().get();
    }
    // Proves the session is fully set up (registered, subscribed) before the scenario goes on.
    static bool ready(WsClient *c)
    {
        c->send({{"type"_L1, "ping"_L1}, {"ref"_L1, "ready"_L1}});
        return c->waitFor(u"pong"_s).has_value();
    }
    // The request of the "Idempotent publish" section's http block: its Idempotency-Key and JSON body.
    static std::optional<std::pair<QByteArray, QJsonObject>> idempotentRequest();
    // One client on every non-admin WebSocket route.
    QList<WsClient *> everyClient(const QString &prefix);
    // True if none of these clients got a frame of this type before a marker published after it: deliveries
    // are in id order per connection, so this needs no sleep.
    bool noneGot(const QList<WsClient *> &clients, const QString &type, const QString &markerChannel);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Herald::Server> m_server;
    std::vector<std::unique_ptr<WsClient>> m_clients;
    quint16 m_port = 0;
};

std::unique_ptr<Herald::Server>
tst_Docs::startServer(const QString &dataDir, const std::function<void(Herald::ServerConfig &)> &tweak)
{
    // The documented defaults (herald-server with no options), on a free loopback port.
    const auto options = Herald::parseServerOptions({u"herald-server"_s});
    if (!options)
        return nullptr;
    return HeraldTest::startTestServer(dataDir, tweak, options->config);
}

void tst_Docs::initTestCase()
{
    QVERIFY2(doc().lineCount() > 1, qPrintable(u"cannot read %1/protocol.md: %2"_s.arg(
                                        QStringLiteral(HERALD_DOCS_DIR), doc().errorString())));
}

void tst_Docs::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_server = startServer(m_dir->path());
    QVERIFY(m_server);
    m_port = m_server->port();
    QVERIFY(m_port != 0);
}

void tst_Docs::cleanup()
{
    m_clients.clear();
    m_server.reset();
    m_dir.reset();
}

std::unique_ptr<WsClient> tst_Docs::openWs(const QString &path)
{
    return HeraldTest::openWs(m_port, path);
}

std::optional<std::pair<QByteArray, QJsonObject>> tst_Docs::idempotentRequest()
{
    for (const Fence &f : doc().fences()) {
        if (f.lang != u"http"_s || f.section != u"### Idempotent publish"_s)
            continue;
        // "POST /api/publish", headers, a blank line, the body.
        const QStringList lines = f.text.split(u'\n');
        if (lines.value(0) != u"POST /api/publish"_s)
            return std::nullopt;
        QByteArray key;
        qsizetype i = 1;
        for (; i < lines.size() && !lines.at(i).trimmed().isEmpty(); ++i) {
            if (lines.at(i)
                    .section(u':', 0, 0)
                    .trimmed()
                    .compare(u"Idempotency-Key"_s, Qt::CaseInsensitive) == 0)
                key = lines.at(i).section(u':', 1).trimmed().toLatin1();
        }
        const QJsonObject body = parseObject(lines.mid(i).join(u'\n').toUtf8());
        if (key.isEmpty() || body.isEmpty())
            return std::nullopt;
        return std::pair{key, body};
    }
    return std::nullopt;
}

QList<WsClient *> tst_Docs::everyClient(const QString &prefix)
{
    QList<WsClient *> list;
    for (const QString &path : {u"/ws?client_id=%1-native"_s.arg(prefix), u"/ws/client"_s, u"/ws/users"_s,
                                u"/ws/%1-chat"_s.arg(prefix)}) {
        auto c = openWs(path);
        if (!c || !ready(c.get()))
            return {};
        list.append(keep(std::move(c)));
    }
    return list;
}

bool tst_Docs::noneGot(const QList<WsClient *> &clients, const QString &type, const QString &markerChannel)
{
    const QByteArray marker = Herald::compactJson(
        {{"channel"_L1, markerChannel}, {"type"_L1, "docs-marker"_L1}, {"message"_L1, "marker"_L1}});
    if (http("POST", m_port, u"/api/publish"_s, marker).status != 202)
        return false;
    for (WsClient *c : clients) {
        if (!c->waitFor(u"docs-marker"_s))
            return false;
        for (const QJsonObject &f : std::as_const(c->frames())) {
            if (f.value("type"_L1).toString() == type)
                return false;
        }
    }
    return true;
}

// ---------------------------------------------------------------------------------------------------------

void tst_Docs::examplesParse_data()
{
    QTest::addColumn<QString>("example");
    for (const Fence &f : doc().fences()) {
        if (f.lang == u"json"_s)
            QTest::addRow("line %d (json block)", f.line) << f.text;
    }
    // Inline examples: in tables and in prose.
    for (int n = 1; n <= doc().lineCount(); ++n) {
        if (doc().inFence(n))
            continue;
        int k = 0;
        for (const QString &span : codeSpans(doc().line(n))) {
            if (span.startsWith(u'{'))
                QTest::addRow("line %d #%d", n, ++k) << span;
        }
    }
}

void tst_Docs::examplesParse()
{
    QFETCH(QString, example);
    QString error;
    QVERIFY2(parseExample(example, &error), qPrintable(error));
}

void tst_Docs::errorCodesAreKnown_data()
{
    QTest::addColumn<QString>("code");
    const int table = doc().lineStartingWith(u"| code | when |");
    QVERIFY2(table > 0, "the table of error codes is missing");
    for (const Row &row : doc().tableAfter(table - 1)) {
        for (const QString &span : codeSpans(row.cells.value(0)))
            QTest::addRow("line %d: %s", row.line, qPrintable(span)) << span;
    }
}

void tst_Docs::errorCodesAreKnown()
{
    QFETCH(QString, code);
    QStringList known;
    for (int i = 0; i <= int(Herald::ErrorCode::Timeout); ++i) // the last of the append-only enum
        known.append(Herald::errorCodeName(Herald::ErrorCode(i)));
    QVERIFY2(known.contains(code), qPrintable(u"'%1' is not one of %2"_s.arg(code, known.join(u", "_s))));
}

// ---------------------------------------------------------------------------------------------------------
// "Requests accepted on every WebSocket route": every row is sent on a live /ws connection.

void tst_Docs::webSocketTable_data()
{
    QTest::addColumn<QString>("request");
    QTest::addColumn<QString>("reply");
    const int heading = doc().lineStartingWith(u"### Requests accepted on every WebSocket route");
    QVERIFY2(heading > 0, "the WebSocket request table is missing");
    const QList<Row> rows = doc().tableAfter(heading);
    QVERIFY(!rows.isEmpty());
    for (const Row &row : rows) {
        QVERIFY2(row.cells.size() == 2, qPrintable(u"line %1 does not have two columns"_s.arg(row.line)));
        const QStringList spans = codeSpans(row.cells.at(0));
        QVERIFY2(!spans.isEmpty(), qPrintable(u"line %1 has no request"_s.arg(row.line)));
        QTest::addRow("line %d: %s", row.line, qPrintable(spans.constFirst()))
            << spans.constFirst() << row.cells.at(1);
    }
}

void tst_Docs::webSocketTable()
{
    QFETCH(QString, request);
    QFETCH(QString, reply);
    QString error;
    const auto parsedRequest = parseExample(request, &error);
    QVERIFY2(parsedRequest, qPrintable(error));
    QJsonObject req = stripOpen(*parsedRequest).toObject();
    const QString kind =
        req.contains("action"_L1) ? req.value("action"_L1).toString() : req.value("type"_L1).toString();
    QVERIFY(!kind.isEmpty());
    const QString ref = u"docs-"_s + kind;
    req.insert("ref"_L1, ref);

    // Column 2: [audience] `frame` [side effects]. The frame is the first span that is a JSON object.
    const QStringList parts = reply.split(u'`');
    qsizetype frameIndex = -1;
    for (qsizetype i = 1; i < parts.size(); i += 2) {
        if (parts.at(i).startsWith(u'{')) {
            frameIndex = i;
            break;
        }
    }
    QVERIFY2(frameIndex > 0, "no frame example in column 2");
    const QString audience = parts.mid(0, frameIndex).join(u'`').trimmed();
    QString effects = parts.mid(frameIndex + 1).join(u'`').trimmed();
    while (!effects.isEmpty() && (effects.front() == u',' || effects.front() == u';'))
        effects = effects.mid(1).trimmed();
    const auto expected = parseExample(parts.at(frameIndex), &error);
    QVERIFY2(expected, qPrintable(error));
    const QString frameType = expected->value("type"_L1).toString();
    QVERIFY(!frameType.isEmpty());

    const QString requesterId = u"requester"_s;
    WsClient *requester = keep(openWs(u"/ws?client_id="_s + requesterId));
    QVERIFY(requester && ready(requester));
    Shape shape;
    shape.placeholders.insert(u"<client_id>"_s, requesterId);

    // What the request needs to mean something.
    if (kind == u"withdraw"_s) {
        // A message to withdraw.
        const HttpResult p =
            http("POST", m_port, u"/api/publish"_s, R"({"channel":"news","message":"to be withdrawn"})");
        QCOMPARE(p.status, 202);
        req.insert("id"_L1, p.json().value("id"_L1).toInteger());
    }
    if (kind == u"unsubscribe"_s) {
        requester->send({{"action"_L1, "subscribe"_L1}, {"channel"_L1, req.value("channel"_L1)}});
        QVERIFY(requester->waitFor(u"subscribed"_s));
    }
    WsClient *target = nullptr;
    if (req.value("client_id"_L1).isString()) {
        target = keep(openWs(u"/ws?client_id="_s + req.value("client_id"_L1).toString()));
        QVERIFY(target && ready(target));
    }
    QStringList counted;
    collectCountedChannels(*expected, counted);
    for (const QString &channel : std::as_const(counted)) {
        WsClient *c = keep(openWs(u"/ws?channels="_s + channel));
        QVERIFY(c && ready(c));
    }

    // Who gets the frame: the requester (a reply), or the audience column 2 names.
    QList<WsClient *> recipients;
    QList<WsClient *> bystanders;
    static const QRegularExpression channelSubscribers(u"^every `([^`]+)` subscriber gets$"_s);
    if (audience.isEmpty()) {
        recipients.append(requester);
        // The one key a reply may add to its example, because the document says so once for all of them.
        if (doc().text().contains(u"Any request may carry `\"ref\"`: replies to it echo that value."_s))
            shape.allowedExtra.append(u"ref"_s);
    } else if (const auto m = channelSubscribers.match(audience); m.hasMatch()) {
        for (const QString &id : {u"sub-a"_s, u"sub-b"_s}) {
            WsClient *c = keep(openWs(u"/ws?client_id=%1&channels=%2"_s.arg(id, m.captured(1))));
            QVERIFY(c && ready(c));
            recipients.append(c);
        }
    } else if (audience == u"only the sender gets"_s) {
        recipients.append(requester);
        bystanders = everyClient(u"bystander"_s);
        QVERIFY(!bystanders.isEmpty());
    } else if (audience == u"every client gets"_s || audience == u"dashboards and every client get"_s) {
        recipients = everyClient(u"everyone"_s);
        QVERIFY(!recipients.isEmpty());
        recipients.append(requester);
        if (audience.startsWith(u"dashboards"_s)) {
            WsClient *dashboard = keep(openWs(u"/ws/server"_s));
            QVERIFY(dashboard && ready(dashboard));
            recipients.append(dashboard);
        }
    } else {
        QFAIL(
            qPrintable(u"column 2 names an audience tst_docs does not know: '%1'; teach it"_s.arg(audience)));
    }

    // Side effects after the reply.
    QList<WsClient *> messageRecipients;
    int closeCode = 0;
    static const QRegularExpression closed(u"^(\\S+) is closed with code (\\d+)$"_s);
    if (effects.isEmpty()) {
        // a reply and nothing else
    } else if (effects == u"then the message to every subscriber"_s) {
        QVERIFY(req.value("channel"_L1).isString());
        for (const QString &id : {u"sub-a"_s, u"sub-b"_s}) {
            WsClient *c =
                keep(openWs(u"/ws?client_id=%1&channels=%2"_s.arg(id, req.value("channel"_L1).toString())));
            QVERIFY(c && ready(c));
            messageRecipients.append(c);
        }
    } else if (effects == u"every client gets the message"_s) {
        messageRecipients = everyClient(u"everyone"_s);
        QVERIFY(!messageRecipients.isEmpty());
        messageRecipients.append(requester);
    } else if (const auto m = closed.match(effects); m.hasMatch()) {
        QVERIFY2(target, "a client is to be closed, but the request names no client_id");
        QCOMPARE(m.captured(1), req.value("client_id"_L1).toString());
        closeCode = m.captured(2).toInt();
    } else {
        QFAIL(qPrintable(
            u"column 2 names a side effect tst_docs does not know: '%1'; teach it"_s.arg(effects)));
    }

    requester->send(req);

    std::optional<QJsonObject> replyFrame;
    for (WsClient *c : std::as_const(recipients)) {
        const auto frame = c->waitFor(frameType);
        QVERIFY2(frame, qPrintable(u"no '%1' frame arrived"_s.arg(frameType)));
        QVERIFY_SHAPE(*expected, *frame, shape);
        if (audience.isEmpty()) {
            QCOMPARE(frame->value("ref"_L1).toString(), ref); // "replies to it echo that value"
            replyFrame = frame;
        } else {
            const QString problem = messageKeysProblem(*frame);
            QVERIFY2(problem.isEmpty(), qPrintable(problem));
        }
    }
    if (!bystanders.isEmpty())
        QVERIFY2(noneGot(bystanders, frameType, u"broadcast"_s),
                 "a client other than the sender got the frame");

    if (!messageRecipients.isEmpty()) {
        // "With action present, type is the message type": the message is the request's fields.
        QJsonObject message = req;
        message.remove("action"_L1);
        message.remove("ref"_L1);
        message.insert(OpenMarker, QJsonValue::Null);
        const QString messageType = req.value("type"_L1).toString();
        QVERIFY(!messageType.isEmpty());
        for (WsClient *c : std::as_const(messageRecipients)) {
            const auto frame = c->waitFor(messageType);
            QVERIFY2(frame, qPrintable(u"no '%1' message arrived"_s.arg(messageType)));
            QVERIFY_SHAPE(message, *frame);
            const QString problem = messageKeysProblem(*frame);
            QVERIFY2(problem.isEmpty(), qPrintable(problem));
            if (replyFrame && replyFrame->contains("id"_L1))
                QCOMPARE(frame->value("id"_L1).toInteger(), replyFrame->value("id"_L1).toInteger());
        }
    }
    if (closeCode != 0) {
        QVERIFY(target->waitDisconnected());
        QCOMPARE(target->closeCode(), closeCode);
    }
}

// ---------------------------------------------------------------------------------------------------------
// The ```json blocks: each produced live.

void tst_Docs::serverFrames_data()
{
    QTest::addColumn<QString>("example");
    QTest::addColumn<QString>("section");
    for (const Fence &f : doc().fences()) {
        if (f.lang == u"json"_s)
            QTest::addRow("line %d", f.line) << f.text << f.section;
    }
}

void tst_Docs::serverFrames()
{
    QFETCH(QString, example);
    QFETCH(QString, section);
    QString error;
    const auto parsed = parseExample(example, &error);
    QVERIFY2(parsed, qPrintable(error));
    const QJsonObject expected = *parsed;
    const QString type = expected.value("type"_L1).toString();

    if (section == u"### Updates and withdrawals"_s) {
        // An update of a message published first, or the withdrawal of one: what its subscribers get.
        QJsonObject body = stripOpen(expected).toObject();
        const QString channel = body.value("channel"_L1).toString();
        WsClient *sub = keep(openWs(u"/ws?channels="_s + channel));
        QVERIFY(sub && ready(sub));
        const HttpResult first =
            http("POST", m_port, u"/api/publish"_s,
                 Herald::compactJson({{"channel"_L1, channel}, {"message"_L1, "first"_L1}}));
        QCOMPARE(first.status, 202);
        const qint64 firstId = first.json().value("id"_L1).toInteger();
        QVERIFY(sub->waitFor(u"message"_s));
        HttpResult r;
        QString field;
        if (body.contains("replaces"_L1)) {
            field = u"replaces"_s;
            body.remove("id"_L1);
            body.remove("timestamp"_L1);
            body.insert("replaces"_L1, firstId);
            r = http("POST", m_port, u"/api/publish"_s, Herald::compactJson(body));
            QCOMPARE(r.status, 202);
        } else if (type == u"withdrawn"_s) {
            field = u"withdraws"_s;
            r = http("DELETE", m_port, u"/api/messages/%1"_s.arg(firstId));
            QCOMPARE(r.status, 200);
        } else {
            QFAIL("tst_docs knows updates (replaces) and withdrawn events here; teach it");
        }
        const auto live = sub->waitFor(type);
        QVERIFY(live);
        QVERIFY_SHAPE(expected, *live);
        QCOMPARE(live->value("id"_L1).toInteger(), r.json().value("id"_L1).toInteger());
        QCOMPARE(live->value(field).toInteger(), firstId);
        // The chain's first message is the one published first here.
        if (expected.contains("chain"_L1))
            QCOMPARE(live->value("chain"_L1).toInteger(), firstId);
        return;
    }

    if (section == u"## Messages"_s || section == u"## Notifications"_s || section == u"### Expiry"_s) {
        // Published over REST with the example's own fields, read by a subscriber.
        QJsonObject body = stripOpen(expected).toObject();
        body.remove("id"_L1);
        body.remove("timestamp"_L1);
        WsClient *sub = keep(openWs(u"/ws?channels="_s + body.value("channel"_L1).toString()));
        QVERIFY(sub && ready(sub));
        const HttpResult r = http("POST", m_port, u"/api/publish"_s, Herald::compactJson(body));
        QCOMPARE(r.status, 202);
        const auto live = sub->waitFor(type);
        QVERIFY(live);
        QVERIFY_SHAPE(expected, *live);
        QCOMPARE(live->value("id"_L1).toInteger(), r.json().value("id"_L1).toInteger());
        return;
    }

    if (section == u"### Idempotent publish"_s) {
        // The section's request (its http block) sent twice, over REST or, for a "published" frame, as a
        // WebSocket publish frame with the same fields and key: the example is the retry's answer.
        const auto request = idempotentRequest();
        QVERIFY2(request, "the Idempotent publish section has no http request block");
        const auto &[key, body] = *request;
        const QString channel = body.value("channel"_L1).toString();
        WsClient *sub = keep(openWs(u"/ws?channels="_s + channel));
        QVERIFY(sub && ready(sub));
        QList<QJsonObject> answers;
        if (type == u"published"_s) {
            WsClient *publisher = keep(openWs(u"/ws"_s));
            QVERIFY(publisher);
            QJsonObject frame = body;
            frame.insert("action"_L1, "publish"_L1);
            frame.insert("idempotency_key"_L1, QString::fromLatin1(key));
            for (const QJsonValue &ref : {QJsonValue(u"r1"_s), expected.value("ref"_L1)}) {
                frame.insert("ref"_L1, ref);
                publisher->send(frame);
                const auto answer = publisher->waitFor(type);
                QVERIFY(answer);
                answers.append(*answer);
            }
        } else {
            for (int i = 0; i < 2; ++i) {
                const HttpResult r = http("POST", m_port, u"/api/publish"_s, Herald::compactJson(body),
                                          {{"Idempotency-Key", key}});
                QCOMPARE(r.status, 202);
                answers.append(r.json());
            }
        }
        QVERIFY(!answers.at(0).contains("duplicate"_L1));
        QVERIFY_SHAPE(expected, answers.at(1));
        QCOMPARE(answers.at(1).value("id"_L1).toInteger(), answers.at(0).value("id"_L1).toInteger());
        // Delivered once.
        const QString published = body.value("type"_L1).toString(u"message"_s);
        QVERIFY(sub->waitFor(published));
        QVERIFY(noneGot({sub}, published, channel));
        return;
    }

    if (section == u"### Read state"_s || section == u"### Quiet hours"_s) {
        // Made over REST for user 1, heard on reads:1.
        WsClient *sub = keep(openWs(u"/ws?channels=reads:1"_s));
        QVERIFY(sub && ready(sub));
        if (!expected.contains("type"_L1)) {
            // A settings body: saved as given, answered with it.
            const HttpResult r =
                http("PUT", m_port, u"/api/users/1/settings"_s, Herald::compactJson(expected));
            QCOMPARE(r.status, 200);
            QJsonObject answer = r.json();
            QCOMPARE(answer.take("user_id"_L1).toString(), u"1"_s);
            QCOMPARE(answer, expected);
            return;
        }
        const qsizetype count = expected.value("ids"_L1).toArray().size();
        QJsonArray ids;
        for (qsizetype i = 0; i <= count; ++i) { // one more, so a count is left unread
            const HttpResult p = http("POST", m_port, u"/api/publish"_s,
                                      R"({"channel":"user:1","message":"for the document"})");
            QCOMPARE(p.status, 202);
            if (i < count)
                ids.append(p.json().value("id"_L1).toInteger());
        }
        HttpResult r;
        if (type == u"settings"_s)
            r = http("PUT", m_port, u"/api/users/1/settings"_s,
                     Herald::compactJson(expected.value("settings"_L1).toObject()));
        else if (expected.value("all"_L1).toBool())
            r = http("POST", m_port, u"/api/notifications/read-all?user_id=1"_s);
        else if (type == u"deleted"_s && count == 1)
            r = http("DELETE", m_port, u"/api/notifications/%1"_s.arg(ids.at(0).toInteger()));
        else if (type == u"read"_s || type == u"unread"_s)
            r = http("POST", m_port, u"/api/notifications/"_s + type,
                     Herald::compactJson(QJsonObject{{"user_id"_L1, "1"_L1}, {"ids"_L1, ids}}));
        else
            QFAIL(qPrintable(u"tst_docs cannot produce a '%1' read event; teach it"_s.arg(type)));
        QVERIFY2(r.status == 200, r.body.constData());
        const auto live = sub->waitFor(type);
        QVERIFY(live);
        QVERIFY_SHAPE(expected, *live);
        QCOMPARE(live->value("channel"_L1).toString(), u"reads:1"_s);
        return;
    }

    if (section == u"### Scheduled delivery"_s) {
        // What GET /api/scheduled/{handle} shows: the example's message published an hour ahead, then read.
        QJsonObject body = stripOpen(expected.value("message"_L1)).toObject();
        body.insert("delay"_L1, "1h"_L1);
        const HttpResult r = http("POST", m_port, u"/api/publish"_s, Herald::compactJson(body));
        QCOMPARE(r.status, 202);
        const QString handle = r.json().value("scheduled"_L1).toString();
        const HttpResult live = http("GET", m_port, u"/api/scheduled/"_s + handle);
        QCOMPARE(live.status, 200);
        QVERIFY_SHAPE(expected, live.json());
        QCOMPARE(live.json().value("handle"_L1).toString(), handle);
        QCOMPARE(http("DELETE", m_port, u"/api/scheduled/"_s + handle).status, 200);
        return;
    }

    if (type == u"error"_s) {
        const QString code = expected.value("code"_L1).toString();
        QJsonObject request{{"action"_L1, expected.value("action"_L1)}};
        static const QRegularExpression quoted(u"'([^']*)'"_s);
        const QString name = quoted.match(expected.value("message"_L1).toString()).captured(1);
        if (code == u"bad_channel"_s)
            request.insert("channel"_L1, name);
        else
            QFAIL(qPrintable(u"tst_docs cannot provoke a '%1' error frame; teach it"_s.arg(code)));
        WsClient *c = keep(openWs(u"/ws"_s));
        QVERIFY(c);
        c->send(request);
        const auto live = c->waitFor(type);
        QVERIFY(live);
        QVERIFY_SHAPE(expected, *live);
        QVERIFY(c->isConnected()); // "the connection stays open"
        QVERIFY(ready(c));
    } else if (type == u"connected"_s) {
        // The query that yields this greeting: user:<id> from user_id, the rest from channels.
        QString userId;
        QStringList channels;
        for (const QJsonValue &v : expected.value("channels"_L1).toArray()) {
            const QString ch = v.toString();
            if (userId.isEmpty() && channels.isEmpty() && ch.startsWith(u"user:"_s))
                userId = ch.mid(5);
            else
                channels.append(ch);
        }
        QString path = u"/ws?client_id="_s + expected.value("client_id"_L1).toString();
        if (!userId.isEmpty())
            path += u"&user_id="_s + userId;
        if (!channels.isEmpty())
            path += u"&channels="_s + channels.join(u',');
        WsClient *c = keep(openWs(path));
        QVERIFY(c);
        const auto live = c->waitFor(type);
        QVERIFY(live);
        QVERIFY_SHAPE(expected, *live);
        QVERIFY(!c->raw().isEmpty());
        QCOMPARE(QJsonDocument::fromJson(c->raw().constFirst().toUtf8()).object().value("type"_L1).toString(),
                 type); // "First frame"
    } else if (type == u"snapshot"_s) {
        // Connect the clients the example lists, then a dashboard.
        const QJsonArray connections = expected.value("connections"_L1).toArray();
        for (const QJsonValue &v : connections) {
            const QJsonObject info = v.toObject();
            QVERIFY2(info.value("route"_L1).toString() == u"ws"_s,
                     "tst_docs only knows how to connect route \"ws\" clients; teach it");
            const QString userId = info.value("user_id"_L1).toString();
            QStringList channels;
            for (const QJsonValue &s : info.value("subscriptions"_L1).toArray()) {
                if (s.toString() != u"user:"_s + userId)
                    channels.append(s.toString());
            }
            QString path = u"/ws?client_id="_s + info.value("client_id"_L1).toString();
            if (!userId.isEmpty())
                path += u"&user_id="_s + userId;
            if (!channels.isEmpty())
                path += u"&channels="_s + channels.join(u',');
            WsClient *c = keep(openWs(path));
            QVERIFY(c && ready(c));
        }
        QTRY_COMPARE(m_server->hub()->counts().clients, int(connections.size()));
        WsClient *dashboard = keep(openWs(u"/ws/server"_s));
        QVERIFY(dashboard);
        const auto live = dashboard->waitFor(type);
        QVERIFY(live);
        const QStringList problems = shapeProblems(expected, *live);
        QVERIFY2(problems.isEmpty(), qPrintable(describe(problems, expected, *live)));
    } else if (type == u"created"_s) {
        // A model change announced on its channel, made through the model's REST route.
        const QString model = expected.value("model"_L1).toString();
        WsClient *c = keep(openWs(u"/ws/"_s + model));
        QVERIFY(c && c->waitFor(u"connection"_s));
        QJsonObject body = stripOpen(expected.value("data"_L1)).toObject();
        for (const QString &key : {u"id"_s, u"created_at"_s, u"updated_at"_s, u"is_active"_s})
            body.remove(key);
        const HttpResult r = http("POST", m_port, u"/%1/"_s.arg(model), Herald::compactJson(body));
        QCOMPARE(r.status, 201);
        const auto live = c->waitFor(type);
        QVERIFY(live);
        QVERIFY_SHAPE(expected, *live);
        QCOMPARE(live->value("data"_L1).toObject(), r.json());
    } else if (type == u"replay"_s) {
        // A client resuming from before a stored message, or, for the reset example, from the example's own
        // since, beyond anything this fresh server handed out.
        QCOMPARE(http("POST", m_port, u"/api/publish"_s, R"({"channel":"news","message":"missed"})").status,
                 202);
        const bool reset = expected.value("reason"_L1).toString() == u"reset"_s;
        const qint64 since = reset ? expected.value("since"_L1).toInteger() : 0;
        QVERIFY(since > m_server->hub()->lastId() || !reset);
        WsClient *c = keep(openWs(u"/ws?channels=news&since=%1"_s.arg(since)));
        QVERIFY(c);
        const auto live = c->waitFor(type);
        QVERIFY(live);
        QVERIFY_SHAPE(expected, *live);
    } else if (type == u"connection"_s) {
        const QString channel = expected.value("channel"_L1).toString();
        WsClient *c = keep(openWs(u"/ws/"_s + channel));
        QVERIFY(c);
        const auto live = c->waitFor(type);
        QVERIFY(live);
        QVERIFY_SHAPE(expected, *live);
    } else {
        QFAIL(qPrintable(u"tst_docs cannot produce a '%1' frame (%2); teach it"_s.arg(type, section)));
    }
}

// Frames shown inline in the /ws/client and /ws/server sections.
void tst_Docs::routeFrames_data()
{
    QTest::addColumn<QString>("example");
    for (const QString &heading : {u"### `/ws/client`"_s, u"### `/ws/server`"_s}) {
        const int start = doc().lineStartingWith(heading);
        QVERIFY2(start > 0, qPrintable(u"section %1 is missing"_s.arg(heading)));
        for (int n = start + 1; n <= doc().lineCount() && !doc().line(n).startsWith(u'#'); ++n) {
            if (doc().inFence(n))
                continue;
            for (const QString &span : codeSpans(doc().line(n))) {
                if (span.startsWith(u"{\"type\":"_s))
                    QTest::addRow("line %d: %s", n, qPrintable(span)) << span;
            }
        }
    }
}

void tst_Docs::routeFrames()
{
    QFETCH(QString, example);
    QString error;
    const auto expected = parseExample(example, &error);
    QVERIFY2(expected, qPrintable(error));
    const QString type = expected->value("type"_L1).toString();
    std::optional<QJsonObject> live;
    if (type == u"counts"_s) {
        WsClient *c = keep(openWs(u"/ws/client"_s));
        QVERIFY(c);
        live = c->waitFor(type);
    } else if (type.startsWith(u"client_"_s)) {
        // A dashboard watches one client connect, subscribe, unsubscribe and leave.
        WsClient *dashboard = keep(openWs(u"/ws/server"_s));
        QVERIFY(dashboard && dashboard->waitFor(u"snapshot"_s));
        auto watched = openWs(u"/ws?client_id=watched"_s);
        QVERIFY(watched);
        watched->send({{"action"_L1, "subscribe"_L1}, {"channel"_L1, "news"_L1}});
        QVERIFY(watched->waitFor(u"subscribed"_s));
        watched->send({{"action"_L1, "unsubscribe"_L1}, {"channel"_L1, "news"_L1}});
        QVERIFY(watched->waitFor(u"unsubscribed"_s));
        watched->close();
        QVERIFY(watched->waitDisconnected());
        live = dashboard->waitFor(type);
    } else {
        QFAIL(qPrintable(u"tst_docs cannot produce a '%1' frame; teach it"_s.arg(type)));
    }
    QVERIFY2(live, qPrintable(u"no '%1' frame arrived"_s.arg(type)));
    QVERIFY_SHAPE(*expected, *live);
}

void tst_Docs::seedExtraFields_data()
{
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("where");
    const auto fields = documentedExtraFields();
    QVERIFY2(!fields.isEmpty(), "the sentence on extra top-level fields is missing");
    for (const auto &[name, where] : fields)
        QTest::addRow("%s %s", qPrintable(name), qPrintable(where)) << name << where;
}

void tst_Docs::seedExtraFields()
{
    QFETCH(QString, field);
    QFETCH(QString, where);
    std::optional<QJsonObject> frame;
    if (field == u"scope"_s && where == u"for seed 001"_s) {
        WsClient *c = keep(openWs(u"/ws/seed-one"_s));
        QVERIFY(c && ready(c));
        c->send({{"type"_L1, "notification"_L1}, {"message"_L1, "m"_L1}});
        frame = c->waitFor(u"notification"_s);
    } else if (field == u"user_id"_s && where.startsWith(u"on seed 003's `notify`"_s)) {
        WsClient *dashboard = keep(openWs(u"/ws/server"_s));
        WsClient *c = keep(openWs(u"/ws/client"_s));
        QVERIFY(dashboard && c && ready(dashboard));
        c->send({{"action"_L1, "subscribe"_L1}, {"user_id"_L1, "u7"_L1}});
        QTRY_COMPARE(m_server->hub()->counts().subscribers, 1);
        c->send({{"action"_L1, "notify"_L1}, {"message"_L1, "m"_L1}});
        frame = dashboard->waitFor(u"notify"_s);
        QVERIFY(frame);
        QCOMPARE(frame->value(field).toString(), u"u7"_s);
    } else if (field == u"model"_s) {
        WsClient *c = keep(openWs(u"/ws/users"_s));
        QVERIFY(c && c->waitFor(u"connection"_s));
        QCOMPARE(http("POST", m_port, u"/users/"_s, R"({"email":"m@example.com","name":"M"})").status, 201);
        frame = c->waitFor(u"created"_s);
        QVERIFY(frame);
        QCOMPARE(frame->value(field).toString(), u"users"_s);
    } else {
        QFAIL(qPrintable(u"tst_docs cannot produce `%1` %2; teach it"_s.arg(field, where)));
    }
    QVERIFY(frame);
    QVERIFY2(frame->contains(field), qPrintable(QString::fromUtf8(Herald::compactJson(*frame))));
}

// ---------------------------------------------------------------------------------------------------------
// HTTP.

namespace {
Row httpRow(QStringView route)
{
    const int heading = doc().lineStartingWith(u"## HTTP");
    for (const Row &row : doc().tableAfter(heading)) {
        if (codeSpans(row.cells.value(0)).value(0) == route)
            return row;
    }
    return {};
}

QJsonObject httpErrorExample()
{
    const int line = doc().lineStartingWith(u"Errors are `{\"error\"");
    return parseExample(codeSpans(doc().line(line)).value(0)).value_or(QJsonObject());
}
} // namespace

// Model routes about record 1 need it (and an author for posts) to exist first.
void tst_Docs::prepareModelRoute(const QString &path)
{
    static const QRegularExpression modelRoute(u"^/(users|posts)/"_s);
    if (!modelRoute.match(path).hasMatch())
        return;
    HttpResult r =
        http("POST", m_port, u"/users/"_s, R"({"email":"prepared@example.com","name":"Prepared"})");
    QVERIFY2(r.status == 201 || r.status == 409, r.body.constData());
    if (path.startsWith(u"/posts/"_s) && path.size() > 7) {
        r = http("POST", m_port, u"/posts/"_s, R"({"user_id":1,"title":"Prepared"})");
        QCOMPARE(r.status, 201);
    }
}

void tst_Docs::httpTable_data()
{
    QTest::addColumn<QStringList>("routes"); // the route spans of column 1
    QTest::addColumn<QStringList>("spans");  // every span of column 1
    QTest::addColumn<QString>("answer");
    const int heading = doc().lineStartingWith(u"## HTTP");
    QVERIFY2(heading > 0, "the HTTP section is missing");
    const QList<Row> rows = doc().tableAfter(heading);
    QVERIFY(!rows.isEmpty());
    static const QRegularExpression route(u"^(GET|POST|HEAD|PUT|PATCH|DELETE) /\\S*$"_s);
    for (const Row &row : rows) {
        QVERIFY2(row.cells.size() == 2, qPrintable(u"line %1 does not have two columns"_s.arg(row.line)));
        const QStringList spans = codeSpans(row.cells.at(0));
        QStringList routes;
        for (const QString &s : spans) {
            if (route.match(s).hasMatch())
                routes.append(s);
        }
        QVERIFY2(!routes.isEmpty(), qPrintable(u"line %1 names no route"_s.arg(row.line)));
        QTest::addRow("line %d: %s", row.line, qPrintable(routes.join(u", "_s)))
            << routes << spans << row.cells.at(1);
    }
}

void tst_Docs::httpTable()
{
    QFETCH(QStringList, routes);
    QFETCH(QStringList, spans);
    QFETCH(QString, answer);
    const QStringList answerSpans = codeSpans(answer);
    static const QRegularExpression statusAndJson(u"^(\\d{3}) (\\{.*\\})$"_s);
    const QString first = answerSpans.value(0);
    const bool jsonAnswer = first.startsWith(u'{') || statusAndJson.match(first).hasMatch();

    for (const QString &route : routes) {
        const QByteArray method = route.section(u' ', 0, 0).toLatin1();
        const QString path = route.section(u' ', 1);
        if (jsonAnswer) {
            int status = 200;
            QString example = first;
            if (const auto m = statusAndJson.match(first); m.hasMatch()) {
                status = m.captured(1).toInt();
                example = m.captured(2);
            }
            QString error;
            const auto expected = parseExample(example, &error);
            QVERIFY2(expected, qPrintable(error));
            QByteArray body;
            const QString bodyExample = spans.value(spans.indexOf(route) + 1);
            if (method != "GET" && bodyExample.startsWith(u'{')) {
                // The body is the span after the route.
                const auto parsed = parseExample(bodyExample, &error);
                QVERIFY2(parsed, qPrintable(error));
                body = Herald::compactJson(stripOpen(*parsed).toObject());
            }
            // Routes about stored messages need one to exist: a notification to mark, a channel with history.
            QString target = path;
            static const QRegularExpression readRoute(u"^/api/notifications/(\\d+)(/read|/unread)?$"_s);
            static const QRegularExpression historyRoute(u"^/api/channels/([^/?]+)/history"_s);
            static const QRegularExpression messageRoute(u"^/api/messages/(\\d+)$"_s);
            static const QRegularExpression scheduledRoute(u"^/api/scheduled/[0-9a-f]{16}$"_s);
            if (messageRoute.match(path).hasMatch()) {
                const HttpResult p = http("POST", m_port, u"/api/publish"_s,
                                          R"({"channel":"news","message":"for the document"})");
                QCOMPARE(p.status, 202);
                target = u"/api/messages/%1"_s.arg(p.json().value("id"_L1).toInteger());
            } else if (scheduledRoute.match(path).hasMatch()) {
                // A handle is random: schedule one and ask about it.
                const HttpResult p = http("POST", m_port, u"/api/publish"_s,
                                          R"({"channel":"news","message":"for the document","delay":"1h"})");
                QCOMPARE(p.status, 202);
                target = u"/api/scheduled/"_s + p.json().value("scheduled"_L1).toString();
            } else if (readRoute.match(path).hasMatch()) {
                const HttpResult p = http("POST", m_port, u"/api/publish"_s,
                                          R"({"channel":"user:1","message":"for the document"})");
                QCOMPARE(p.status, 202);
                target = u"/api/notifications/%1%2"_s.arg(p.json().value("id"_L1).toInteger())
                             .arg(readRoute.match(path).captured(2));
            } else if (const auto h = historyRoute.match(path); h.hasMatch()) {
                const QJsonObject m{{"channel"_L1, h.captured(1)}, {"message"_L1, "for the document"_L1}};
                QCOMPARE(http("POST", m_port, u"/api/publish"_s, Herald::compactJson(m)).status, 202);
            }
            // A list of a user's notifications: as many as the example lists, published for it first.
            if (const QJsonObject b = QJsonDocument::fromJson(body).object(); b.value("ids"_L1).isArray()) {
                QJsonArray ids;
                for (qsizetype i = 0; i < b.value("ids"_L1).toArray().size(); ++i) {
                    const QJsonObject m{
                        {"channel"_L1, QString(u"user:"_s + b.value("user_id"_L1).toString())},
                        {"message"_L1, "for the document"_L1}};
                    const HttpResult p = http("POST", m_port, u"/api/publish"_s, Herald::compactJson(m));
                    QCOMPARE(p.status, 202);
                    ids.append(p.json().value("id"_L1).toInteger());
                }
                QJsonObject withIds = b;
                withIds.insert("ids"_L1, ids);
                body = Herald::compactJson(withIds);
            }
            prepareModelRoute(path);
            QStringList counted;
            collectCountedChannels(*expected, counted);
            for (const QString &channel : std::as_const(counted)) {
                WsClient *c = keep(openWs(u"/ws?channels="_s + channel));
                QVERIFY(c && ready(c));
            }
            const HttpResult r = http(method, m_port, target, body);
            QCOMPARE(r.status, status);
            QVERIFY2(r.contentType.startsWith("application/json"), r.contentType.constData());
            QVERIFY_SHAPE(*expected, r.json());
        } else if (answer.startsWith(u"Prometheus text:"_s)) {
            const HttpResult r = http(method, m_port, path);
            QCOMPARE(r.status, 200);
            QVERIFY(r.contentType.startsWith("text/plain"));
            static const QRegularExpression metric(u"^(herald_[a-z_]+)(\\{([a-z_]+)=\u2026\\})?$"_s);
            QStringList documented;
            for (const QString &span : answerSpans) {
                const auto m = metric.match(span);
                QVERIFY2(m.hasMatch(), qPrintable(u"'%1' is not a metric name"_s.arg(span)));
                const QByteArray name = m.captured(1).toLatin1();
                documented.append(m.captured(1));
                QVERIFY2(r.body.contains(QByteArray("\n# TYPE " + name + ' ')), name.constData());
                // As documented: with its label, or without any.
                const QByteArray sample =
                    m.hasCaptured(3) ? QByteArray("\n" + name + '{' + m.captured(3).toLatin1() + "=\"")
                                     : QByteArray("\n" + name + ' ');
                QVERIFY2(r.body.contains(sample), sample.constData());
                if (!m.hasCaptured(3))
                    QVERIFY2(!r.body.contains(QByteArray("\n" + name + '{')),
                             qPrintable(u"%1 is served with labels the document does not show"_s.arg(
                                 m.captured(1))));
            }
            // And the other way round: every metric served is documented.
            static const QRegularExpression typeLine(u"^# TYPE (\\S+) "_s,
                                                     QRegularExpression::MultilineOption);
            for (auto it = typeLine.globalMatch(QString::fromUtf8(r.body)); it.hasNext();) {
                const QString name = it.next().captured(1);
                QVERIFY2(documented.contains(name), qPrintable(u"metric %1 is not documented"_s.arg(name)));
            }
        } else if (path.endsWith(Ellipsis)) {
            // A directory: the spans in column 2 are the files in it.
            const QString prefix = path.chopped(1);
            QVERIFY(!answerSpans.isEmpty());
            for (const QString &asset : answerSpans) {
                const HttpResult r = http(method, m_port, prefix + asset);
                QVERIFY2(r.status == 200, qPrintable(prefix + asset));
                QVERIFY2(!r.body.isEmpty(), qPrintable(prefix + asset));
            }
        } else if (answer.startsWith(u"a JSON array"_s)) {
            // A model's list: seed 004's clients read a bare array; the channel position is a header.
            prepareModelRoute(path);
            const HttpResult r = http(method, m_port, path);
            QCOMPARE(r.status, 200);
            QVERIFY(r.contentType.startsWith("application/json"));
            const QJsonDocument d = QJsonDocument::fromJson(r.body);
            QVERIFY2(d.isArray() && !d.array().isEmpty(), r.body.constData());
            for (const QString &header : answerSpans) {
                if (header.startsWith(u"X-"_s)) {
                    bool present = false;
                    for (const auto &[k, v] : r.headers)
                        present = present || k.compare(header.toLatin1(), Qt::CaseInsensitive) == 0;
                    QVERIFY2(present, qPrintable(header));
                }
            }
        } else if (answer.startsWith(u"the client page"_s)) {
            for (const QString &query : {QString(), u"?user_id=1"_s}) {
                const HttpResult r = http(method, m_port, path + query);
                QCOMPARE(r.status, 200);
                QVERIFY(r.contentType.startsWith("text/html"));
            }
        } else {
            QFAIL(qPrintable(
                u"tst_docs does not know how to check '%1' -> '%2'; teach it"_s.arg(route, answer)));
        }
    }
}

void tst_Docs::httpPublishErrors_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("code");
    const Row row = httpRow(u"POST /api/publish");
    QVERIFY2(row.line > 0, "POST /api/publish is not in the HTTP table");
    static const QRegularExpression statusCode(u"^(\\d{3}) ([a-z_]+)$"_s);
    static const QRegularExpression bareCode(u"^[a-z_]+$"_s);
    int status = 0;
    for (const QString &span : codeSpans(row.cells.value(1))) {
        if (const auto m = statusCode.match(span); m.hasMatch()) {
            status = m.captured(1).toInt();
            QTest::addRow("%d %s", status, qPrintable(m.captured(2))) << status << m.captured(2);
        } else if (status != 0 && bareCode.match(span).hasMatch()) {
            QTest::addRow("%d %s", status, qPrintable(span)) << status << span;
        } else {
            status = 0;
        }
    }
}

void tst_Docs::httpPublishErrors()
{
    QFETCH(int, status);
    QFETCH(QString, code);
    QByteArray body;
    if (code == u"invalid_json"_s)
        body = "channel=news";
    else if (code == u"bad_request"_s)
        body = R"({"message":"no channel"})";
    else if (code == u"bad_channel"_s)
        body = R"({"channel":"a b"})";
    else if (code == u"too_large"_s)
        body =
            R"({"channel":"news","message":")" + QByteArray(m_server->config().maxMessageSize, 'x') + R"("})";
    else if (code == u"unavailable"_s)
        body = R"({"channel":"news","message":"while the database is locked"})";
    else if (code == u"conflict"_s)
        // Two publishes with one key while the database is locked: one waits in the store, the other is told
        // the key is in use.
        body = R"({"channel":"news","message":"held","idempotency_key":"docs-held"})";
    else if (code == u"outcome_unknown"_s)
        QSKIP("cluster only (a Redis that hangs): tst_cluster lostAnswerIsOutcomeUnknown provokes it");
    else
        QFAIL(qPrintable(u"tst_docs cannot provoke '%1'; teach it"_s.arg(code)));
    const qint64 before = m_server->hub()->lastId();
    // "unavailable": another process holds the database's write lock for longer than the busy timeout.
    std::optional<QSqlDatabase> locker;
    if (code == u"unavailable"_s || code == u"conflict"_s) {
        locker = QSqlDatabase::addDatabase(u"QSQLITE"_s, u"tst_docs_locker"_s);
        locker->setDatabaseName(m_server->store()->databasePath());
        QVERIFY(locker->open());
        QVERIFY(QSqlQuery(*locker).exec(u"BEGIN EXCLUSIVE"_s));
    }
    HttpResult r;
    if (code == u"conflict"_s) {
        // Two connections, accepted one after the other: on the server's two I/O threads.
        const QList<HttpResult> pair =
            sendConcurrently({{"POST", u"/api/publish"_s, body}, {"POST", u"/api/publish"_s, body}}, m_port);
        r = pair.at(0).status == 409 ? pair.at(0) : pair.at(1);
    } else {
        r = http("POST", m_port, u"/api/publish"_s, body);
    }
    if (locker) {
        QSqlQuery(*locker).exec(u"ROLLBACK"_s);
        locker->close();
        locker.reset();
        QSqlDatabase::removeDatabase(u"tst_docs_locker"_s);
    }
    QCOMPARE(r.status, status);
    const QJsonObject example = httpErrorExample();
    QVERIFY2(!example.isEmpty(), "the HTTP error body example (Errors are `{…}`) is missing");
    QVERIFY_SHAPE(example, r.json());
    QCOMPARE(r.json().value("error"_L1).toString(), code);
    QCOMPARE(m_server->hub()->lastId(), before);
}

void tst_Docs::httpPublishSkipsClient()
{
    const Row row = httpRow(u"POST /api/publish");
    QVERIFY(row.line > 0);
    static const QRegularExpression header(u"^([A-Za-z-]+): (\\S+)$"_s);
    QRegularExpressionMatch m;
    for (const QString &span : codeSpans(row.cells.value(1))) {
        m = header.match(span);
        if (m.hasMatch())
            break;
    }
    QVERIFY2(m.hasMatch(), "no header is documented for POST /api/publish");
    const QString skipped = m.captured(2);
    QVERIFY2(row.cells.value(1).contains(u"skips client `%1`"_s.arg(skipped)), "the header's effect changed");

    WsClient *me = keep(openWs(u"/ws?channels=news&client_id="_s + skipped));
    WsClient *other = keep(openWs(u"/ws?channels=news&client_id=other"_s));
    QVERIFY(me && other && ready(me) && ready(other));
    const HttpResult r =
        http("POST", m_port, u"/api/publish"_s, R"({"channel":"news","type":"created","data":{"id":1}})",
             {{m.captured(1).toLatin1(), skipped.toLatin1()}});
    QCOMPARE(r.status, 202);
    QVERIFY(other->waitFor(u"created"_s));
    QVERIFY(noneGot({me}, u"created"_s, u"news"_s));
}

void tst_Docs::httpRejections_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("paragraph");
    const int line = doc().lineStartingWith(u"A malformed request head");
    QVERIFY2(line > 0, "the paragraph on malformed requests is missing");
    const QString paragraph = doc().paragraphAt(line);
    static const QRegularExpression status(u"^\\d{3}$"_s);
    for (const QString &span : codeSpans(paragraph)) {
        if (status.match(span).hasMatch())
            QTest::addRow("%s", qPrintable(span)) << span.toInt() << paragraph;
    }
}

void tst_Docs::httpRejections()
{
    QFETCH(int, status);
    QFETCH(QString, paragraph);
    QByteArray answer;
    QByteArray expectHeader;
    if (status == 400) {
        answer = httpAnswer(m_port, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"_ba);
    } else if (status == 431) {
        static const QRegularExpression over(u"over (\\d+) KiB `431`"_s);
        const auto m = over.match(paragraph);
        QVERIFY(m.hasMatch());
        const qsizetype limit = m.captured(1).toInt() * 1024;
        // Exactly at the limit is fine; one byte more is not.
        auto head = [](qsizetype size) {
            const QByteArray start = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Pad: ";
            const QByteArray end = "\r\nConnection: close\r\n\r\n";
            return QByteArray(start + QByteArray(size - start.size() - end.size(), 'a') + end);
        };
        const QByteArray atLimit = httpAnswer(m_port, head(limit));
        QVERIFY2(atLimit.startsWith("HTTP/1.1 200"), atLimit.left(100).constData());
        answer = httpAnswer(m_port, head(limit + 1));
    } else if (status == 408) {
        // The documented wait is checked in documentedDefaults; here a short one proves the answer.
        QTemporaryDir dir;
        auto quick = startServer(
            dir.path(), [](Herald::ServerConfig &c) { c.handshakeTimeout = std::chrono::milliseconds(200); });
        QVERIFY(quick);
        answer = rawExchange(quick->port(), "GET /healthz HTTP/1.1\r\n", 5000);
    } else if (status == 426) {
        static const QRegularExpression header(u"`426` with `([^`:]+): ([^`]+)`"_s);
        const auto m = header.match(paragraph);
        QVERIFY2(m.hasMatch(), "the header sent with 426 is not documented");
        expectHeader =
            QByteArray("\r\n" + m.captured(1).toLatin1() + ": " + m.captured(2).toLatin1() + "\r\n");
        answer = httpAnswer(
            m_port, "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
    } else if (status == 413) {
        // Refused from the head alone: the body need not even be sent.
        const QByteArray length = QByteArray::number(m_server->config().maxMessageSize + 1);
        answer = httpAnswer(
            m_port, "POST /api/publish HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    "Content-Length: " +
                        length + "\r\n\r\n");
    } else if (status == 405) {
        static const QRegularExpression example(u"`405` with `([^`:]+): ([^`]+)`"_s);
        static const QRegularExpression request(u"\\(`([A-Z]+) (/[^`]*)`\\) `405`"_s);
        const auto m = example.match(paragraph);
        const auto r = request.match(paragraph);
        QVERIFY2(m.hasMatch() && r.hasMatch(),
                 "the request that gets 405, and its header, are not documented");
        expectHeader =
            QByteArray("\r\n" + m.captured(1).toLatin1() + ": " + m.captured(2).toLatin1() + "\r\n");
        answer = httpAnswer(m_port, r.captured(1).toLatin1() + ' ' + r.captured(2).toLatin1() +
                                        " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    } else if (status == 411) {
        answer = httpAnswer(m_port,
                            "POST /api/publish HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                            "Content-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    } else {
        QFAIL(qPrintable(u"tst_docs cannot provoke %1; teach it"_s.arg(status)));
    }
    QVERIFY2(answer.startsWith(QByteArray("HTTP/1.1 " + QByteArray::number(status) + ' ')),
             answer.left(200).constData());
    if (!expectHeader.isEmpty())
        QVERIFY2(answer.contains(expectHeader), answer.left(400).constData());
    const QByteArray body = answer.mid(answer.indexOf("\r\n\r\n") + 4);
    QVERIFY_SHAPE(httpErrorExample(), parseObject(body));
}

void tst_Docs::httpFraming_data()
{
    // Each header line the paragraph shows, with the first status it names after it.
    QTest::addColumn<QString>("header");
    QTest::addColumn<int>("status");
    const int line = doc().lineStartingWith(u"Every request, on every route");
    QVERIFY2(line > 0, "the paragraph on request framing is missing");
    static const QRegularExpression header(u"^(Transfer-Encoding|Content-Length):( .*)?$"_s);
    static const QRegularExpression status(u"^\\d{3}$"_s);
    QStringList pending;
    for (const QString &span : codeSpans(doc().paragraphAt(line))) {
        if (header.match(span).hasMatch()) {
            pending.append(span);
        } else if (status.match(span).hasMatch()) {
            for (const QString &h : std::as_const(pending))
                QTest::addRow("%s", qPrintable(h)) << h << span.toInt();
            pending.clear();
        }
    }
    QVERIFY2(pending.isEmpty(), qPrintable(u"no status documented for %1"_s.arg(pending.join(u", "_s))));
}

void tst_Docs::httpFraming()
{
    QFETCH(QString, header);
    QFETCH(int, status);
    // A GET behind the refused head must never be answered: the connection closes after the one answer.
    const QByteArray request =
        "POST /api/publish HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
        header.toLatin1() + "\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    constexpr int Timeout = 5000;
    QElapsedTimer t;
    t.start();
    const QByteArray answer = rawExchange(m_port, request, Timeout);
    QVERIFY2(t.elapsed() < Timeout, "the connection stayed open after the answer");
    QVERIFY2(answer.startsWith(QByteArray("HTTP/1.1 " + QByteArray::number(status) + ' ')),
             answer.left(200).constData());
    QCOMPARE(answer.count("HTTP/1.1 "), 1);
    const QByteArray body = answer.mid(answer.indexOf("\r\n\r\n") + 4);
    QVERIFY_SHAPE(httpErrorExample(), parseObject(body));
}

// ---------------------------------------------------------------------------------------------------------
// Server-Sent Events: the ```text block.

namespace {
struct SseExample
{
    QString path;
    QStringList head;          // status line and headers
    QList<QStringList> events; // blank-line separated groups of the body
};

SseExample sseExample()
{
    SseExample e;
    const int line = doc().lineStartingWith(u"`GET /events?");
    QString path = codeSpans(doc().line(line)).value(0).section(u' ', 1);
    path.remove(QRegularExpression(u"\\[[^\\]]*\\]"_s)); // optional parts
    e.path = path;
    for (const Fence &f : doc().fences()) {
        if (f.lang != u"text"_s || f.section != u"## Server-Sent Events"_s)
            continue;
        const QStringList lines = f.text.split(u'\n');
        qsizetype i = 0;
        for (; i < lines.size() && !lines.at(i).isEmpty(); ++i)
            e.head.append(lines.at(i));
        QStringList group;
        for (++i; i < lines.size(); ++i) {
            if (lines.at(i).isEmpty()) {
                if (!group.isEmpty())
                    e.events.append(group);
                group.clear();
            } else {
                group.append(lines.at(i));
            }
        }
        if (!group.isEmpty())
            e.events.append(group);
        break;
    }
    return e;
}

// Live events of an SSE body (after the head), blank-line separated.
QList<QStringList> sseEvents(const QByteArray &body)
{
    QList<QStringList> out;
    const QStringList lines = QString::fromUtf8(body).split(u'\n');
    QStringList group;
    for (const QString &l : lines) {
        if (l.isEmpty()) {
            if (!group.isEmpty())
                out.append(group);
            group.clear();
        } else {
            group.append(l);
        }
    }
    return out; // an unterminated last group is not an event yet
}

// "field: value" -> field ("" for a comment), value.
std::pair<QString, QString> sseField(const QString &line)
{
    const qsizetype colon = line.indexOf(u':');
    if (colon < 0)
        return {line, QString()};
    QString value = line.mid(colon + 1);
    if (value.startsWith(u' '))
        value = value.mid(1);
    return {line.left(colon), value};
}

// Empty if the live event matches the documented one line by line.
QString sseEventDiff(const QStringList &example, const QStringList &live)
{
    if (example.size() != live.size())
        return u"the document shows %1 lines, the server sends: %2"_s.arg(example.size())
            .arg(live.join(u" | "_s));
    for (qsizetype i = 0; i < example.size(); ++i) {
        const auto [wantField, want] = sseField(example.at(i));
        const auto [gotField, got] = sseField(live.at(i));
        if (wantField != gotField)
            return u"line %1: '%2' vs '%3'"_s.arg(i).arg(example.at(i), live.at(i));
        if (wantField.isEmpty()) {
            // A comment: its first word is the text, the rest may be sample data.
            if (want.section(u' ', 0, 0) != got.section(u' ', 0, 0))
                return u"comment '%1' vs '%2'"_s.arg(want, got);
        } else if (wantField == u"data"_s) {
            QString error;
            const auto expected = parseExample(want, &error);
            if (!expected)
                return error;
            const QString diff = shapeDiff(*expected, parseObject(got.toUtf8()));
            if (!diff.isEmpty())
                return diff;
        } else if (wantField == u"id"_s) {
            bool ok = false;
            got.toLongLong(&ok);
            if (!ok)
                return u"id '%1' is not a number"_s.arg(got);
        } else if (!want.contains(Ellipsis) && want != got) {
            return u"'%1' vs '%2'"_s.arg(example.at(i), live.at(i));
        }
    }
    return {};
}
} // namespace

void tst_Docs::sseStream()
{
    const SseExample example = sseExample();
    QVERIFY2(!example.path.isEmpty() && !example.head.isEmpty() && example.events.size() >= 2,
             "the SSE example is missing or incomplete");
    QTcpSocket s;
    s.connectToHost(u"127.0.0.1"_s, m_port);
    QTRY_VERIFY(s.state() == QAbstractSocket::ConnectedState);
    s.write("GET " + example.path.toUtf8() +
            " HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n");
    QByteArray in;
    QTRY_VERIFY((in += s.readAll()).contains("\r\n\r\n"));
    const QByteArray head = in.left(in.indexOf("\r\n\r\n"));
    QVERIFY2(head.startsWith(QByteArray(example.head.constFirst().toUtf8() + "\r\n")), head.constData());
    for (const QString &h : example.head.mid(1))
        QVERIFY2(head.contains(QByteArray("\r\n" + h.toUtf8())), qPrintable(h));

    // The preamble: the first group, there as soon as the stream opens.
    auto events = [&in, &s] {
        in += s.readAll();
        return sseEvents(in.mid(in.indexOf("\r\n\r\n") + 4));
    };
    QTRY_VERIFY(!events().isEmpty());
    QString diff = sseEventDiff(example.events.constFirst(), events().constFirst());
    QVERIFY2(diff.isEmpty(), qPrintable(diff));

    // The message event: publish what its data line shows, then compare the event.
    qsizetype messageIndex = -1;
    QJsonObject data;
    for (qsizetype i = 0; i < example.events.size(); ++i) {
        for (const QString &l : example.events.at(i)) {
            if (l.startsWith(u"data:"_s)) {
                messageIndex = i;
                data = parseExample(sseField(l).second).value_or(QJsonObject());
            }
        }
        if (messageIndex >= 0)
            break;
    }
    QVERIFY2(messageIndex > 0 && !data.isEmpty(), "the SSE example shows no message event");
    QJsonObject publish = stripOpen(data).toObject();
    publish.remove("id"_L1);
    const HttpResult r = http("POST", m_port, u"/api/publish"_s, Herald::compactJson(publish));
    QCOMPARE(r.status, 202);
    QTRY_VERIFY(events().size() >= 2);
    const QStringList live = events().at(1);
    diff = sseEventDiff(example.events.at(messageIndex), live);
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
    const QString id = QString::number(r.json().value("id"_L1).toInteger());
    QVERIFY(live.contains(u"id: "_s + id));
    QCOMPARE(parseObject(sseField(live.constLast()).second.toUtf8()).value("id"_L1).toInteger(),
             r.json().value("id"_L1).toInteger());
    s.abort();
}

void tst_Docs::sseHeartbeat()
{
    // The documented period (15 s) is checked in documentedDefaults; here a short one shows the comment.
    const SseExample example = sseExample();
    QVERIFY(!example.events.isEmpty());
    const QStringList heartbeat = example.events.constLast();
    QCOMPARE(heartbeat.size(), 1);
    QVERIFY(heartbeat.constFirst().startsWith(u':'));
    QTemporaryDir dir;
    auto quick = startServer(
        dir.path(), [](Herald::ServerConfig &c) { c.sseHeartbeat = std::chrono::milliseconds(100); });
    QVERIFY(quick);
    QTcpSocket s;
    s.connectToHost(u"127.0.0.1"_s, quick->port());
    QTRY_VERIFY(s.state() == QAbstractSocket::ConnectedState);
    s.write("GET " + example.path.toUtf8() + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    QByteArray in;
    QTRY_VERIFY((in += s.readAll()).contains(QByteArray("\n\n" + heartbeat.constFirst().toUtf8() + "\n\n")));
    s.abort();
}

void tst_Docs::sseEventNaming_data()
{
    // "`/events` names each event after the message type; `/events/{user_id}` sends unnamed events ...
    //  `?named=0|1` overrides either."
    QTest::addColumn<QString>("path");
    QTest::addColumn<bool>("named");
    const int line = doc().lineStartingWith(u"`/events` names each event");
    QVERIFY2(line > 0, "the paragraph on event names is missing");
    const QString paragraph = doc().paragraphAt(line);
    QVERIFY(paragraph.contains(u"`/events/{user_id}` sends unnamed events"_s));
    QVERIFY(paragraph.contains(u"`?named=0|1` overrides either"_s));
    QTest::newRow("/events") << u"/events?user_id=1"_s << true;
    QTest::newRow("/events/{user_id}") << u"/events/1"_s << false;
    QTest::newRow("/events named=0") << u"/events?user_id=1&named=0"_s << false;
    QTest::newRow("/events/{user_id} named=1") << u"/events/1?named=1"_s << true;
}

void tst_Docs::sseEventNaming()
{
    QFETCH(QString, path);
    QFETCH(bool, named);
    QTcpSocket s;
    s.connectToHost(u"127.0.0.1"_s, m_port);
    QTRY_VERIFY(s.state() == QAbstractSocket::ConnectedState);
    s.write("GET " + path.toUtf8() + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    QByteArray in;
    QTRY_VERIFY((in += s.readAll()).contains("retry: "));
    QTRY_COMPARE(m_server->hub()->counts().clients, 1);
    const HttpResult r = http("POST", m_port, u"/api/publish"_s,
                              R"({"channel":"user:1","type":"notification","message":"m"})");
    QCOMPARE(r.status, 202);
    QTRY_VERIFY((in += s.readAll()).contains("data: "));
    QCOMPARE(in.contains("\nevent: notification\n"), named);
    s.abort();
}

// ---------------------------------------------------------------------------------------------------------
// Close codes and defaults.

void tst_Docs::closeCodes_data()
{
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("clause");
    const int line = doc().lineStartingWith(u"A message larger than the limit");
    QVERIFY2(line > 0, "the close codes paragraph is missing");
    static const QRegularExpression code(u"\\*\\*(\\d{4})\\*\\*"_s);
    for (const QString &clause : doc().paragraphAt(line).split(QRegularExpression(u"[;,]"_s))) {
        const auto m = code.match(clause);
        if (m.hasMatch())
            QTest::addRow("%s", qPrintable(m.captured(1))) << m.captured(1).toInt() << clause.trimmed();
    }
}

void tst_Docs::closeCodes()
{
    QFETCH(int, code);
    QFETCH(QString, clause);
    int got = -1;
    if (clause.contains(u"larger than the limit"_s)) {
        static const QRegularExpression limitRe(u"\\((\\d+) KiB by default\\)"_s);
        const auto m = limitRe.match(clause);
        QVERIFY(m.hasMatch());
        const int limit = m.captured(1).toInt() * 1024;
        WsClient *c = keep(openWs(u"/ws"_s));
        QVERIFY(c);
        // At the limit: an ordinary (bad) message, answered with an error frame.
        c->sendText(QString(limit, u'x'));
        const auto error = c->waitFor(u"error"_s);
        QVERIFY(error);
        QCOMPARE(error->value("code"_L1).toString(), u"invalid_json"_s);
        QVERIFY(c->isConnected());
        c->sendText(QString(limit + 1, u'x'));
        QVERIFY(c->waitDisconnected());
        got = c->closeCode();
    } else if (clause.contains(u"protocol violation"_s)) {
        RawClient raw; // for frames QWebSocket refuses to send
        QVERIFY(raw.connectTo(m_port));
        raw.write(upgradeRequest("/ws"));
        QCOMPARE(raw.readResponse().status, 101);
        raw.write("\x81\x02hi"_ba); // a client frame without a mask
        got = raw.waitCloseCode();
    } else if (clause.contains(u"invalid UTF-8"_s)) {
        RawClient raw; // for frames QWebSocket refuses to send
        QVERIFY(raw.connectTo(m_port));
        raw.write(upgradeRequest("/ws"));
        QCOMPARE(raw.readResponse().status, 101);
        raw.write("\x81\x82\x00\x00\x00\x00\xff\xfe"_ba); // masked (with a zero key) text, not UTF-8
        got = raw.waitCloseCode();
    } else if (clause.contains(u"shutdown"_s)) {
        WsClient *c = keep(openWs(u"/ws"_s));
        QVERIFY(c && ready(c));
        m_server->stop();
        QVERIFY(c->waitDisconnected());
        got = c->closeCode();
    } else {
        QFAIL(qPrintable(u"tst_docs cannot provoke '%1'; teach it"_s.arg(clause)));
    }
    QCOMPARE(got, code);
}

void tst_Docs::documentedDefaults_data()
{
    QTest::addColumn<QString>("documented");
    QTest::addColumn<QString>("actual");
    const auto options = Herald::parseServerOptions({u"herald-server"_s});
    QVERIFY(options);
    const Herald::ServerConfig &c = options->config;
    const QString text = doc().text();
    auto find = [&text](const QString &pattern) {
        const auto m = QRegularExpression(pattern).match(text);
        return m.hasMatch() ? m.captured(1) : u"(not found: %1)"_s.arg(pattern);
    };
    QTest::newRow("address") << find(u"default `([^`]+)`"_s) << u"%1:%2"_s.arg(c.bindText).arg(c.port);
    QTest::newRow("message limit") << find(u"\\((\\d+) KiB by default\\)"_s)
                                   << QString::number(c.maxMessageSize / 1024);
    QTest::newRow("handshake timeout")
        << find(u"within (\\d+) s `408`"_s) << QString::number(c.handshakeTimeout.count() / 1000);
    // The limits table under Security: "| `--option` (what) | default |".
    auto limit = [&find](const char *option) {
        return find(u"\\| `--%1`[^|]*\\| ([^|]+) \\|"_s.arg(QLatin1StringView(option))).trimmed();
    };
    auto seconds = [](std::chrono::milliseconds ms) {
        return u"%1 s"_s.arg(ms.count() / 1000);
    };
    QTest::newRow("handshake-timeout") << limit("handshake-timeout") << seconds(c.tlsHandshakeTimeout);
    QTest::newRow("request-timeout") << limit("request-timeout") << seconds(c.handshakeTimeout);
    QTest::newRow("body-timeout") << limit("body-timeout") << seconds(c.bodyTimeout);
    QTest::newRow("write-timeout") << limit("write-timeout") << seconds(c.writeTimeout);
    QTest::newRow("max-subscriptions") << limit("max-subscriptions") << QString::number(c.maxSubscriptions);
    QTest::newRow("sse heartbeat") << find(u"heartbeat comment goes out every (\\d+) s"_s)
                                   << QString::number(c.sseHeartbeat.count() / 1000);
    QTest::newRow("sse retry") << find(u"\nretry: (\\d+)\n"_s) << QString::number(c.sseRetry.count());
    QTest::newRow("model channels") << find(u"model channel \\(seed 004: ([^)]+)\\)"_s).remove(u'`')
                                    << c.modelNames().join(u", "_s);
    QTest::newRow("idempotency window")
        << find(u"`--idempotency-window` of that answer \\(default (\\d+) s"_s)
        << QString::number(c.idempotencyWindow.count());
    QTest::newRow("client id claim")
        << find(u"for (\\d+) minutes after the last one\\s+closes"_s)
        << QString::number(
               std::chrono::duration_cast<std::chrono::minutes>(Herald::Hub::DefaultClaimLinger).count());
}

void tst_Docs::documentedDefaults()
{
    QFETCH(QString, documented);
    QFETCH(QString, actual);
    QCOMPARE(documented, actual);
}

// ---------------------------------------------------------------------------------------------------------
// README.md: the tour under "## Using it" is run as a reader would, in order, against one fresh server with
// the defaults (no demo): every curl command, then every websocat session. Ids and counts are compared
// exactly, so the README shows what a reader sees.

namespace {
const ProtocolDoc &readme()
{
    static const ProtocolDoc d = [] {
        ProtocolDoc p;
        p.load(QStringLiteral(HERALD_README));
        return p;
    }();
    return d;
}

// One curl command of the tour, as curl reads it.
struct CurlCommand
{
    int line = 0;
    QByteArray method;
    QString path; // with its query
    QList<QPair<QByteArray, QByteArray>> headers;
    QByteArray body;
    bool stream = false;    // -N: an event stream
    QString expectedBody;   // the "# {…}" line under it
    int expectedStatus = 0; // "# 201, …" after it
};

// Splits a shell command line into words: single and double quotes, no expansion (the tour has none).
QStringList shellWords(const QString &command)
{
    QStringList words;
    QString current;
    bool inWord = false;
    QChar quote;
    for (QChar c : command) {
        if (!quote.isNull()) {
            if (c == quote)
                quote = QChar();
            else
                current += c;
        } else if (c == u'\'' || c == u'"') {
            quote = c;
            inWord = true;
        } else if (c.isSpace()) {
            if (inWord)
                words.append(current);
            current.clear();
            inWord = false;
        } else if (c == u'#' && !inWord) {
            break; // a comment
        } else {
            current += c;
            inWord = true;
        }
    }
    if (inWord)
        words.append(current);
    return words;
}

QList<CurlCommand> readmeCurls(QString *error)
{
    QList<CurlCommand> out;
    for (const Fence &f : readme().fences()) {
        if (f.lang != u"sh"_s || f.section != u"## Using it"_s)
            continue;
        const QStringList lines = f.text.split(u'\n');
        for (qsizetype i = 0; i < lines.size(); ++i) {
            QString command = lines.at(i);
            const int line = f.line + int(i);
            if (!command.startsWith(u"curl "_s)) {
                if (command.startsWith(u"# {"_s) && !out.isEmpty())
                    out.last().expectedBody = command.mid(2);
                continue;
            }
            while (command.trimmed().endsWith(u'\\') && i + 1 < lines.size())
                command = command.trimmed().chopped(1) + u' ' + lines.at(++i).trimmed();
            CurlCommand c;
            c.line = line;
            static const QRegularExpression status(u"#\\s*(\\d{3})\\b"_s);
            if (const auto m = status.match(command); m.hasMatch())
                c.expectedStatus = m.captured(1).toInt();
            const QStringList words = shellWords(command);
            for (qsizetype w = 1; w < words.size(); ++w) {
                const QString &word = words.at(w);
                if (word == u"-s"_s || word == u"-i"_s) {
                    continue;
                } else if (word == u"-N"_s) {
                    c.stream = true;
                } else if (word == u"-X"_s && w + 1 < words.size()) {
                    c.method = words.at(++w).toLatin1();
                } else if (word == u"-H"_s && w + 1 < words.size()) {
                    const QString h = words.at(++w);
                    c.headers.append(
                        {h.section(u':', 0, 0).trimmed().toLatin1(), h.section(u':', 1).trimmed().toUtf8()});
                } else if (word == u"-d"_s && w + 1 < words.size()) {
                    c.body = words.at(++w).toUtf8();
                } else if (word.startsWith(u"localhost:8000/"_s)) {
                    c.path = word.mid(QStringView(u"localhost:8000").size());
                } else {
                    *error = u"line %1: tst_docs does not know curl's '%2'; teach it"_s.arg(line).arg(word);
                    return {};
                }
            }
            if (c.method.isEmpty())
                c.method = c.body.isEmpty() ? "GET" : "POST";
            // What curl sends with -d unless told otherwise.
            const bool typed = std::any_of(c.headers.cbegin(), c.headers.cend(), [](const auto &h) {
                return h.first.compare("content-type", Qt::CaseInsensitive) == 0;
            });
            if (!c.body.isEmpty() && !typed)
                c.headers.append(
                    qMakePair(QByteArray("Content-Type"), QByteArray("application/x-www-form-urlencoded")));
            out.append(c);
        }
    }
    return out;
}

// One websocat session of the tour: its URL and its lines, "> " sent, "< " received.
struct WsSession
{
    int line = 0;
    QString path;
    QList<std::pair<int, QString>> lines; // line number, "> …" or "< …"
};

QList<WsSession> readmeWebSockets()
{
    QList<WsSession> out;
    for (const Fence &f : readme().fences()) {
        if (f.lang != u"text"_s || f.section != u"## Using it"_s || !f.text.contains(u"$ websocat "_s))
            continue;
        const QStringList lines = f.text.split(u'\n');
        for (qsizetype i = 0; i < lines.size(); ++i) {
            const QString &l = lines.at(i);
            if (l.startsWith(u"$ websocat "_s)) {
                WsSession s;
                s.line = f.line + int(i);
                const QStringList words = shellWords(l.mid(2));
                s.path = words.value(1).mid(QStringView(u"ws://127.0.0.1:8000").size());
                out.append(s);
            } else if ((l.startsWith(u"> "_s) || l.startsWith(u"< "_s)) && !out.isEmpty()) {
                out.last().lines.append({f.line + int(i), l});
            }
        }
    }
    return out;
}

// Numbers in the README are what a reader following the tour sees: compared exactly.
void compareNumbers(const QJsonValue &example, const QJsonValue &live, const QString &path,
                    QStringList &problems)
{
    if (example.isDouble() && live.isDouble()) {
        if (example.toInteger() != live.toInteger())
            problems.append(u"%1: the README shows %2, the server sends %3"_s.arg(path)
                                .arg(example.toInteger())
                                .arg(live.toInteger()));
    } else if (example.isObject() && live.isObject()) {
        const QJsonObject e = example.toObject();
        const QJsonObject l = live.toObject();
        for (auto it = e.begin(); it != e.end(); ++it)
            compareNumbers(it.value(), l.value(it.key()), path + u'.' + it.key(), problems);
    } else if (example.isArray() && live.isArray()) {
        const QJsonArray e = example.toArray();
        const QJsonArray l = live.toArray();
        for (qsizetype i = 0; i < e.size() && i < l.size(); ++i)
            compareNumbers(e.at(i), l.at(i), u"%1[%2]"_s.arg(path).arg(i), problems);
    }
}

QString readmeDiff(const QJsonObject &example, const QJsonObject &live)
{
    QStringList problems = shapeProblems(example, live);
    compareNumbers(example, live, QString(), problems);
    return describe(problems, example, live);
}
} // namespace

void tst_Docs::readmeTour()
{
    QVERIFY2(readme().lineCount() > 1, qPrintable(readme().errorString()));
    QString error;
    const QList<CurlCommand> curls = readmeCurls(&error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QVERIFY(curls.size() > 10);
    for (const CurlCommand &c : curls) {
        const QString where = u"README line %1: "_s.arg(c.line);
        if (c.stream) {
            SseClient sse;
            QByteArray extra;
            for (const auto &[name, value] : c.headers)
                extra += name + ": " + value + "\r\n";
            QVERIFY(sse.open(m_port, c.path.toUtf8(), extra));
            QElapsedTimer t;
            t.start();
            while (sse.head().isEmpty() && t.elapsed() < 5000) {
                sse.poll();
                QTest::qWait(5);
            }
            QVERIFY2(sse.head().startsWith("HTTP/1.1 200 ") && sse.head().contains("text/event-stream"),
                     qPrintable(where + QString::fromUtf8(sse.head())));
            sse.close();
            continue;
        }
        const HttpResult r = http(c.method, m_port, c.path, c.body, c.headers);
        if (c.expectedStatus)
            QVERIFY2(r.status == c.expectedStatus, qPrintable(where + QString::fromUtf8(r.body)));
        else
            QVERIFY2(r.status >= 200 && r.status < 300, qPrintable(where + QString::fromUtf8(r.body)));
        if (!c.expectedBody.isEmpty()) {
            const auto expected = parseExample(c.expectedBody, &error);
            QVERIFY2(expected, qPrintable(where + error));
            const QString diff = readmeDiff(*expected, r.json());
            QVERIFY2(diff.isEmpty(), qPrintable(where + diff));
        }
    }

    const QList<WsSession> sessions = readmeWebSockets();
    QVERIFY(sessions.size() >= 5);
    // Each websocat stays open, as in its own terminal: later sessions count the earlier ones.
    for (const WsSession &s : sessions) {
        QString path = s.path;
        // The epoch is random per history: the reader pastes the one their server sent.
        static const QRegularExpression epoch(u"epoch=[0-9a-f]{16}"_s);
        path.replace(epoch, u"epoch="_s + m_server->hub()->epoch());
        WsClient *c = keep(openWs(path));
        QVERIFY2(c, qPrintable(u"README line %1: cannot open %2"_s.arg(s.line).arg(path)));
        // The admin feed interleaves counts and events it does not show; every other route sends exactly
        // what the README shows, in that order.
        const bool feed = s.path == u"/ws/server"_s;
        for (const auto &[line, text] : s.lines) {
            const QString where = u"README line %1: "_s.arg(line);
            const auto example = parseExample(text.mid(2), &error);
            QVERIFY2(example, qPrintable(where + error));
            if (text.startsWith(u'>')) {
                // As a reader types: whatever the server sends before it has arrived, and must be shown
                // above.
                QTest::qWait(100);
                if (!feed && !c->frames().isEmpty())
                    QFAIL(qPrintable(
                        where +
                        u"before this, %1 sent a frame the README does not show: %2"_s.arg(
                            s.path, QString::fromUtf8(Herald::compactJson(c->frames().constFirst())))));
                c->send(stripOpen(*example).toObject());
                continue;
            }
            const QString type = example->value("type"_L1).toString();
            std::optional<QJsonObject> live;
            QElapsedTimer t;
            t.start();
            while (!live && t.elapsed() < 5000) {
                if (feed) {
                    live = c->waitFor(type, 5000);
                    break;
                }
                if (!c->frames().isEmpty())
                    live = c->frames().takeFirst();
                else
                    QTest::qWait(5);
            }
            QVERIFY2(live, qPrintable(where + u"no frame arrived"_s));
            const QString diff = readmeDiff(*example, *live);
            QVERIFY2(diff.isEmpty(), qPrintable(where + diff));
        }
        // Nothing more than the README shows came meanwhile on the strict routes.
        QTest::qWait(100);
        if (!feed) {
            if (!c->frames().isEmpty())
                QFAIL(qPrintable(
                    u"README line %1: %2 sent a frame the README does not show: %3"_s.arg(s.line).arg(
                        s.path, QString::fromUtf8(Herald::compactJson(c->frames().constFirst())))));
        }
        c->frames().clear();
    }
}

// "Running it for real" lists every option --help has, and only those: the server's and the token command's.
void tst_Docs::readmeSynopsis_data()
{
    QTest::addColumn<QString>("command");
    QTest::addColumn<QStringList>("arguments");
    QTest::newRow("herald-server") << u"herald-server ["_s << QStringList{u"herald-server"_s, u"--help"_s};
    QTest::newRow("herald-server token")
        << u"herald-server token "_s << QStringList{u"herald-server"_s, u"token"_s, u"--help"_s};
}

void tst_Docs::readmeSynopsis()
{
    QFETCH(QString, command);
    QFETCH(QStringList, arguments);
    const auto help = Herald::parseServerOptions(arguments);
    QVERIFY(help && help->action == Herald::ServerOptions::Action::Help);
    static const QRegularExpression option(u"--[a-z][a-z-]*"_s);
    auto options = [](const QString &text) {
        QStringList out;
        for (auto it = option.globalMatch(text); it.hasNext();)
            out.append(it.next().captured());
        out.removeDuplicates();
        out.removeAll(u"--help"_s);
        out.removeAll(u"--version"_s);
        out.sort();
        return out;
    };
    // The help's option list, without its description (which mentions other commands' options).
    const QString helped = help->text.mid(help->text.indexOf(u"\nOptions:"_s));
    QString synopsis;
    for (const Fence &f : readme().fences()) {
        if (f.section != u"## Running it for real"_s || f.lang != u"text"_s)
            continue;
        bool in = false;
        for (const QString &line : f.text.split(u'\n')) {
            if (line.startsWith(u"herald-server"_s))
                in = line.startsWith(command);
            if (in)
                synopsis += line + u'\n';
        }
    }
    QVERIFY2(!synopsis.isEmpty(), qPrintable(u"the README has no synopsis of %1"_s.arg(command)));
    QCOMPARE(options(synopsis), options(helped));
}

QTEST_MAIN(tst_Docs)
#include "tst_docs.moc"
