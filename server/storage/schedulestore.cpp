#include "schedulestore.h"

#include <QJsonDocument>
#include <QRandomGenerator>

using namespace Qt::StringLiterals;

namespace Herald {

QJsonObject ScheduledEntry::toJson() const
{
    QJsonObject m = message.toJson();
    m.remove("id"_L1);
    m.remove("timestamp"_L1);
    return QJsonObject{{"handle"_L1, handle},
                       {"at"_L1, formatTimestamp(at)},
                       {"channel"_L1, message.channel},
                       {"message"_L1, m}};
}

QByteArray ScheduledEntry::encode() const
{
    QJsonObject o{
        {"handle"_L1, handle}, {"at_ms"_L1, at.toMSecsSinceEpoch()}, {"message"_L1, message.toJson()}};
    if (!excludeClientId.isEmpty())
        o.insert("exclude"_L1, excludeClientId);
    return compactJson(o);
}

std::optional<ScheduledEntry> ScheduledEntry::decode(const QByteArray &bytes)
{
    const QJsonObject o = QJsonDocument::fromJson(bytes).object();
    auto message = Message::fromJson(o.value("message"_L1).toObject());
    const QJsonValue at = o.value("at_ms"_L1);
    if (!message || !at.isDouble() || !o.value("handle"_L1).isString())
        return std::nullopt;
    ScheduledEntry e;
    e.handle = o.value("handle"_L1).toString();
    e.at = QDateTime::fromMSecsSinceEpoch(at.toInteger(), Qt::UTC);
    e.message = std::move(message).value();
    e.message.id = 0;
    e.excludeClientId = o.value("exclude"_L1).toString();
    return e;
}

QString ScheduledEntry::newHandle()
{
    return QString::number(QRandomGenerator::system()->generate64(), 16).rightJustified(16, u'0');
}

} // namespace Herald
