#include "wsframe.h"

#include <QRandomGenerator>
#include <QStringDecoder>
#include <QTest>

#include <initializer_list>
#include <limits>

using namespace Qt::StringLiterals;
namespace Ws = Herald::Ws;
using Ws::Event;
using Ws::FrameParser;
using Ws::Opcode;

namespace Herald::Ws {
// Readable QCOMPARE failures for event kinds (found by ADL).
char *toString(Event::Kind kind)
{
    static constexpr const char *Names[] = {"Text", "Binary", "Ping", "Pong", "Close", "Error"};
    return qstrdup(Names[static_cast<int>(kind)]);
}
} // namespace Herald::Ws

namespace {

enum class Feed
{
    AllAtOnce,
    ByteByByte,
    RandomChunks,
    // A caller that takes one event per read: unread frames pile up and the buffer is compacted mid-stream.
    OneEventPerAppend
};

constexpr Feed AllFeeds[] = {Feed::AllAtOnce, Feed::ByteByByte, Feed::RandomChunks, Feed::OneEventPerAppend};

const char *feedName(Feed feed)
{
    switch (feed) {
    case Feed::AllAtOnce:
        return "all";
    case Feed::ByteByByte:
        return "bytewise";
    case Feed::RandomChunks:
        return "chunks";
    case Feed::OneEventPerAppend:
        return "lazy";
    }
    return "?";
}

constexpr quint32 DefaultKey = 0x37FA213D;
constexpr qint64 DefaultMax = 64 * 1024; // FrameParser's default limit

QByteArray bytes(std::initializer_list<int> values)
{
    QByteArray out;
    out.reserve(static_cast<qsizetype>(values.size()));
    for (int v : values)
        out.append(static_cast<char>(v));
    return out;
}

// Independent byte-at-a-time masking (RFC 6455 5.3) to check the library's word-at-a-time loop against.
QByteArray referenceMask(QByteArrayView payload, quint32 key)
{
    const quint8 k[4] = {static_cast<quint8>(key >> 24), static_cast<quint8>(key >> 16),
                         static_cast<quint8>(key >> 8), static_cast<quint8>(key)};
    QByteArray out(payload.size(), Qt::Uninitialized);
    for (qsizetype i = 0; i < payload.size(); ++i)
        out[i] = static_cast<char>(static_cast<quint8>(payload[i]) ^ k[i % 4]);
    return out;
}

QByteArray masked(Opcode op, QByteArrayView payload, bool fin = true, quint32 key = DefaultKey)
{
    return Ws::encodeMaskedFrame(op, payload, key, fin);
}

// Masked frame built by hand with any first byte and a chosen length field width (7, 16 or 64 bits),
// for RSV bits, unknown opcodes and non-minimal length encodings the encoder would never produce.
QByteArray handMadeFrame(quint8 byte0, QByteArrayView payload, int lengthBits = 0, quint32 key = DefaultKey)
{
    if (lengthBits == 0)
        lengthBits = payload.size() < 126 ? 7 : (payload.size() <= 0xFFFF ? 16 : 64);
    QByteArray frame;
    frame.append(static_cast<char>(byte0));
    const auto length = static_cast<quint64>(payload.size());
    if (lengthBits == 7) {
        frame.append(static_cast<char>(0x80 | length));
    } else if (lengthBits == 16) {
        frame.append(static_cast<char>(0x80 | 126));
        for (int shift = 8; shift >= 0; shift -= 8)
            frame.append(static_cast<char>((length >> shift) & 0xFF));
    } else {
        frame.append(static_cast<char>(0x80 | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            frame.append(static_cast<char>((length >> shift) & 0xFF));
    }
    for (int shift = 24; shift >= 0; shift -= 8)
        frame.append(static_cast<char>((key >> shift) & 0xFF));
    frame.append(referenceMask(payload, key));
    return frame;
}

QByteArray closePayload(quint16 code, QByteArrayView reason = {})
{
    QByteArray out = bytes({code >> 8, code & 0xFF});
    out.append(reason);
    return out;
}

// Payload of an unmasked server frame, located by reading its length field.
QByteArray serverFramePayload(const QByteArray &frame)
{
    const auto len7 = static_cast<quint8>(frame.at(1)) & 0x7F;
    qsizetype offset = 2;
    quint64 length = len7;
    if (len7 >= 126) {
        const int fieldSize = len7 == 126 ? 2 : 8;
        length = 0;
        for (int i = 0; i < fieldSize; ++i)
            length = (length << 8) | static_cast<quint8>(frame.at(2 + i));
        offset += fieldSize;
    }
    return frame.sliced(offset, static_cast<qsizetype>(length));
}

QByteArray describe(const Event &e)
{
    switch (e.kind) {
    case Event::Kind::Text:
        return "Text:"_ba + e.payload;
    case Event::Kind::Binary:
        return "Binary:"_ba + e.payload.toHex();
    case Event::Kind::Ping:
        return "Ping:"_ba + e.payload;
    case Event::Kind::Pong:
        return "Pong:"_ba + e.payload;
    case Event::Kind::Close:
        return "Close:"_ba + QByteArray::number(e.closeCode) + ':' + e.reason.toUtf8();
    case Event::Kind::Error:
        return "Error:"_ba + QByteArray::number(e.closeCode);
    }
    return "?"_ba;
}

// Feeds input the chosen way, draining next() after every append as a connection would.
QList<Event> feed(FrameParser &parser, const QByteArray &input, Feed mode)
{
    QList<Event> events;
    auto drain = [&] {
        while (std::optional<Event> e = parser.next())
            events.append(std::move(*e));
    };
    switch (mode) {
    case Feed::AllAtOnce:
        parser.append(input);
        drain();
        break;
    case Feed::ByteByByte:
        for (qsizetype i = 0; i < input.size(); ++i) {
            parser.append(QByteArrayView(input).sliced(i, 1));
            drain();
        }
        break;
    case Feed::RandomChunks:
    case Feed::OneEventPerAppend: {
        // Chunks small enough to split headers often, so partial headers get carried over.
        QRandomGenerator rng(0x5EED);
        for (qsizetype i = 0; i < input.size();) {
            const qsizetype n = std::min<qsizetype>(rng.bounded(1, 97), input.size() - i);
            parser.append(QByteArrayView(input).sliced(i, n));
            i += n;
            if (mode == Feed::RandomChunks) {
                drain();
            } else if (std::optional<Event> e = parser.next()) {
                events.append(std::move(*e));
            }
        }
        drain();
        break;
    }
    }
    return events;
}

QList<QByteArray> describeAll(const QList<Event> &events)
{
    QList<QByteArray> out;
    for (const Event &e : events)
        out.append(describe(e));
    return out;
}

QByteArray patternPayload(Opcode op, qsizetype length)
{
    QByteArray out(length, Qt::Uninitialized);
    for (qsizetype i = 0; i < length; ++i) {
        // Text stays ASCII (valid UTF-8 at any length); binary covers all byte values.
        out[i] =
            op == Opcode::Text ? static_cast<char>('a' + i % 26) : static_cast<char>((i * 31 + 7) & 0xFF);
    }
    return out;
}

} // namespace

class TestWsFrame : public QObject
{
    Q_OBJECT

private slots:
    void encodeFrameHeader_data();
    void encodeFrameHeader();
    void encodeMaskedFrame_data();
    void encodeMaskedFrame();
    void acceptKey_data();
    void acceptKey();
    void encodeCloseExact_data();
    void encodeCloseExact();
    void encodeCloseTruncation_data();
    void encodeCloseTruncation();

    void roundTrip_data();
    void roundTrip();
    void sequences_data();
    void sequences();
    void closeFrames_data();
    void closeFrames();
    void errors_data();
    void errors();
    void errorDetectedFromHeader_data();
    void errorDetectedFromHeader();
    void bufferedBytes();

    void utf8Validator_data();
    void utf8Validator();
    void utf8ValidatorFastPathBoundaries_data();
    void utf8ValidatorFastPathBoundaries();
    void utf8ValidatorRespectsViewEnd_data();
    void utf8ValidatorRespectsViewEnd();
    void utf8ValidatorAgreesWithQt();
};

void TestWsFrame::encodeFrameHeader_data()
{
    QTest::addColumn<Opcode>("opcode");
    QTest::addColumn<qsizetype>("length");
    QTest::addColumn<QByteArray>("header");

    QTest::newRow("text 0") << Opcode::Text << qsizetype(0) << bytes({0x81, 0x00});
    QTest::newRow("binary 125") << Opcode::Binary << qsizetype(125) << bytes({0x82, 0x7D});
    QTest::newRow("text 126") << Opcode::Text << qsizetype(126) << bytes({0x81, 0x7E, 0x00, 0x7E});
    QTest::newRow("binary 65535") << Opcode::Binary << qsizetype(65535) << bytes({0x82, 0x7E, 0xFF, 0xFF});
    QTest::newRow("text 65536") << Opcode::Text << qsizetype(65536)
                                << bytes({0x81, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00});
    QTest::newRow("binary 1000000") << Opcode::Binary << qsizetype(1000000)
                                    << bytes({0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0F, 0x42, 0x40});
    QTest::newRow("ping 0") << Opcode::Ping << qsizetype(0) << bytes({0x89, 0x00});
    QTest::newRow("pong 125") << Opcode::Pong << qsizetype(125) << bytes({0x8A, 0x7D});
    QTest::newRow("close 2") << Opcode::Close << qsizetype(2) << bytes({0x88, 0x02});
}

void TestWsFrame::encodeFrameHeader()
{
    QFETCH(Opcode, opcode);
    QFETCH(qsizetype, length);
    QFETCH(QByteArray, header);

    const QByteArray payload = patternPayload(Opcode::Binary, length);
    const QByteArray frame = Ws::encodeFrame(opcode, payload);
    QCOMPARE(frame.size(), header.size() + length);
    QCOMPARE(frame.first(header.size()), header);
    QVERIFY(frame.sliced(header.size()) == payload);
}

void TestWsFrame::encodeMaskedFrame_data()
{
    QTest::addColumn<Opcode>("opcode");
    QTest::addColumn<qsizetype>("length");
    QTest::addColumn<bool>("fin");
    QTest::addColumn<quint32>("key");
    QTest::addColumn<QByteArray>("header");

    QTest::newRow("text 0") << Opcode::Text << qsizetype(0) << true << 0x12345678u
                            << bytes({0x81, 0x80, 0x12, 0x34, 0x56, 0x78});
    QTest::newRow("binary 5 no fin") << Opcode::Binary << qsizetype(5) << false << 0xA1B2C3D4u
                                     << bytes({0x02, 0x85, 0xA1, 0xB2, 0xC3, 0xD4});
    QTest::newRow("continuation 125") << Opcode::Continuation << qsizetype(125) << true << 0xFFFFFFFFu
                                      << bytes({0x80, 0xFD, 0xFF, 0xFF, 0xFF, 0xFF});
    QTest::newRow("text 126") << Opcode::Text << qsizetype(126) << true << 0x01020304u
                              << bytes({0x81, 0xFE, 0x00, 0x7E, 0x01, 0x02, 0x03, 0x04});
    QTest::newRow("binary 65535") << Opcode::Binary << qsizetype(65535) << true << 0x80000001u
                                  << bytes({0x82, 0xFE, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x01});
    QTest::newRow("binary 65536") << Opcode::Binary << qsizetype(65536) << true << 0xDEADBEEFu
                                  << bytes({0x82, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0xDE,
                                            0xAD, 0xBE, 0xEF});
    QTest::newRow("ping 3") << Opcode::Ping << qsizetype(3) << true << 0x00000000u
                            << bytes({0x89, 0x83, 0x00, 0x00, 0x00, 0x00});
}

void TestWsFrame::encodeMaskedFrame()
{
    QFETCH(Opcode, opcode);
    QFETCH(qsizetype, length);
    QFETCH(bool, fin);
    QFETCH(quint32, key);
    QFETCH(QByteArray, header);

    const QByteArray payload = patternPayload(Opcode::Binary, length);
    const QByteArray frame = Ws::encodeMaskedFrame(opcode, payload, key, fin);
    QCOMPARE(frame.size(), header.size() + length);
    QCOMPARE(frame.first(header.size()), header);
    QVERIFY(frame.sliced(header.size()) == referenceMask(payload, key));
}

void TestWsFrame::acceptKey_data()
{
    QTest::addColumn<QByteArray>("key");
    QTest::addColumn<QByteArray>("accept");

    // RFC 6455 section 1.3 (SHA-1 b3 7a 4f 2c c0 62 4f 16 90 f6 46 06 cf 38 59 45 b2 be c4 ea).
    QTest::newRow("rfc 6455 example") << "dGhlIHNhbXBsZSBub25jZQ=="_ba
                                      << "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="_ba;
    // Computed independently with Python's hashlib/base64.
    QTest::newRow("second key") << "x3JJHMbDL1EzLkh9GBhXDw=="_ba
                                << "HSmrc0sMlYUkAGmm5OPpG2HaGWk="_ba;
    QTest::newRow("third key") << "wDqumtseNBJdhkihL6PW7w=="_ba
                               << "0FFP+2nmNIf/h+4BP36k9uzrYGk="_ba;
    QTest::newRow("surrounding whitespace") << " dGhlIHNhbXBsZSBub25jZQ==\t"_ba
                                            << "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="_ba;
}

void TestWsFrame::acceptKey()
{
    QFETCH(QByteArray, key);
    QFETCH(QByteArray, accept);
    QCOMPARE(Ws::acceptKey(key), accept);
}

void TestWsFrame::encodeCloseExact_data()
{
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("reason");
    QTest::addColumn<QByteArray>("frame");

    QTest::newRow("no payload") << 0 << QString() << bytes({0x88, 0x00});
    QTest::newRow("code 0 ignores reason") << 0 << u"ignored"_s << bytes({0x88, 0x00});
    QTest::newRow("1000 no reason") << 1000 << QString() << bytes({0x88, 0x02, 0x03, 0xE8});
    QTest::newRow("1001 bye") << 1001 << u"bye"_s << bytes({0x88, 0x05, 0x03, 0xE9, 'b', 'y', 'e'});
    QTest::newRow("4999 utf-8") << 4999 << u"é"_s << bytes({0x88, 0x04, 0x13, 0x87, 0xC3, 0xA9});
}

void TestWsFrame::encodeCloseExact()
{
    QFETCH(int, code);
    QFETCH(QString, reason);
    QFETCH(QByteArray, frame);
    QCOMPARE(Ws::encodeClose(static_cast<quint16>(code), reason), frame);
}

void TestWsFrame::encodeCloseTruncation_data()
{
    QTest::addColumn<QString>("reason");
    QTest::addColumn<QString>("expectedReason");

    const QString ascii200 = QString(200, u'r');
    QTest::newRow("ascii fits exactly") << ascii200.left(123) << ascii200.left(123);
    QTest::newRow("ascii one over") << ascii200.left(124) << ascii200.left(123);
    QTest::newRow("ascii 200") << ascii200 << ascii200.left(123);
    // 2-byte characters: 123 is odd, so the last whole character ends at byte 122.
    QTest::newRow("2-byte chars") << QString(100, u'é') << QString(61, u'é');
    // 3-byte characters fit exactly 41 times.
    QTest::newRow("3-byte chars") << QString(50, u'€') << QString(41, u'€');
    QTest::newRow("ascii + 3-byte chars")
        << QString(u"a"_s + QString(50, u'€')) << QString(u"a"_s + QString(40, u'€'));
    const QString emoji = u"😀"_s; // 4 bytes, a surrogate pair in UTF-16
    QTest::newRow("4-byte chars") << emoji.repeated(40) << emoji.repeated(30);
    QTest::newRow("ab + 4-byte chars")
        << QString(u"ab"_s + emoji.repeated(40)) << QString(u"ab"_s + emoji.repeated(30));
    QTest::newRow("abc + 4-byte chars")
        << QString(u"abc"_s + emoji.repeated(40)) << QString(u"abc"_s + emoji.repeated(30));
    QTest::newRow("short utf-8 untouched") << u"Grüße €😀"_s << u"Grüße €😀"_s;
}

void TestWsFrame::encodeCloseTruncation()
{
    QFETCH(QString, reason);
    QFETCH(QString, expectedReason);

    const QByteArray frame = Ws::encodeClose(Ws::CloseCode::GoingAway, reason);
    QCOMPARE(static_cast<quint8>(frame.at(0)), quint8(0x88));
    const QByteArray payload = serverFramePayload(frame);
    QVERIFY(payload.size() <= Ws::MaxControlPayload);
    QCOMPARE(frame.size(), 2 + payload.size()); // always a 7-bit length
    QCOMPARE(payload.first(2), bytes({0x03, 0xE9}));
    const QByteArray reasonBytes = payload.sliced(2);
    QVERIFY(Ws::isValidUtf8(reasonBytes));
    QCOMPARE(QString::fromUtf8(reasonBytes), expectedReason);

    // The server's close frame, masked as a client would send it, must pass our own parser.
    FrameParser parser;
    parser.append(masked(Opcode::Close, payload));
    const std::optional<Event> event = parser.next();
    QVERIFY(event);
    QCOMPARE(event->kind, Event::Kind::Close);
    QCOMPARE(event->closeCode, Ws::CloseCode::GoingAway);
    QCOMPARE(event->reason, expectedReason);
}

void TestWsFrame::roundTrip_data()
{
    QTest::addColumn<Opcode>("opcode");
    QTest::addColumn<qsizetype>("length");
    QTest::addColumn<quint32>("key");
    QTest::addColumn<Feed>("mode");

    const quint32 keys[] = {0x00000000u, 0x12345678u, 0xFFFFFFFFu, 0x80A1B2C3u};
    int keyIndex = 0;
    auto add = [&](Opcode op, const char *name, std::initializer_list<qsizetype> lengths) {
        for (qsizetype length : lengths) {
            for (Feed mode : AllFeeds) {
                const quint32 key = keys[keyIndex++ % 4];
                QTest::addRow("%s/%lld/%s", name, static_cast<long long>(length), feedName(mode))
                    << op << length << key << mode;
            }
        }
    };
    // Lengths around the 7/16/64-bit boundaries and around the 8-byte unmasking word.
    add(Opcode::Text, "text", {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 125, 126, 127, 65535, 65536, 100003});
    add(Opcode::Binary, "binary", {0, 1, 7, 8, 9, 125, 126, 65535, 65536, 100003});
    add(Opcode::Ping, "ping", {0, 1, 9, 125});
    add(Opcode::Pong, "pong", {0, 4, 125});
}

void TestWsFrame::roundTrip()
{
    QFETCH(Opcode, opcode);
    QFETCH(qsizetype, length);
    QFETCH(quint32, key);
    QFETCH(Feed, mode);

    const QByteArray payload = patternPayload(opcode, length);
    FrameParser parser(1 << 20);
    const QList<Event> events = feed(parser, Ws::encodeMaskedFrame(opcode, payload, key), mode);

    QCOMPARE(events.size(), 1);
    const Event &e = events.first();
    const Event::Kind expectedKind = opcode == Opcode::Text     ? Event::Kind::Text
                                     : opcode == Opcode::Binary ? Event::Kind::Binary
                                     : opcode == Opcode::Ping   ? Event::Kind::Ping
                                                                : Event::Kind::Pong;
    QCOMPARE(e.kind, expectedKind);
    QCOMPARE(e.payload.size(), payload.size());
    QVERIFY(e.payload == payload);
    QCOMPARE(e.closeCode, quint16(0));
    QVERIFY(!parser.hasFailed());
    QCOMPARE(parser.bufferedBytes(), 0);
    QVERIFY(!parser.next());
}

void TestWsFrame::sequences_data()
{
    QTest::addColumn<qint64>("maxMessageSize");
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QList<QByteArray>>("expected");
    QTest::addColumn<Feed>("mode");
    QTest::addColumn<qint64>("pendingBytes");

    auto add = [](const char *name, qint64 max, const QByteArray &input, const QList<QByteArray> &expected,
                  qint64 pending = 0) {
        for (Feed mode : AllFeeds)
            QTest::addRow("%s/%s", name, feedName(mode)) << max << input << expected << mode << pending;
    };

    add("several frames in one buffer", DefaultMax,
        masked(Opcode::Text, "hello") + masked(Opcode::Ping, "p") + masked(Opcode::Binary, bytes({0, 0xFF})) +
            masked(Opcode::Pong, "q") + masked(Opcode::Close, closePayload(1000, "bye")),
        {"Text:hello", "Ping:p", "Binary:00ff", "Pong:q", "Close:1000:bye"});

    // Fragmentation, with control frames between fragments delivered as they arrive.
    add("fragments with interleaved ping", DefaultMax,
        masked(Opcode::Text, "Hel", false) + masked(Opcode::Ping, "x") +
            masked(Opcode::Continuation, "lo, ", false) + masked(Opcode::Continuation, "world"),
        {"Ping:x", "Text:Hello, world"});
    add("utf-8 character split across fragments", DefaultMax,
        masked(Opcode::Text, "\xE2", false) + masked(Opcode::Continuation, "\x82", false) +
            masked(Opcode::Pong, "") + masked(Opcode::Continuation, "\xAC"),
        {"Pong:", "Text:\xE2\x82\xAC"});
    add("binary with empty fragments", DefaultMax,
        masked(Opcode::Binary, "", false) + masked(Opcode::Continuation, "ab", false) +
            masked(Opcode::Continuation, "", false) + masked(Opcode::Continuation, ""),
        {"Binary:6162"});
    add("close between fragments", DefaultMax,
        masked(Opcode::Binary, "a", false) + masked(Opcode::Close, closePayload(1001)), {"Close:1001:"}, 1);
    add("two fragmented messages", DefaultMax,
        masked(Opcode::Text, "a", false) + masked(Opcode::Continuation, "b") +
            masked(Opcode::Binary, "c", false) + masked(Opcode::Ping, "1") + masked(Opcode::Ping, "2") +
            masked(Opcode::Continuation, "d"),
        {"Text:ab", "Ping:1", "Ping:2", "Binary:6364"});
    add("fragments with different mask keys", DefaultMax,
        masked(Opcode::Text, "abcde", false, 0x01020304) +
            masked(Opcode::Continuation, "fgh", false, 0xF0E0D0C0) +
            masked(Opcode::Continuation, "ijklmnopq", true, 0),
        {"Text:abcdefghijklmnopq"});

    {
        // A long stream of mixed frames, so chunked feeding splits headers at every possible point.
        QRandomGenerator rng(42);
        QByteArray input;
        QList<QByteArray> expected;
        for (int i = 0; i < 300; ++i) {
            const QByteArray text = patternPayload(Opcode::Text, rng.bounded(0, 300));
            const QByteArray control = patternPayload(Opcode::Text, rng.bounded(0, 126));
            const quint32 key = rng.generate();
            switch (rng.bounded(0, 4)) {
            case 0:
                input += masked(Opcode::Text, text, true, key);
                expected.append("Text:"_ba + text);
                break;
            case 1:
                input += masked(Opcode::Binary, text, true, key);
                expected.append("Binary:"_ba + text.toHex());
                break;
            case 2:
                input += masked(Opcode::Ping, control, true, key);
                expected.append("Ping:"_ba + control);
                break;
            default: {
                const qsizetype cut = text.size() / 3;
                input += masked(Opcode::Text, QByteArrayView(text).first(cut), false, key);
                input += masked(Opcode::Pong, control, true, ~key);
                input +=
                    masked(Opcode::Continuation, QByteArrayView(text).sliced(cut), true, key ^ 0x5A5A5A5A);
                expected.append("Pong:"_ba + control);
                expected.append("Text:"_ba + text);
                break;
            }
            }
        }
        add("300 mixed frames", DefaultMax, input, expected);
    }

    // Non-minimal length encodings are legal to accept.
    add("16-bit length for 5 bytes", DefaultMax, handMadeFrame(0x81, "hello", 16), {"Text:hello"});
    add("64-bit length for 5 bytes", DefaultMax, handMadeFrame(0x81, "hello", 64), {"Text:hello"});
    add("64-bit length for 300 bytes", DefaultMax, handMadeFrame(0x82, QByteArray(300, '\x01'), 64),
        {"Binary:"_ba + QByteArray(300, '\x01').toHex()});

    // The size limit, exactly at and just over it.
    add("frame at limit", 100, masked(Opcode::Binary, QByteArray(100, 'x')),
        {"Binary:"_ba + QByteArray(100, 'x').toHex()});
    add("frame over limit", 100, masked(Opcode::Binary, QByteArray(101, 'x')), {"Error:1009"});
    add("fragments at limit", 100,
        masked(Opcode::Text, QByteArray(40, 'a'), false) + masked(Opcode::Continuation, QByteArray(60, 'b')),
        {"Text:"_ba + QByteArray(40, 'a') + QByteArray(60, 'b')});
    add("fragments over limit", 100,
        masked(Opcode::Text, QByteArray(40, 'a'), false) + masked(Opcode::Continuation, QByteArray(61, 'b')),
        {"Error:1009"});
    add("control frames do not count toward the limit", 10,
        masked(Opcode::Text, QByteArray(10, 'a'), false) + masked(Opcode::Ping, QByteArray(125, 'p')) +
            masked(Opcode::Continuation, ""),
        {"Ping:"_ba + QByteArray(125, 'p'), "Text:"_ba + QByteArray(10, 'a')});
    add("limit is per message", 10,
        masked(Opcode::Text, QByteArray(10, 'a')) + masked(Opcode::Text, QByteArray(10, 'b')),
        {"Text:"_ba + QByteArray(10, 'a'), "Text:"_ba + QByteArray(10, 'b')});
    add("zero limit allows empty messages", 0, masked(Opcode::Text, ""), {"Text:"});
    add("zero limit", 0, masked(Opcode::Text, "a"), {"Error:1009"});
}

void TestWsFrame::sequences()
{
    QFETCH(qint64, maxMessageSize);
    QFETCH(QByteArray, input);
    QFETCH(QList<QByteArray>, expected);
    QFETCH(Feed, mode);
    QFETCH(qint64, pendingBytes);

    FrameParser parser(maxMessageSize);
    QCOMPARE(describeAll(feed(parser, input, mode)), expected);
    QCOMPARE(parser.bufferedBytes(), pendingBytes);
}

void TestWsFrame::closeFrames_data()
{
    QTest::addColumn<QByteArray>("payload");
    QTest::addColumn<int>("expectedCode");
    QTest::addColumn<QString>("expectedReason");

    QTest::newRow("empty payload") << QByteArray() << 1005 << QString();
    for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999})
        QTest::addRow("code %d", code) << closePayload(static_cast<quint16>(code)) << code << QString();
    QTest::newRow("ascii reason") << closePayload(1000, "bye") << 1000 << u"bye"_s;
    QTest::newRow("utf-8 reason") << closePayload(4001, u"Grüße €😀"_s.toUtf8()) << 4001 << u"Grüße €😀"_s;
    QTest::newRow("123-byte reason") << closePayload(1000, QByteArray(123, 'z')) << 1000
                                     << QString(123, u'z');
}

