#include "wsframe.h"

#include <QCryptographicHash>
#include <QtEndian>

#include <algorithm>
#include <cstring>
#include <utility>

using namespace Qt::StringLiterals;

namespace Herald::Ws {

namespace {
constexpr quint8 FinBit = 0x80;
constexpr quint8 RsvBits = 0x70;
constexpr quint8 OpcodeBits = 0x0F;
constexpr quint8 MaskBit = 0x80;
constexpr quint8 LengthBits = 0x7F;
constexpr quint8 Length16 = 126;
constexpr quint8 Length64 = 127;
// Close payload = 2-byte code + reason, within the control frame limit.
constexpr qsizetype MaxCloseReasonBytes = MaxControlPayload - 2;

constexpr bool isControl(Opcode op)
{
    return (static_cast<quint8>(op) & 0x08) != 0;
}

constexpr bool isKnownOpcode(quint8 op)
{
    return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

constexpr qsizetype lengthFieldSize(qint64 length)
{
    return length < Length16 ? 0 : (length <= 0xFFFF ? 2 : 8);
}

// Writes the header (without masking key) and returns the position after it.
char *writeHeader(char *out, quint8 byte0, qint64 length, bool masked)
{
    const quint8 maskFlag = masked ? MaskBit : 0;
    *out++ = static_cast<char>(byte0);
    if (length < Length16) {
        *out++ = static_cast<char>(maskFlag | static_cast<quint8>(length));
    } else if (length <= 0xFFFF) {
        *out++ = static_cast<char>(maskFlag | Length16);
        qToBigEndian(static_cast<quint16>(length), out);
        out += 2;
    } else {
        *out++ = static_cast<char>(maskFlag | Length64);
        qToBigEndian(static_cast<quint64>(length), out);
        out += 8;
    }
    return out;
}

// dst[i] = src[i] ^ key[(phase + i) % 4]; dst may equal src. Eight bytes at a time through memcpy, which
// compilers turn into plain (vectorisable) loads and stores without alignment or aliasing concerns.
void applyMask(char *dst, const char *src, qsizetype length, const quint8 key[4], qint64 phase)
{
    quint8 rotated[8];
    for (int i = 0; i < 8; ++i)
        rotated[i] = key[(phase + i) % 4];
    quint64 wordKey;
    std::memcpy(&wordKey, rotated, sizeof wordKey);

    qsizetype i = 0;
    for (; i + 8 <= length; i += 8) {
        quint64 word;
        std::memcpy(&word, src + i, sizeof word);
        word ^= wordKey;
        std::memcpy(dst + i, &word, sizeof word);
    }
    // i is a multiple of 8 here, so the tail restarts at rotated[0].
    for (qsizetype j = 0; i < length; ++i, ++j)
        dst[i] = static_cast<char>(static_cast<quint8>(src[i]) ^ rotated[j]);
}

bool isContinuation(quint8 byte)
{
    return (byte & 0xC0) == 0x80;
}
} // namespace

QByteArray encodeFrame(Opcode opcode, QByteArrayView payload)
{
    Q_ASSERT_X(!isControl(opcode) || payload.size() <= MaxControlPayload, "Ws::encodeFrame",
               "control frame payload too long");
    const qsizetype headerSize = 2 + lengthFieldSize(payload.size());
    QByteArray frame(headerSize + payload.size(), Qt::Uninitialized);
    char *out = writeHeader(frame.data(), FinBit | static_cast<quint8>(opcode), payload.size(), false);
    if (!payload.isEmpty())
        std::memcpy(out, payload.data(), static_cast<size_t>(payload.size()));
    return frame;
}

QByteArray encodeClose(quint16 code, const QString &reason)
{
    if (code == 0)
        return encodeFrame(Opcode::Close, {});

    QByteArray payload = reason.toUtf8();
    if (payload.size() > MaxCloseReasonBytes) {
        // Cut before the sequence that straddles the limit: back off over continuation bytes.
        qsizetype cut = MaxCloseReasonBytes;
        while (cut > 0 && isContinuation(static_cast<quint8>(payload.at(cut))))
            --cut;
        payload.truncate(cut);
    }
    char codeBytes[2];
    qToBigEndian(code, codeBytes);
    payload.prepend(codeBytes, 2);
    return encodeFrame(Opcode::Close, payload);
}

QByteArray acceptKey(QByteArrayView secWebSocketKey)
{
    static constexpr auto Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"_L1;
    QCryptographicHash sha1(QCryptographicHash::Sha1);
    sha1.addData(secWebSocketKey.trimmed());
    sha1.addData(QByteArrayView(Guid.data(), Guid.size()));
    return sha1.result().toBase64();
}

QByteArray encodeMaskedFrame(Opcode opcode, QByteArrayView payload, quint32 maskKey, bool fin)
{
    const qsizetype headerSize = 2 + lengthFieldSize(payload.size()) + 4;
    QByteArray frame(headerSize + payload.size(), Qt::Uninitialized);
    const quint8 byte0 = (fin ? FinBit : 0) | static_cast<quint8>(opcode);
    char *out = writeHeader(frame.data(), byte0, payload.size(), true);
    quint8 key[4];
    qToBigEndian(maskKey, key);
    std::memcpy(out, key, 4);
    out += 4;
    applyMask(out, payload.data(), payload.size(), key, 0);
    return frame;
}

bool isValidUtf8(QByteArrayView data)
{
    const auto *p = reinterpret_cast<const quint8 *>(data.data());
    const qsizetype n = data.size();
    qsizetype i = 0;
    while (i < n) {
        // ASCII fast path: most protocol text is JSON, so skip eight plain bytes at a time.
        if (i + 8 <= n) {
            quint64 word;
            std::memcpy(&word, p + i, sizeof word);
            if ((word & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        const quint8 b = p[i];
        if (b < 0x80) {
            ++i;
            continue;
        }
        // RFC 3629 section 4: the lead byte fixes the length and the range of the second byte, which
        // is what excludes overlong forms, surrogates (ED A0..BF) and code points above U+10FFFF.
        qsizetype len;
        quint8 lo = 0x80, hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) {
            len = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            len = 3;
            if (b == 0xE0)
                lo = 0xA0;
            else if (b == 0xED)
                hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            len = 4;
            if (b == 0xF0)
                lo = 0x90;
            else if (b == 0xF4)
                hi = 0x8F;
        } else {
            return false; // 80..C1 (stray continuation or overlong lead) and F5..FF
        }
        if (n - i < len)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (qsizetype k = 2; k < len; ++k) {
            if (!isContinuation(p[i + k]))
                return false;
        }
        i += len;
    }
    return true;
}

bool isValidReceivedCloseCode(quint16 code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
}

FrameParser::FrameParser(qint64 maxMessageSize)
    : m_maxMessageSize(maxMessageSize)
{}

void FrameParser::append(QByteArrayView data)
{
    if (m_failed || data.isEmpty())
        return;
    if (m_readPos == m_buffer.size()) {
        // Everything consumed: reuse the allocation unless an unusually large message inflated it.
        if (m_buffer.capacity() / 2 > m_maxMessageSize) // no overflow for a huge limit
            m_buffer = QByteArray();
        else
            m_buffer.resize(0);
        m_readPos = 0;
    } else if (m_readPos > 0 && m_readPos >= m_buffer.size() - m_readPos) {
        // Move the unread tail only when it is no longer than what was consumed: amortised O(1) per byte.
        m_buffer.remove(0, m_readPos);
        m_readPos = 0;
    }
    m_buffer.append(data);
}

qint64 FrameParser::bufferedBytes() const
{
    return (m_buffer.size() - m_readPos) + m_message.size() + m_control.size();
}

bool FrameParser::hasFailed() const
{
    return m_failed;
}

Event FrameParser::fail(quint16 code, QString reason)
{
    m_failed = true;
    // Nothing more will be parsed: release the memory now rather than with the connection.
    m_buffer = QByteArray();
    m_readPos = 0;
    m_message = QByteArray();
    m_control = QByteArray();
    return Event{.kind = Event::Kind::Error, .payload = {}, .closeCode = code, .reason = std::move(reason)};
}

std::optional<Event> FrameParser::next()
{
    if (m_failed)
        return std::nullopt;
    for (;;) {
        if (!m_inPayload) {
            std::optional<Event> error;
            const HeaderResult result = parseHeader(error);
            if (result == HeaderResult::Failed)
                return error;
            if (result == HeaderResult::Incomplete)
                return std::nullopt;
        }
        if (!consumePayload())
            return std::nullopt;
        if (std::optional<Event> event = finishFrame())
            return event;
    }
}

// Validates as much of the header as has arrived, so a bad frame is rejected from its first bytes and an
// oversized one from its length field, without waiting for (or buffering) its payload.
FrameParser::HeaderResult FrameParser::parseHeader(std::optional<Event> &error)
{
    const qsizetype available = m_buffer.size() - m_readPos;
    if (available < 1)
        return HeaderResult::Incomplete;
    const auto *h = reinterpret_cast<const quint8 *>(m_buffer.constData() + m_readPos);

    const quint8 byte0 = h[0];
    const bool fin = (byte0 & FinBit) != 0;
    const quint8 rawOpcode = byte0 & OpcodeBits;
    if ((byte0 & RsvBits) != 0) {
        error = fail(CloseCode::ProtocolError, u"RSV bits set without a negotiated extension"_s);
        return HeaderResult::Failed;
    }
    if (!isKnownOpcode(rawOpcode)) {
        error = fail(CloseCode::ProtocolError, u"unknown opcode 0x%1"_s.arg(rawOpcode, 0, 16));
        return HeaderResult::Failed;
    }
    const auto opcode = static_cast<Opcode>(rawOpcode);
    const bool control = isControl(opcode);
    if (control && !fin) {
        error = fail(CloseCode::ProtocolError, u"fragmented control frame"_s);
        return HeaderResult::Failed;
    }
    if (opcode == Opcode::Continuation && !m_inMessage) {
        error = fail(CloseCode::ProtocolError, u"continuation frame without a message to continue"_s);
        return HeaderResult::Failed;
    }
    if ((opcode == Opcode::Text || opcode == Opcode::Binary) && m_inMessage) {
        error = fail(CloseCode::ProtocolError, u"new data frame while a fragmented message is open"_s);
        return HeaderResult::Failed;
    }

    if (available < 2)
        return HeaderResult::Incomplete;
    const quint8 byte1 = h[1];
    if ((byte1 & MaskBit) == 0) {
        error = fail(CloseCode::ProtocolError, u"client frame is not masked"_s);
        return HeaderResult::Failed;
    }
    const quint8 length7 = byte1 & LengthBits;
    if (control && length7 > MaxControlPayload) {
        error = fail(CloseCode::ProtocolError, u"control frame payload longer than 125 bytes"_s);
        return HeaderResult::Failed;
    }

    const qsizetype lengthSize = length7 == Length16 ? 2 : (length7 == Length64 ? 8 : 0);
    if (available < 2 + lengthSize)
        return HeaderResult::Incomplete;
    qint64 length = length7;
    if (length7 == Length16) {
        length = qFromBigEndian<quint16>(h + 2);
    } else if (length7 == Length64) {
        const quint64 length64 = qFromBigEndian<quint64>(h + 2);
        if (length64 >> 63) {
            error =
                fail(CloseCode::ProtocolError, u"64-bit payload length has its most significant bit set"_s);
            return HeaderResult::Failed;
        }
        length = static_cast<qint64>(length64);
    }
    if (!control) {
        const qint64 soFar = opcode == Opcode::Continuation ? m_message.size() : 0;
        if (length > m_maxMessageSize - soFar) {
            error = fail(CloseCode::TooBig, u"message exceeds the limit of %1 bytes"_s.arg(m_maxMessageSize));
            return HeaderResult::Failed;
        }
    }

    const qsizetype headerSize = 2 + lengthSize + 4;
    if (available < headerSize)
        return HeaderResult::Incomplete;
    std::memcpy(m_maskKey, h + 2 + lengthSize, 4);
    m_readPos += headerSize;

    m_inPayload = true;
    m_frameOpcode = opcode;
    m_frameFin = fin;
    m_frameRemaining = length;
    m_frameOffset = 0;
    if (opcode == Opcode::Text || opcode == Opcode::Binary) {
        m_inMessage = true;
        m_messageOpcode = opcode;
    }
    return HeaderResult::Complete;
}

// Unmasks whatever payload has arrived straight into its destination; returns true once the frame's
// payload is complete.
bool FrameParser::consumePayload()
{
    const qint64 take = std::min<qint64>(m_buffer.size() - m_readPos, m_frameRemaining);
    if (take > 0) {
        QByteArray &target = isControl(m_frameOpcode) ? m_control : m_message;
        const qsizetype oldSize = target.size();
        target.resize(oldSize + take);
        applyMask(target.data() + oldSize, m_buffer.constData() + m_readPos, take, m_maskKey, m_frameOffset);
        m_readPos += take;
        m_frameOffset += take;
        m_frameRemaining -= take;
    }
    return m_frameRemaining == 0;
}

std::optional<Event> FrameParser::finishFrame()
{
    m_inPayload = false;
    switch (m_frameOpcode) {
    case Opcode::Ping:
        return Event{
            .kind = Event::Kind::Ping, .payload = std::exchange(m_control, {}), .closeCode = 0, .reason = {}};
    case Opcode::Pong:
        return Event{
            .kind = Event::Kind::Pong, .payload = std::exchange(m_control, {}), .closeCode = 0, .reason = {}};
    case Opcode::Close: {
        QByteArray payload = std::exchange(m_control, {});
        if (payload.isEmpty())
            return Event{
                .kind = Event::Kind::Close, .payload = {}, .closeCode = CloseCode::NoStatus, .reason = {}};
        if (payload.size() == 1)
            return fail(CloseCode::ProtocolError, u"close frame with a one-byte payload"_s);
        const quint16 code = qFromBigEndian<quint16>(payload.constData());
        if (!isValidReceivedCloseCode(code))
            return fail(CloseCode::ProtocolError, u"invalid close code %1"_s.arg(code));
        const QByteArrayView reasonBytes = QByteArrayView(payload).sliced(2);
        if (!isValidUtf8(reasonBytes))
            return fail(CloseCode::InvalidPayload, u"close reason is not valid UTF-8"_s);
        QString reason = QString::fromUtf8(reasonBytes);
        return Event{.kind = Event::Kind::Close,
                     .payload = std::move(payload),
                     .closeCode = code,
                     .reason = std::move(reason)};
    }
    case Opcode::Continuation:
    case Opcode::Text:
    case Opcode::Binary:
        break;
    }

    if (!m_frameFin)
        return std::nullopt; // more fragments to come
    m_inMessage = false;
    QByteArray message = std::exchange(m_message, {});
    if (m_messageOpcode == Opcode::Text) {
        if (!isValidUtf8(message))
            return fail(CloseCode::InvalidPayload, u"text message is not valid UTF-8"_s);
        return Event{.kind = Event::Kind::Text, .payload = std::move(message), .closeCode = 0, .reason = {}};
    }
    return Event{.kind = Event::Kind::Binary, .payload = std::move(message), .closeCode = 0, .reason = {}};
}

} // namespace Herald::Ws
