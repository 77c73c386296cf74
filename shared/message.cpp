#include "message.h"

#include <QJsonDocument>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
constexpr qsizetype MaxTypeLength = 64;

ProtocolError badField(QLatin1StringView key, QLatin1StringView expected)
{
    return {ErrorCode::BadRequest, u"field '%1' must be %2"_s.arg(key, expected)};
}

bool isValidType(QStringView type)
{
    if (type.isEmpty() || type.size() > MaxTypeLength)
        return false;
    for (QChar c : type) {
        if (!(c.isLetterOrNumber() || c == u'_' || c == u'-' || c == u'.' || c == u':'))
            return false;
    }
    return true;
}
} // namespace

QString formatTimestamp(const QDateTime &time)
{
    return time.toUTC().toString(Qt::ISODateWithMs);
}

QString nowTimestamp()
{
    return formatTimestamp(QDateTime::currentDateTimeUtc());
}

QJsonObject Message::toJson() const
{
    QJsonObject o = extra;
    if (id > 0)
        o.insert("id"_L1, id);
    o.insert("channel"_L1, channel);
    o.insert("type"_L1, type);
    o.insert("timestamp"_L1, formatTimestamp(timestamp));
    if (!sender.isNull())
        o.insert("sender"_L1, sender);
    if (!message.isNull())
        o.insert("message"_L1, message);
    if (!title.isNull())
        o.insert("title"_L1, title);
    if (!data.isUndefined())
        o.insert("data"_L1, data);
    notification.writeTo(o);
    return o;
}

QByteArray compactJson(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

QByteArray Message::toJsonBytes() const
{
    return compactJson(toJson());
}

Result<Message, ProtocolError> Message::fromJson(const QJsonObject &object)
{
    auto parsed = messageFromPayload(object, QString());
    if (!parsed)
        return parsed;
    Message m = std::move(parsed).value();
    const QJsonValue id = object.value("id"_L1);
    if (!id.isUndefined()) {
        if (!id.isDouble() || id.toDouble() < 0)
            return Result<Message, ProtocolError>::failure(badField("id"_L1, "a non-negative integer"_L1));
        m.id = id.toInteger();
    }
    const QJsonValue channel = object.value("channel"_L1);
    if (!channel.isString())
        return Result<Message, ProtocolError>::failure(badField("channel"_L1, "a string"_L1));
    m.channel = channel.toString();
    const QJsonValue ts = object.value("timestamp"_L1);
    if (ts.isString())
        m.timestamp = QDateTime::fromString(ts.toString(), Qt::ISODateWithMs);
    static const QStringList known = {u"id"_s,     u"channel"_s, u"type"_s,  u"timestamp"_s,
                                      u"sender"_s, u"message"_s, u"title"_s, u"data"_s};
    m.notification = notificationFieldsFromJson(object);
    const QStringList &rich = notificationFieldNames();
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (!known.contains(it.key()) && !rich.contains(it.key()))
            m.extra.insert(it.key(), it.value());
    }
    return m;
}

Result<Message, ProtocolError> publishedMessageFromPayload(const QJsonObject &object,
                                                           const QString &defaultType)
{
    auto parsed = messageFromPayload(object, defaultType);
    if (!parsed)
        return parsed;
    if (parsed->title.isEmpty() && parsed->message.isEmpty() && parsed->data.isUndefined()) {
        return Result<Message, ProtocolError>::failure(
            {ErrorCode::BadRequest, u"nothing to publish: give a 'title', a 'message' or 'data'"_s});
    }
    auto fields = notificationFieldsFromPayload(object, parsed->timestamp);
    if (!fields)
        return Result<Message, ProtocolError>::failure(fields.error());
    parsed.value().notification = std::move(fields).value();
    return parsed;
}

Result<Message, ProtocolError> messageFromPayload(const QJsonObject &object, const QString &defaultType)
{
    using R = Result<Message, ProtocolError>;
    Message m;
    m.timestamp = QDateTime::currentDateTimeUtc();
    m.type = defaultType;
    const QJsonValue type = object.value("type"_L1);
    if (!type.isUndefined() && !type.isNull()) {
        if (!type.isString() || !isValidType(type.toString()))
            return R::failure(badField("type"_L1, "a string of letters, digits and _.:- (at most 64)"_L1));
        m.type = type.toString();
    }
    if (m.type.isEmpty())
        return R::failure(badField("type"_L1, "a non-empty string"_L1));
    for (auto [key, target] : {std::pair{"title"_L1, &m.title}, std::pair{"message"_L1, &m.message},
                               std::pair{"sender"_L1, &m.sender}}) {
        const QJsonValue v = object.value(key);
        if (v.isUndefined() || v.isNull())
            continue;
        if (!v.isString())
            return R::failure(badField(key, "a string"_L1));
        *target = v.toString();
    }
    m.data = object.value("data"_L1);
    if (m.data.isNull())
        m.data = QJsonValue(QJsonValue::Undefined);
    return m;
}

} // namespace Herald