void TestWsFrame::closeFrames()
{
    QFETCH(QByteArray, payload);
    QFETCH(int, expectedCode);
    QFETCH(QString, expectedReason);

    FrameParser parser;
    parser.append(masked(Opcode::Close, payload));
    const std::optional<Event> e = parser.next();
    QVERIFY(e);
    QCOMPARE(e->kind, Event::Kind::Close);
    QCOMPARE(e->closeCode, static_cast<quint16>(expectedCode));
    QCOMPARE(e->reason, expectedReason);
    QCOMPARE(e->payload, payload);
    QVERIFY(!parser.hasFailed());
    QVERIFY(!parser.next());
}

void TestWsFrame::errors_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<int>("expectedCode");
    QTest::addColumn<int>("eventsBefore");
    QTest::addColumn<qint64>("maxMessageSize");
    QTest::addColumn<Feed>("mode");

    auto add = [](const char *name, const QByteArray &input, int code, int eventsBefore = 0,
                  qint64 max = DefaultMax) {
        for (Feed mode : AllFeeds)
            QTest::addRow("%s/%s", name, feedName(mode)) << input << code << eventsBefore << max << mode;
    };
    const QByteArray key = bytes({0x11, 0x22, 0x33, 0x44});

    // Masking, reserved bits and opcodes.
    add("unmasked text", bytes({0x81, 0x05}) + "hello", 1002);
    add("unmasked header only", bytes({0x82, 0x7E, 0x10}), 1002);
    add("unmasked after a valid frame", masked(Opcode::Text, "ok") + bytes({0x81, 0x00}), 1002, 1);
    add("rsv1", handMadeFrame(0xC1, "x"), 1002);
    add("rsv2", handMadeFrame(0xA1, "x"), 1002);
    add("rsv3", handMadeFrame(0x91, "x"), 1002);
    add("rsv on continuation", masked(Opcode::Text, "a", false) + handMadeFrame(0xC0, "b"), 1002);
    for (int op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
        const QByteArray name = "opcode 0x"_ba + QByteArray::number(op, 16);
        add(name.constData(), handMadeFrame(static_cast<quint8>(0x80 | op), "x"), 1002);
    }

    // Control frame rules.
    add("ping 126 bytes", masked(Opcode::Ping, QByteArray(126, 'p')), 1002);
    add("pong 200 bytes", masked(Opcode::Pong, QByteArray(200, 'p')), 1002);
    add("close 126 bytes", masked(Opcode::Close, closePayload(1000, QByteArray(124, 'c'))), 1002);
    add("ping 64-bit length", handMadeFrame(0x89, "p", 64), 1002);
    add("ping without fin", masked(Opcode::Ping, "x", false), 1002);
    add("pong without fin", masked(Opcode::Pong, "x", false), 1002);
    add("close without fin", masked(Opcode::Close, closePayload(1000), false), 1002);

    // Fragmentation rules.
    add("continuation without message", masked(Opcode::Continuation, "x"), 1002);
    add("continuation after finished message", masked(Opcode::Text, "a") + masked(Opcode::Continuation, "b"),
        1002, 1);
    add("text inside fragmented text", masked(Opcode::Text, "a", false) + masked(Opcode::Text, "b"), 1002);
    add("binary inside fragmented text", masked(Opcode::Text, "a", false) + masked(Opcode::Binary, "b"),
        1002);
    add("text inside fragmented binary", masked(Opcode::Binary, "a", false) + masked(Opcode::Text, "b"),
        1002);
    add("text after interleaved ping",
        masked(Opcode::Text, "a", false) + masked(Opcode::Ping, "p") + masked(Opcode::Text, "b"), 1002, 1);

    // Length field and size limit; header-only inputs prove the error does not wait for the payload.
    const QByteArray msbLength = bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0}) + key;
    add("64-bit length msb set", msbLength, 1002);
    add("64-bit length msb set, no size limit", msbLength, 1002, 0, std::numeric_limits<qint64>::max());
    add("7-bit length over limit, header only", bytes({0x81, 0x8B}) + key, 1009, 0, 10);
    add("16-bit length over limit, header only", bytes({0x81, 0xFE, 0x00, 0x65}) + key, 1009, 0, 100);
    add("64-bit length over limit, header only", bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 1}) + key, 1009);
    add("huge 64-bit length, header only",
        bytes({0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}), 1009);
    add("fragments over limit, header only",
        masked(Opcode::Binary, QByteArray(6, 'a'), false) + bytes({0x80, 0x85}) + key, 1009, 0, 10);
    add("fragments over limit after ping",
        masked(Opcode::Binary, QByteArray(6, 'a'), false) + masked(Opcode::Ping, "") +
            masked(Opcode::Continuation, QByteArray(5, 'b')),
        1009, 1, 10);

    // UTF-8 in text messages.
    const std::pair<const char *, QByteArray> badUtf8[] = {
        {"overlong nul", bytes({0xC0, 0x80})},
        {"overlong 2-byte", bytes({0xC1, 0xBF})},
        {"overlong 3-byte", bytes({0xE0, 0x80, 0xAF})},
        {"overlong 4-byte", bytes({0xF0, 0x80, 0x80, 0xAF})},
        {"high surrogate", bytes({0xED, 0xA0, 0x80})},
        {"low surrogate", bytes({0xED, 0xBF, 0xBF})},
        {"above U+10FFFF", bytes({0xF4, 0x90, 0x80, 0x80})},
        {"F5 lead byte", bytes({0xF5, 0x80, 0x80, 0x80})},
        {"FF byte", bytes({'a', 0xFF, 'b'})},
        {"stray continuation", bytes({0x80})},
        {"truncated 3-byte", bytes({0xE2, 0x82})},
        {"truncated at end after ascii", "abcdefghijk"_ba + bytes({0xF0, 0x9F, 0x98})},
        {"bad byte after long ascii", QByteArray(40, 'a') + bytes({0xFE})},
    };
    for (const auto &[name, payload] : badUtf8) {
        add(name, masked(Opcode::Text, payload), 1007);
    }
    add("invalid utf-8 across fragments",
        masked(Opcode::Text, "ab\xE2", false) + masked(Opcode::Continuation, "\x82x"), 1007);
    add("truncated utf-8 at end of fragmented message",
        masked(Opcode::Text, "\xE2\x82", false) + masked(Opcode::Continuation, ""), 1007);

    // Close payloads.
    add("close 1-byte payload", masked(Opcode::Close, bytes({0x03})), 1002);
    // 0x0F followed by a zero byte would read as 3840, a valid code: the length itself must be rejected.
    add("close 1-byte payload 0x0F", masked(Opcode::Close, bytes({0x0F})), 1002);
    for (int code : {0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 2000, 2999, 5000, 65535}) {
        const QByteArray name = "close code "_ba + QByteArray::number(code);
        add(name.constData(), masked(Opcode::Close, closePayload(static_cast<quint16>(code))), 1002);
    }
    add("close reason invalid utf-8", masked(Opcode::Close, closePayload(1000, bytes({0xC0, 0x80}))), 1007);
    add("close reason truncated utf-8", masked(Opcode::Close, closePayload(1000, "ok\xE2\x82")), 1007);
}

