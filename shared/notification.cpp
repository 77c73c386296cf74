#include "notification.h"

#include "channelname.h"

#include <QJsonArray>
#include <QTimeZone>
#include <QUrl>

#include <cmath>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
using Fields = NotificationFields;

ProtocolError badField(QLatin1StringView key, const QString &expected)
{
    return {ErrorCode::BadRequest, u"field '%1' must be %2"_s.arg(key, expected)};
}

bool isPlainText(QStringView s)
{
    for (QChar c : s) {
        if (c.category() == QChar::Other_Control)
            return false;
    }
    return true;
}

QString kindName(NotificationAction::Kind kind)
{
    switch (kind) {
    case NotificationAction::Kind::View:
        return u"view"_s;
    case NotificationAction::Kind::Reply:
        return u"reply"_s;
    }
    return {};
}

std::optional<NotificationAction::Kind> kindFromName(QStringView name)
{
    if (name == u"view")
        return NotificationAction::Kind::View;
    if (name == u"reply")
        return NotificationAction::Kind::Reply;
    return std::nullopt;
}

// ntfy's priority names, so its publishers' scripts work unchanged.
std::optional<int> priorityFrom(const QJsonValue &v)
{
    if (v.isDouble()) {
        const double d = v.toDouble();
        if (d >= 1 && d <= 5 && d == std::floor(d))
            return int(d);
        return std::nullopt;
    }
    if (!v.isString())
        return std::nullopt;
    static const QHash<QString, int> names = {
        {u"1"_s, 1},   {u"2"_s, 2},       {u"3"_s, 3},    {u"4"_s, 4},      {u"5"_s, 5},  {u"min"_s, 1},
        {u"low"_s, 2}, {u"default"_s, 3}, {u"high"_s, 4}, {u"urgent"_s, 5}, {u"max"_s, 5}};
    const auto it = names.constFind(v.toString().trimmed().toLower());
    return it == names.cend() ? std::nullopt : std::optional<int>(*it);
}

std::optional<NotificationAction> actionFrom(const QJsonValue &v, QString *why)
{
    if (!v.isObject()) {
        *why = u"an object {\"action\": \"view\" or \"reply\", \"label\": …}"_s;
        return std::nullopt;
    }
    const QJsonObject o = v.toObject();
    const auto kind = kindFromName(o.value("action"_L1).toString());
    if (!kind) {
        *why = u"an object whose 'action' is \"view\" or \"reply\""_s;
        return std::nullopt;
    }
    NotificationAction a;
    a.kind = *kind;
    a.label = o.value("label"_L1).toString();
    if (a.label.trimmed().isEmpty() || a.label.size() > Fields::MaxLabelLength || !isPlainText(a.label)) {
        *why = u"an object with a 'label' of 1 to %1 characters"_s.arg(Fields::MaxLabelLength);
        return std::nullopt;
    }
    if (a.kind == NotificationAction::Kind::View) {
        a.url = o.value("url"_L1).toString();
        if (!isSafeLink(a.url)) {
            *why = u"a view action with an http(s) 'url'"_s;
            return std::nullopt;
        }
        return a;
    }
    a.channel = o.value("channel"_L1).toString();
    if (!isValidChannelName(a.channel)) {
        *why = u"a reply action with a valid 'channel'"_s;
        return std::nullopt;
    }
    const QJsonValue message = o.value("message"_L1);
    if (!message.isUndefined() && !message.isNull()) {
        if (!message.isString() || message.toString().size() > Fields::MaxReplyLength) {
            *why = u"a reply action whose 'message' is a string of at most %1 characters"_s.arg(
                Fields::MaxReplyLength);
            return std::nullopt;
        }
        a.message = message.toString();
    }
    return a;
}

} // namespace

QJsonObject NotificationAction::toJson() const
{
    QJsonObject o{{"action"_L1, kindName(kind)}, {"label"_L1, label}};
    if (kind == Kind::View)
        o.insert("url"_L1, url);
    else {
        o.insert("channel"_L1, channel);
        if (!message.isEmpty())
            o.insert("message"_L1, message);
    }
    return o;
}

QJsonObject Attachment::toJson() const
{
    return QJsonObject{{"url"_L1, url}, {"name"_L1, name}};
}

bool NotificationFields::isEmpty() const
{
    return *this == NotificationFields();
}

