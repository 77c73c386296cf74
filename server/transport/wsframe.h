#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>
#include <optional>

// Hand-written RFC 6455 framing: QWebSocket re-encodes every frame per recipient, while a broadcast
// wants one pre-encoded frame whose bytes are shared (implicitly) by every recipient's socket.
namespace Herald::Ws {

enum class Opcode : quint8
{
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA
};

// Close codes we use (RFC 6455 7.4.1)
namespace CloseCode {
inline constexpr quint16 Normal = 1000, GoingAway = 1001, ProtocolError = 1002, UnsupportedData = 1003,
                         NoStatus = 1005, Abnormal = 1006, InvalidPayload = 1007, PolicyViolation = 1008,
                         TooBig = 1009, InternalError = 1011;
} // namespace CloseCode

// Control frames (close, ping, pong) carry at most this many payload bytes (RFC 6455 5.5).
inline constexpr qsizetype MaxControlPayload = 125;

// One complete unmasked server->client frame with FIN set.
// Precondition: control opcodes get at most MaxControlPayload bytes.
QByteArray encodeFrame(Opcode opcode, QByteArrayView payload);

// Close frame; reason is truncated to fit the 125-byte control frame limit (on a UTF-8 boundary).
// code 0 = no payload (the reason is ignored then).
QByteArray encodeClose(quint16 code, const QString &reason = {});

// Sec-WebSocket-Accept value for a Sec-WebSocket-Key (base64(sha1(key + GUID))).
// Surrounding whitespace of the key is ignored.
QByteArray acceptKey(QByteArrayView secWebSocketKey);

// A client frame encoder (masked) for tests and the load generator: mask key given explicitly.
// The four masking-key bytes on the wire are maskKey in network (big-endian) byte order.
QByteArray encodeMaskedFrame(Opcode opcode, QByteArrayView payload, quint32 maskKey, bool fin = true);

// Strict UTF-8 check (RFC 3629): rejects overlong forms, surrogates, code points above U+10FFFF and
// truncated sequences. Noncharacters such as U+FFFE are valid.
bool isValidUtf8(QByteArrayView data);

// A close code a peer may legitimately send (the Autobahn rules): 1000-1003, 1007-1011, 3000-4999.
bool isValidReceivedCloseCode(quint16 code);

struct Event
{
    enum class Kind
    {
        Text,
        Binary,
        Ping,
        Pong,
        Close,
        Error
    };
    Kind kind;
    QByteArray payload;    // message (reassembled), or ping/pong payload; Close: the raw close payload
    quint16 closeCode = 0; // Close: code received (1005 if the close frame had no payload); Error: the close
                           // code the server must send (1002, 1007, 1009)
    QString reason;        // Close: reason text; Error: a human-readable explanation
};

// Incremental parser of client->server frames. Feed bytes as they arrive, then call next() until it
// returns nullopt.
class FrameParser
{
public:
    explicit FrameParser(qint64 maxMessageSize = 64 * 1024);

    void append(QByteArrayView data);
    std::optional<Event> next();

    // Memory held for input not yet delivered as an event: raw bytes not parsed yet plus the unmasked
    // payload of the message (or control frame) being assembled.
    qint64 bufferedBytes() const;

    // After an Error event the parser stays failed: next() returns nullopt forever.
    bool hasFailed() const;

    qint64 maxMessageSize() const { return m_maxMessageSize; }

private:
    enum class HeaderResult
    {
        Incomplete,
        Complete,
        Failed
    };

    HeaderResult parseHeader(std::optional<Event> &error);
    bool consumePayload();
    std::optional<Event> finishFrame();
    Event fail(quint16 code, QString reason);

    qint64 m_maxMessageSize;

    // Raw input; bytes before m_readPos are consumed. Compacted lazily so appends stay amortised O(n).
    QByteArray m_buffer;
    qsizetype m_readPos = 0;

    // Frame whose payload is being read (valid while m_inPayload).
    bool m_inPayload = false;
    Opcode m_frameOpcode = Opcode::Continuation;
    bool m_frameFin = false;
    quint8 m_maskKey[4] = {};
    qint64 m_frameRemaining = 0;
    qint64 m_frameOffset = 0; // payload bytes already unmasked: selects the mask byte to continue with

    // Data message being reassembled; control frames go to m_control so they can interleave.
    bool m_inMessage = false;
    Opcode m_messageOpcode = Opcode::Text;
    QByteArray m_message;
    QByteArray m_control;

    bool m_failed = false;
};

} // namespace Herald::Ws