void TestWsFrame::errors()
{
    QFETCH(QByteArray, input);
    QFETCH(int, expectedCode);
    QFETCH(int, eventsBefore);
    QFETCH(qint64, maxMessageSize);
    QFETCH(Feed, mode);

    FrameParser parser(maxMessageSize);
    const QList<Event> events = feed(parser, input, mode);
    QCOMPARE(events.size(), eventsBefore + 1);
    for (int i = 0; i < eventsBefore; ++i)
        QVERIFY(events.at(i).kind != Event::Kind::Error);
    const Event &error = events.last();
    QCOMPARE(error.kind, Event::Kind::Error);
    QCOMPARE(error.closeCode, static_cast<quint16>(expectedCode));
    QVERIFY(!error.reason.isEmpty());

    // Failed for good: later input, even valid, produces nothing and is not retained.
    QVERIFY(parser.hasFailed());
    QVERIFY(!parser.next());
    parser.append(masked(Opcode::Text, "after"));
    QVERIFY(!parser.next());
    QVERIFY(parser.hasFailed());
    QCOMPARE(parser.bufferedBytes(), 0);
}

void TestWsFrame::errorDetectedFromHeader_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<qint64>("maxMessageSize");
    QTest::addColumn<int>("expectedCode");
    QTest::addColumn<int>("detectedAfterBytes");

    // Each input carries a mask key and payload after the offending field: none of it should be needed.
    const QByteArray tail = bytes({0x11, 0x22, 0x33, 0x44}) + QByteArray(200, 'x');
    QTest::newRow("rsv") << QByteArray(bytes({0xC1, 0x85}) + tail) << qint64(1000) << 1002 << 1;
    QTest::newRow("unknown opcode") << QByteArray(bytes({0x83, 0x85}) + tail) << qint64(1000) << 1002 << 1;
    QTest::newRow("fragmented ping") << QByteArray(bytes({0x09, 0x85}) + tail) << qint64(1000) << 1002 << 1;
    QTest::newRow("continuation without message")
        << QByteArray(bytes({0x80, 0x85}) + tail) << qint64(1000) << 1002 << 1;
    QTest::newRow("unmasked") << QByteArray(bytes({0x81, 0x05}) + tail) << qint64(1000) << 1002 << 2;
    QTest::newRow("control 16-bit length")
        << QByteArray(bytes({0x89, 0xFE, 0x00, 0x7E}) + tail) << qint64(1000) << 1002 << 2;
    QTest::newRow("64-bit msb") << QByteArray(bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0}) + tail)
                                << qint64(1000) << 1002 << 10;
    QTest::newRow("too big, 7-bit") << QByteArray(bytes({0x82, 0x8B}) + tail) << qint64(10) << 1009 << 2;
    QTest::newRow("too big, 16-bit") << QByteArray(bytes({0x82, 0xFE, 0x00, 0x65}) + tail) << qint64(100)
                                     << 1009 << 4;
    QTest::newRow("too big, 64-bit") << QByteArray(bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x03, 0xE9}) + tail)
                                     << qint64(1000) << 1009 << 10;
}