void NotificationFields::writeTo(QJsonObject &o) const
{
    if (priority)
        o.insert("priority"_L1, priority);
    if (!tags.isEmpty())
        o.insert("tags"_L1, QJsonArray::fromStringList(tags));
    if (!click.isEmpty())
        o.insert("click"_L1, click);
    if (!actions.isEmpty()) {
        QJsonArray list;
        for (const NotificationAction &a : actions)
            list.append(a.toJson());
        o.insert("actions"_L1, list);
    }
    if (!icon.isEmpty())
        o.insert("icon"_L1, icon);
    if (attachment)
        o.insert("attachment"_L1, attachment->toJson());
    if (expires.isValid())
        o.insert("expires"_L1, expires.toUTC().toString(Qt::ISODateWithMs));
    if (replaces > 0)
        o.insert("replaces"_L1, replaces);
    if (withdraws > 0)
        o.insert("withdraws"_L1, withdraws);
    if (quiet)
        o.insert("quiet"_L1, true);
    if (chain > 0)
        o.insert("chain"_L1, chain);
}

const QStringList &notificationFieldNames()
{
    static const QStringList names = {u"priority"_s,  u"tags"_s,       u"click"_s,   u"actions"_s,
                                      u"icon"_s,      u"attachment"_s, u"expires"_s, u"replaces"_s,
                                      u"withdraws"_s, u"quiet"_s,      u"chain"_s};
    return names;
}

bool isSafeLink(const QString &url)
{
    if (url.isEmpty() || url.size() > Fields::MaxUrlLength || !isPlainText(url))
        return false;
    const QUrl u(url, QUrl::StrictMode);
    const QString scheme = u.scheme().toLower();
    return u.isValid() && (scheme == u"http"_s || scheme == u"https"_s) && !u.host().isEmpty();
}

