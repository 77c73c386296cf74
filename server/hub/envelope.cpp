#include "envelope.h"

#include "wsframe.h"

namespace Herald {

QByteArray sseEncode(qint64 id, const QString &type, const QByteArray &json)
{
    QByteArray out;
    out.reserve(json.size() + type.size() + 40);
    if (id > 0)
        out += "id: " + QByteArray::number(id) + '\n';
    if (!type.isEmpty())
        out += "event: " + type.toUtf8() + '\n';
    // Compact JSON has no raw newlines, so one data line carries it.
    out += "data: " + json + "\n\n";
    return out;
}

EnvelopePtr makeEnvelope(Message message, Envelope::Target target, const QString &excludeClientId,
                         bool stored)
{
    auto e = std::make_shared<Envelope>();
    e->target = target;
    e->json = message.toJsonBytes();
    e->wsFrame = Ws::encodeFrame(Ws::Opcode::Text, e->json);
    e->sseEvent = sseEncode(message.id, message.type, e->json);
    e->sseEventUnnamed = sseEncode(message.id, QString(), e->json);
    e->message = std::move(message);
    e->excludeClientId = excludeClientId;
    e->stored = stored;
    return e;
}

EnvelopePtr makeControlEnvelope(const QByteArray &json, Envelope::Target target)
{
    auto e = std::make_shared<Envelope>();
    e->target = target;
    e->json = json;
    e->wsFrame = Ws::encodeFrame(Ws::Opcode::Text, json);
    e->sseEvent = sseEncode(0, QString(), json);
    e->sseEventUnnamed = e->sseEvent;
    return e;
}

} // namespace Herald