void TestWsFrame::errorDetectedFromHeader()
{
    QFETCH(QByteArray, input);
    QFETCH(qint64, maxMessageSize);
    QFETCH(int, expectedCode);
    QFETCH(int, detectedAfterBytes);

    FrameParser parser(maxMessageSize);
    for (qsizetype i = 0; i < input.size(); ++i) {
        parser.append(QByteArrayView(input).sliced(i, 1));
        if (std::optional<Event> e = parser.next()) {
            QCOMPARE(e->kind, Event::Kind::Error);
            QCOMPARE(e->closeCode, static_cast<quint16>(expectedCode));
            QCOMPARE(i + 1, qsizetype(detectedAfterBytes));
            QCOMPARE(parser.bufferedBytes(), 0);
            return;
        }
    }
    QFAIL("no error reported");
}

void TestWsFrame::bufferedBytes()
{
    FrameParser parser(1024);
    QCOMPARE(parser.bufferedBytes(), 0);

    // Partial frame: the header is consumed, received payload is held until the frame completes.
    const QByteArray payload = patternPayload(Opcode::Binary, 300);
    const QByteArray frame = masked(Opcode::Binary, payload); // 8-byte header
    parser.append(QByteArrayView(frame).first(108));
    QCOMPARE(parser.bufferedBytes(), 108);
    QVERIFY(!parser.next());
    QCOMPARE(parser.bufferedBytes(), 100);
    parser.append(QByteArrayView(frame).sliced(108));
    std::optional<Event> e = parser.next();
    QVERIFY(e);
    QVERIFY(e->payload == payload);
    QCOMPARE(parser.bufferedBytes(), 0);

    // Fragments are held until the final one.
    parser.append(masked(Opcode::Text, "abcde", false));
    QVERIFY(!parser.next());
    QCOMPARE(parser.bufferedBytes(), 5);
    parser.append(masked(Opcode::Continuation, "fgh"));
    e = parser.next();
    QVERIFY(e);
    QCOMPARE(e->payload, "abcdefgh"_ba);
    QCOMPARE(parser.bufferedBytes(), 0);

    // Unparsed input counts until next() is called.
    const QByteArray two = masked(Opcode::Text, "x") + masked(Opcode::Text, "y");
    parser.append(two);
    QCOMPARE(parser.bufferedBytes(), two.size());
    QVERIFY(parser.next());
    QCOMPARE(parser.bufferedBytes(), two.size() / 2);
    QVERIFY(parser.next());
    QCOMPARE(parser.bufferedBytes(), 0);

    // An oversized announcement is rejected without holding anything.
    parser.append(bytes({0x82, 0xFF, 0, 0, 0, 0, 0x40, 0, 0, 0}));
    e = parser.next();
    QVERIFY(e);
    QCOMPARE(e->closeCode, Ws::CloseCode::TooBig);
    parser.append(QByteArray(1 << 20, 'j'));
    QCOMPARE(parser.bufferedBytes(), 0);
}