std::optional<std::chrono::milliseconds> parseDuration(const QJsonValue &value)
{
    using namespace std::chrono;
    if (value.isDouble()) {
        const double s = value.toDouble();
        if (!(s > 0) || s > 1e10)
            return std::nullopt;
        return milliseconds(qint64(s * 1000));
    }
    if (!value.isString())
        return std::nullopt;
    const QString text = value.toString().trimmed().toLower();
    if (text.isEmpty() || text.size() > 32)
        return std::nullopt;
    qint64 total = 0;
    qsizetype i = 0;
    while (i < text.size()) {
        qsizetype start = i;
        while (i < text.size() && text.at(i).isDigit())
            ++i;
        if (i == start)
            return std::nullopt;
        bool ok = false;
        const qint64 n = QStringView(text).sliced(start, i - start).toLongLong(&ok);
        if (!ok || n > 1'000'000'000)
            return std::nullopt;
        qint64 unit = 1; // a bare number at the end is seconds
        if (i < text.size()) {
            switch (text.at(i).unicode()) {
            case 's':
                unit = 1;
                break;
            case 'm':
                unit = 60;
                break;
            case 'h':
                unit = 3600;
                break;
            case 'd':
                unit = 86400;
                break;
            case 'w':
                unit = 7 * 86400;
                break;
            default:
                return std::nullopt;
            }
            ++i;
        } else if (start != 0) {
            return std::nullopt; // "1h30" is a typo, not 1 h 30 s
        }
        total += n * unit;
        if (total > 10'000'000'000LL)
            return std::nullopt;
    }
    if (total <= 0)
        return std::nullopt;
    return milliseconds(total * 1000);
}

std::optional<QDateTime> parseTimeOrDuration(const QJsonValue &value, const QDateTime &now)
{
    if (value.isDouble()) {
        // A Unix time (what `date +%s` prints, and ntfy's "at" takes).
        const double s = value.toDouble();
        if (!(s > 0) || s > 1e11 || s != std::floor(s))
            return std::nullopt;
        return QDateTime::fromSecsSinceEpoch(qint64(s), Qt::UTC);
    }
    if (!value.isString())
        return std::nullopt;
    if (auto d = parseDuration(value))
        return now.addMSecs(d->count());
    const QString text = value.toString().trimmed();
    // A date alone or a time without a zone would mean the server's local time: ambiguous, so a zone (or Z)
    // is required. An all-digit string is a Unix time.
    if (!text.isEmpty() && std::all_of(text.cbegin(), text.cend(), [](QChar c) { return c.isDigit(); }))
        return parseTimeOrDuration(QJsonValue(text.toDouble()), now);
    QDateTime t = QDateTime::fromString(text, Qt::ISODateWithMs);
    if (!t.isValid() || t.timeSpec() == Qt::LocalTime)
        return std::nullopt;
    return t.toUTC();
}

Result<std::optional<QDateTime>, ProtocolError> scheduleFromPayload(const QJsonObject &object,
                                                                    const QDateTime &now)
{
    using R = Result<std::optional<QDateTime>, ProtocolError>;
    const QJsonValue at = object.value("at"_L1);
    const QJsonValue delay = object.value("delay"_L1);
    const bool hasAt = !at.isUndefined() && !at.isNull();
    const bool hasDelay = !delay.isUndefined() && !delay.isNull();
    if (hasAt && hasDelay)
        return R::failure({ErrorCode::BadRequest, u"give 'at' or 'delay', not both"_s});
    if (!hasAt && !hasDelay)
        return std::optional<QDateTime>();
    std::optional<QDateTime> when;
    if (hasDelay) {
        const auto d = parseDuration(delay);
        if (!d)
            return R::failure(
                badField("delay"_L1, u"a duration: seconds, or like \"30s\", \"10m\", \"2h\", \"1d\""_s));
        when = now.addMSecs(d->count());
    } else {
        when = parseTimeOrDuration(at, now);
        if (!when)
            return R::failure(badField(
                "at"_L1, u"a time (ISO 8601 with a zone, or Unix seconds) or a duration like \"30m\""_s));
        if (*when < now.addSecs(-1))
            return R::failure(
                badField("at"_L1, u"in the future: %1 has passed"_s.arg(when->toString(Qt::ISODateWithMs))));
    }
    if (*when > now.addSecs(std::chrono::duration_cast<std::chrono::seconds>(MaxScheduleAhead).count()))
        return R::failure(badField(hasAt ? "at"_L1 : "delay"_L1, u"at most 366 days ahead"_s));
    return when;
}

bool isValidIdempotencyKey(QStringView key)
{
    if (key.isEmpty() || key.size() > 128)
        return false;
    for (QChar c : key) {
        if (c.unicode() < 0x21 || c.unicode() > 0x7e)
            return false;
    }
    return true;
}

Result<std::optional<QString>, ProtocolError> idempotencyKeyFromPayload(const QJsonObject &object)
{
    using R = Result<std::optional<QString>, ProtocolError>;
    const QJsonValue v = object.value("idempotency_key"_L1);
    if (v.isUndefined() || v.isNull())
        return std::optional<QString>();
    if (!v.isString() || !isValidIdempotencyKey(v.toString()))
        return R::failure(badField("idempotency_key"_L1, u"1 to 128 printable ASCII characters"_s));
    return std::optional<QString>(v.toString());
}

Result<NotificationFields, ProtocolError> notificationFieldsFromPayload(const QJsonObject &object,
                                                                        const QDateTime &now)
{
    using R = Result<NotificationFields, ProtocolError>;
    NotificationFields f;
    auto given = [&object](QLatin1StringView key) {
        const QJsonValue v = object.value(key);
        return !v.isUndefined() && !v.isNull();
    };
    if (given("priority"_L1)) {
        const auto p = priorityFrom(object.value("priority"_L1));
        if (!p)
            return R::failure(badField("priority"_L1, u"1 to 5 (or min, low, default, high, urgent)"_s));
        f.priority = *p;
    }
    if (given("tags"_L1)) {
        const QJsonValue v = object.value("tags"_L1);
        QStringList tags;
        bool ok = true;
        if (v.isString()) { // ntfy's comma-separated form
            for (const QString &t : v.toString().split(u',', Qt::SkipEmptyParts))
                tags.append(t.trimmed());
        } else if (v.isArray()) {
            for (const QJsonValue &t : v.toArray()) {
                ok = ok && t.isString();
                tags.append(t.toString().trimmed());
            }
        } else {
            ok = false;
        }
        const QString expected = u"a list of at most %1 tags of 1 to %2 characters"_s.arg(Fields::MaxTags)
                                     .arg(Fields::MaxTagLength);
        if (!ok || tags.size() > Fields::MaxTags)
            return R::failure(badField("tags"_L1, expected));
        for (const QString &t : std::as_const(tags)) {
            if (t.isEmpty() || t.size() > Fields::MaxTagLength || !isPlainText(t))
                return R::failure(badField("tags"_L1, expected));
        }
        f.tags = tags;
    }
    for (auto [key, target] : {std::pair{"click"_L1, &f.click}, std::pair{"icon"_L1, &f.icon}}) {
        if (!given(key))
            continue;
        const QJsonValue v = object.value(key);
        if (!v.isString() || !isSafeLink(v.toString()))
            return R::failure(badField(key, u"an http or https URL"_s));
        *target = v.toString();
    }
    if (given("actions"_L1)) {
        const QJsonValue v = object.value("actions"_L1);
        if (!v.isArray() || v.toArray().size() > Fields::MaxActions)
            return R::failure(
                badField("actions"_L1, u"a list of at most %1 actions"_s.arg(Fields::MaxActions)));
        for (const QJsonValue &a : v.toArray()) {
            QString why;
            auto action = actionFrom(a, &why);
            if (!action)
                return R::failure(badField("actions"_L1, u"a list of actions, each %1"_s.arg(why)));
            f.actions.append(*action);
        }
    }
    if (given("attachment"_L1)) {
        const QJsonValue v = object.value("attachment"_L1);
        Attachment a;
        // A URL alone, or {url, name}.
        a.url = v.isString() ? v.toString() : v.toObject().value("url"_L1).toString();
        a.name = v.toObject().value("name"_L1).toString();
        if (!v.isString() && !v.isObject())
            a.url.clear();
        if (!isSafeLink(a.url) || a.name.size() > 255 || !isPlainText(a.name) ||
            (v.isObject() && v.toObject().contains("name"_L1) && !v.toObject().value("name"_L1).isString()))
            return R::failure(
                badField("attachment"_L1, u"{\"url\": an http(s) URL, \"name\": a file name}"_s));
        if (a.name.isEmpty())
            a.name = QUrl(a.url).fileName();
        f.attachment = a;
    }
    if (given("expires"_L1)) {
        const auto t = parseTimeOrDuration(object.value("expires"_L1), now);
        if (!t)
            return R::failure(badField(
                "expires"_L1, u"a time (ISO 8601 with a zone, or Unix seconds) or a duration like \"1h\""_s));
        if (*t <= now)
            return R::failure(badField("expires"_L1, u"in the future"_s));
        f.expires = *t;
    }
    if (given("replaces"_L1)) {
        const QJsonValue v = object.value("replaces"_L1);
        const double d = v.toDouble(-1);
        if (!v.isDouble() || d < 1 || d != std::floor(d) || d > 9e15)
            return R::failure(
                badField("replaces"_L1, u"the id of an earlier message (a positive integer)"_s));
        f.replaces = qint64(d);
    }
    return f;
}

NotificationFields notificationFieldsFromJson(const QJsonObject &object)
{
    // Stored and received messages were checked when they were published; read leniently.
    NotificationFields f;
    if (auto p = priorityFrom(object.value("priority"_L1)))
        f.priority = *p;
    for (const QJsonValue &t : object.value("tags"_L1).toArray())
        f.tags.append(t.toString());
    f.click = object.value("click"_L1).toString();
    f.icon = object.value("icon"_L1).toString();
    for (const QJsonValue &v : object.value("actions"_L1).toArray()) {
        QString why;
        if (auto a = actionFrom(v, &why))
            f.actions.append(*a);
    }
    const QJsonObject attachment = object.value("attachment"_L1).toObject();
    if (!attachment.isEmpty())
        f.attachment =
            Attachment{attachment.value("url"_L1).toString(), attachment.value("name"_L1).toString()};
    const QJsonValue expires = object.value("expires"_L1);
    if (expires.isString())
        f.expires = QDateTime::fromString(expires.toString(), Qt::ISODateWithMs);
    f.replaces = object.value("replaces"_L1).toInteger();
    f.withdraws = object.value("withdraws"_L1).toInteger();
    f.quiet = object.value("quiet"_L1).toBool();
    f.chain = object.value("chain"_L1).toInteger();
    return f;
}

} // namespace Herald
