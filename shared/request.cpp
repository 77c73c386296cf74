#include "request.h"

#include "jsontext.h"

#include <QJsonDocument>
#include <QJsonParseError>

#include <array>
#include <cmath>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
struct ActionName
{
    Action action;
    QStringView name;
};

constexpr std::array<ActionName, 13> actionNames{{
    {Action::Ping, u"ping"},
    {Action::GetStats, u"get_stats"},
    {Action::Subscribe, u"subscribe"},
    {Action::Unsubscribe, u"unsubscribe"},
    {Action::Publish, u"publish"},
    {Action::Notify, u"notify"},
    {Action::Chat, u"chat"},
    {Action::Notification, u"notification"},
    {Action::BroadcastNotification, u"broadcast_notification"},
    {Action::Broadcast, u"broadcast"},
    {Action::Disconnect, u"disconnect"},
    {Action::Auth, u"auth"},
    {Action::Withdraw, u"withdraw"},
}};

ProtocolError fieldError(QLatin1StringView key, QLatin1StringView what)
{
    return {ErrorCode::BadRequest, u"field '%1' %2"_s.arg(key, what)};
}
} // namespace

Action actionFromName(QStringView name)
{
    for (const auto &entry : actionNames) {
        if (entry.name == name)
            return entry.action;
    }
    return Action::Unknown;
}

QString actionName(Action action)
{
    for (const auto &entry : actionNames) {
        if (entry.action == action)
            return entry.name.toString();
    }
    return u"unknown"_s;
}

Result<Request, ProtocolError> parseRequest(QByteArrayView frame)
{
    using R = Result<Request, ProtocolError>;
    JsonObjectError error;
    auto object = parseJsonObject(frame, &error);
    if (!object)
        return R::failure({ErrorCode::InvalidJson, error.message.replace(u"the JSON"_s, u"a frame"_s)});

    Request request;
    request.body = std::move(*object);
    QJsonValue kind = request.body.value("action"_L1);
    if (kind.isUndefined()) {
        kind = request.body.value("type"_L1);
        request.kindFromType = true;
    }
    if (kind.isUndefined())
        return R::failure({ErrorCode::UnknownAction, u"a frame needs an \"action\" or a \"type\""_s});
    if (!kind.isString())
        return R::failure({ErrorCode::UnknownAction, u"\"action\" and \"type\" must be strings"_s});
    request.name = kind.toString();
    request.action = actionFromName(request.name);
    if (request.action == Action::Unknown)
        return R::failure({ErrorCode::UnknownAction, u"unknown action '%1'"_s.arg(request.name.left(64))});
    return request;
}

Result<QString, ProtocolError> requiredString(const QJsonObject &object, QLatin1StringView key)
{
    using R = Result<QString, ProtocolError>;
    const QJsonValue v = object.value(key);
    if (v.isUndefined() || v.isNull())
        return R::failure(fieldError(key, "is required"_L1));
    if (!v.isString())
        return R::failure(fieldError(key, "must be a string"_L1));
    return v.toString();
}

Result<std::optional<QString>, ProtocolError> optionalString(const QJsonObject &object, QLatin1StringView key)
{
    using R = Result<std::optional<QString>, ProtocolError>;
    const QJsonValue v = object.value(key);
    if (v.isUndefined() || v.isNull())
        return std::optional<QString>();
    if (v.isString())
        return std::optional<QString>(v.toString());
    return R::failure(fieldError(key, "must be a string"_L1));
}

Result<std::optional<QString>, ProtocolError> optionalId(const QJsonObject &object, QLatin1StringView key)
{
    using R = Result<std::optional<QString>, ProtocolError>;
    const QJsonValue v = object.value(key);
    if (v.isDouble()) {
        const double d = v.toDouble();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15)
            return std::optional<QString>(QString::number(v.toInteger()));
        return R::failure(fieldError(key, "must be a string or a whole number"_L1));
    }
    return optionalString(object, key);
}

std::optional<qint64> parseSequence(QStringView text)
{
    if (text.isEmpty() || text.size() > 18)
        return std::nullopt;
    for (QChar c : text) {
        if (c < u'0' || c > u'9')
            return std::nullopt;
    }
    bool ok = false;
    const qint64 v = text.toLongLong(&ok);
    return ok ? std::optional<qint64>(v) : std::nullopt;
}

std::optional<int> parseBoundedInt(QStringView text, int min, int max)
{
    bool ok = false;
    const int v = text.trimmed().toInt(&ok);
    if (!ok || v < min || v > max)
        return std::nullopt;
    return v;
}

Result<std::optional<qint64>, ProtocolError> optionalSequence(const QJsonObject &object,
                                                              QLatin1StringView key)
{
    using R = Result<std::optional<qint64>, ProtocolError>;
    const QJsonValue v = object.value(key);
    if (v.isUndefined() || v.isNull())
        return std::optional<qint64>();
    if (v.isDouble()) {
        const double d = v.toDouble();
        if (std::isfinite(d) && d >= 0 && d == std::floor(d) && d < 9e15)
            return std::optional<qint64>(v.toInteger());
    } else if (v.isString()) {
        if (auto s = parseSequence(v.toString()))
            return std::optional<qint64>(*s);
    }
    return R::failure(fieldError(key, "must be a non-negative integer"_L1));
}

} // namespace Herald