void TestWsFrame::utf8Validator_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<bool>("valid");

    QTest::newRow("empty") << QByteArray() << true;
    QTest::newRow("ascii") << "hello, world"_ba << true;
    QTest::newRow("nul") << bytes({0x00}) << true;
    QTest::newRow("U+0080") << bytes({0xC2, 0x80}) << true;
    QTest::newRow("U+07FF") << bytes({0xDF, 0xBF}) << true;
    QTest::newRow("U+0800") << bytes({0xE0, 0xA0, 0x80}) << true;
    QTest::newRow("U+20AC") << bytes({0xE2, 0x82, 0xAC}) << true;
    QTest::newRow("U+D7FF") << bytes({0xED, 0x9F, 0xBF}) << true;
    QTest::newRow("U+E000") << bytes({0xEE, 0x80, 0x80}) << true;
    QTest::newRow("U+FFFE noncharacter") << bytes({0xEF, 0xBF, 0xBE}) << true;
    QTest::newRow("U+FFFF") << bytes({0xEF, 0xBF, 0xBF}) << true;
    QTest::newRow("U+10000") << bytes({0xF0, 0x90, 0x80, 0x80}) << true;
    QTest::newRow("U+1F600") << bytes({0xF0, 0x9F, 0x98, 0x80}) << true;
    QTest::newRow("U+10FFFF") << bytes({0xF4, 0x8F, 0xBF, 0xBF}) << true;
    QTest::newRow("mixed") << u"Grüße, 世界 😀!"_s.toUtf8() << true;

    QTest::newRow("overlong U+0000") << bytes({0xC0, 0x80}) << false;
    QTest::newRow("overlong U+007F") << bytes({0xC1, 0xBF}) << false;
    QTest::newRow("overlong U+07FF") << bytes({0xE0, 0x9F, 0xBF}) << false;
    QTest::newRow("overlong U+FFFF") << bytes({0xF0, 0x8F, 0xBF, 0xBF}) << false;
    QTest::newRow("surrogate U+D800") << bytes({0xED, 0xA0, 0x80}) << false;
    QTest::newRow("surrogate U+DFFF") << bytes({0xED, 0xBF, 0xBF}) << false;
    QTest::newRow("surrogate pair") << bytes({0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80}) << false;
    QTest::newRow("U+110000") << bytes({0xF4, 0x90, 0x80, 0x80}) << false;
    QTest::newRow("F5") << bytes({0xF5, 0x80, 0x80, 0x80}) << false;
    QTest::newRow("F8 5-byte") << bytes({0xF8, 0x88, 0x80, 0x80, 0x80}) << false;
    QTest::newRow("FE") << bytes({0xFE}) << false;
    QTest::newRow("FF") << bytes({0xFF}) << false;
    QTest::newRow("lone continuation 80") << bytes({0x80}) << false;
    QTest::newRow("lone continuation BF") << bytes({'a', 0xBF}) << false;
    QTest::newRow("truncated 2-byte") << bytes({0xC2}) << false;
    QTest::newRow("truncated 3-byte") << bytes({0xE2, 0x82}) << false;
    QTest::newRow("truncated 4-byte") << bytes({0xF0, 0x9F, 0x98}) << false;
    QTest::newRow("bad 2nd of 2") << bytes({0xC2, 0x41}) << false;
    QTest::newRow("bad 2nd of 3") << bytes({0xE2, 0x41, 0xAC}) << false;
    QTest::newRow("bad 3rd of 3") << bytes({0xE2, 0x82, 0x41}) << false;
    QTest::newRow("bad 3rd of 4") << bytes({0xF0, 0x9F, 0x41, 0x80}) << false;
    QTest::newRow("bad 4th of 4") << bytes({0xF0, 0x9F, 0x98, 0xC0}) << false;
}

