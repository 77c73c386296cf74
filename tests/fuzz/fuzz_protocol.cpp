// libFuzzer target for the protocol codec: what a WebSocket client can put in front of the hub. The input is
// split at the first 0xFF byte: before it, raw WebSocket bytes for the frame parser; after it, one text frame
// for the request codec and the message codec. Nothing may crash, hang or read out of bounds (ASan+UBSan).

#include "channelname.h"
#include "message.h"
#include "request.h"
#include "wsframe.h"

#include <QByteArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstddef>
#include <cstdint>

using namespace Qt::StringLiterals;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray input = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));
    const qsizetype split = input.indexOf('\xff');
    const QByteArray wire = split < 0 ? input : input.left(split);
    const QByteArray text = split < 0 ? input : input.mid(split + 1);

    // The frame parser, fed in two uneven pieces as TCP would; small limit so the too-big path is reachable.
    Herald::Ws::FrameParser parser(1024);
    parser.append(wire.left(wire.size() / 3));
    while (parser.next()) {
    }
    parser.append(wire.mid(wire.size() / 3));
    while (auto event = parser.next()) {
        if (event->kind == Herald::Ws::Event::Kind::Text)
            (void)Herald::parseRequest(event->payload);
    }
    (void)Herald::Ws::isValidUtf8(text);

    // A text frame through everything a session does with it.
    auto request = Herald::parseRequest(text);
    if (request) {
        (void)Herald::optionalString(request->body, "channel"_L1);
        (void)Herald::optionalId(request->body, "user_id"_L1);
        (void)Herald::optionalSequence(request->body, "since"_L1);
        (void)Herald::requiredString(request->body, "client_id"_L1);
        (void)Herald::messageFromPayload(request->body, u"message"_s);
        // The rich notification fields, the schedule and the idempotency key a publish frame may carry.
        if (auto published = Herald::publishedMessageFromPayload(request->body, u"message"_s))
            (void)published->toJsonBytes();
        const QDateTime now = QDateTime::currentDateTimeUtc();
        (void)Herald::scheduleFromPayload(request->body, now);
        (void)Herald::idempotencyKeyFromPayload(request->body);
        (void)Herald::parseTimeOrDuration(request->body.value("expires"_L1), now);
        const QString channel = request->body.value("channel"_L1).toString();
        (void)Herald::isValidChannelName(channel);
        (void)Herald::channelMatches(channel, request->body.value("pattern"_L1).toString());
    }
    const QJsonObject object = QJsonDocument::fromJson(text).object();
    if (auto m = Herald::Message::fromJson(object))
        (void)m->toJsonBytes();
    (void)Herald::parseSequence(QString::fromUtf8(text.left(40)));
    return 0;
}