void TestWsFrame::utf8Validator()
{
    QFETCH(QByteArray, input);
    QFETCH(bool, valid);
    QCOMPARE(Ws::isValidUtf8(input), valid);
}

void TestWsFrame::utf8ValidatorFastPathBoundaries_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<bool>("valid");

    // Non-ASCII at every position relative to the 8-byte ASCII skip.
    for (int offset = 0; offset <= 24; ++offset) {
        const QByteArray before(offset, 'a');
        const QByteArray after(24 - offset, 'b');
        QTest::addRow("invalid at %d", offset) << QByteArray(before + bytes({0xFF}) + after) << false;
        QTest::addRow("euro at %d", offset) << QByteArray(before + bytes({0xE2, 0x82, 0xAC}) + after) << true;
        QTest::addRow("truncated at end, %d", offset)
            << QByteArray(before + after + bytes({0xE2, 0x82})) << false;
        QTest::addRow("surrogate at %d", offset)
            << QByteArray(before + bytes({0xED, 0xA0, 0x80}) + after) << false;
    }
}

void TestWsFrame::utf8ValidatorFastPathBoundaries()
{
    QFETCH(QByteArray, input);
    QFETCH(bool, valid);
    QCOMPARE(Ws::isValidUtf8(input), valid);
}

void TestWsFrame::utf8ValidatorRespectsViewEnd_data()
{
    QTest::addColumn<qsizetype>("prefix");
    QTest::addColumn<bool>("valid");

    // Prefixes of "é€😀" (2 + 3 + 4 bytes): valid only when they end on a character boundary.
    for (qsizetype n = 0; n <= 9; ++n)
        QTest::addRow("prefix %lld", static_cast<long long>(n))
            << n << (n == 0 || n == 2 || n == 5 || n == 9);
}

void TestWsFrame::utf8ValidatorRespectsViewEnd()
{
    QFETCH(qsizetype, prefix);
    QFETCH(bool, valid);
    // The bytes after the view continue the cut-off character, so reading past the end would "validate" it.
    const QByteArray full = u"é€😀"_s.toUtf8() + "abc"_ba;
    QCOMPARE(Ws::isValidUtf8(QByteArrayView(full).first(prefix)), valid);
}

// Cross-check against Qt's own decoders over every 1- and 2-byte input and a dense grid of 3- and 4-byte
// inputs around the interesting boundaries.
void TestWsFrame::utf8ValidatorAgreesWithQt()
{
    auto check = [](const QByteArray &input) {
        QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
        const QString decoded = decoder(input);
        Q_UNUSED(decoded);
        const bool qtValid = !decoder.hasError();
        const bool ours = Ws::isValidUtf8(input);
        if (ours != qtValid || ours != QByteArrayView(input).isValidUtf8()) {
            qWarning("disagreement on %s", input.toHex(' ').constData());
            return false;
        }
        return true;
    };
    int checked = 0;
    QByteArray in;
    for (int a = 0; a < 256; ++a) {
        in = bytes({a});
        QVERIFY(check(in));
        for (int b = 0; b < 256; ++b) {
            in = bytes({a, b});
            QVERIFY(check(in));
            ++checked;
        }
    }
    const int thirds[] = {0x41, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0};
    for (int a = 0xC0; a <= 0xFF; ++a) {
        for (int b = 0x70; b <= 0xC5; ++b) {
            for (int c : thirds) {
                QVERIFY(check(bytes({a, b, c})));
                for (int d : {0x41, 0x80, 0xBF, 0xC0}) {
                    QVERIFY(check(bytes({a, b, c, d})));
                    ++checked;
                }
            }
        }
    }
    QVERIFY(checked > 100000);
}

QTEST_APPLESS_MAIN(TestWsFrame)
#include "tst_wsframe.moc"
