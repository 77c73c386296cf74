#pragma once

#include "errorcode.h"
#include "result.h"

#include <QDateTime>
#include <QJsonObject>
#include <QJsonValue>
#include <QList>
#include <QString>
#include <QStringList>

#include <chrono>
#include <optional>

namespace Herald {

// The rich fields of a notification (docs/protocol.md, "Notifications"): how urgent, how it is labelled,
// what a click or a button does, and for how long it is worth showing. All optional; a message without them
// is what it was before. Wire names and values are append only.

// A button. "view" opens a URL; "reply" publishes `message` to `channel` as the person who pressed it, so
// the publisher hears the answer over Herald itself. Append only: a client ignores a kind it does not know.
struct NotificationAction
{
    enum class Kind
    {
        View,
        Reply,
    };
    Kind kind = Kind::View;
    QString label;
    QString url;     // view
    QString channel; // reply
    QString message; // reply: the text published (defaults to the label)

    QJsonObject toJson() const;
    friend bool operator==(const NotificationAction &, const NotificationAction &) = default;
};

struct Attachment
{
    QString url;
    QString name;

    QJsonObject toJson() const;
    friend bool operator==(const Attachment &, const Attachment &) = default;
};

struct NotificationFields
{
    static constexpr int DefaultPriority = 3;
    static constexpr int UrgentPriority = 5;
    static constexpr int MaxTags = 10;
    static constexpr int MaxTagLength = 32;
    static constexpr int MaxActions = 3;
    static constexpr int MaxLabelLength = 40;
    static constexpr int MaxUrlLength = 2048;
    static constexpr int MaxReplyLength = 1024;

    int priority = 0; // 1..5; 0 = not given, which means DefaultPriority
    QStringList tags;
    QString click;
    QList<NotificationAction> actions;
    QString icon;
    std::optional<Attachment> attachment;
    QDateTime expires;    // invalid = never
    qint64 replaces = 0;  // this message is the new state of that one (the chain's latest, resolved)
    qint64 withdraws = 0; // on a "withdrawn" event: the message that is gone
    bool quiet = false;   // set by the server: delivered in the recipient's quiet hours, do not ring
    // Set by the server on updates and "withdrawn" events: the id of the chain's first message, so that a
    // client that missed the middle of a chain (offline, then resumed) still knows what an update replaces.
    qint64 chain = 0;

    int effectivePriority() const { return priority ? priority : DefaultPriority; }
    bool isExpired(const QDateTime &now) const { return expires.isValid() && expires <= now; }
    bool isEmpty() const;
    // Writes the fields that are set.
    void writeTo(QJsonObject &object) const;
    friend bool operator==(const NotificationFields &, const NotificationFields &) = default;
};

// The wire names of the fields above, so that Message::fromJson does not keep them in `extra`.
const QStringList &notificationFieldNames();

// Reads and checks the rich fields a publisher sent (priority, tags, click, actions, icon, attachment,
// expires, replaces). A bad value is refused with the field named: {bad_request, "field 'priority' must
// be …"}. `quiet`, `withdraws` and `chain` are the server's to set and are not read. `now` resolves a
// relative expiry.
Result<NotificationFields, ProtocolError> notificationFieldsFromPayload(const QJsonObject &object,
                                                                        const QDateTime &now);
// The same fields as stored or received: already checked once, so nothing is refused; unreadable values
// are left out.
NotificationFields notificationFieldsFromJson(const QJsonObject &object);

// A duration: a number of seconds, or a string of one or more <number><unit> with s, m, h, d or w ("90s",
// "30m", "1h30m", "2d"). Nothing for anything else, zero or negative.
std::optional<std::chrono::milliseconds> parseDuration(const QJsonValue &value);
// A point in time: an ISO-8601 date and time (UTC unless it says otherwise), a Unix time in seconds (a
// number), or a duration from `now`.
std::optional<QDateTime> parseTimeOrDuration(const QJsonValue &value, const QDateTime &now);

// When to deliver a publish: "at" (a time) or "delay" (a duration); nothing when neither is given. At most
// MaxScheduleAhead ahead; a time already past is refused, so a clock mistake is not silently "now".
inline constexpr std::chrono::hours MaxScheduleAhead{24 * 366};
Result<std::optional<QDateTime>, ProtocolError> scheduleFromPayload(const QJsonObject &object,
                                                                    const QDateTime &now);

// An Idempotency-Key (header) or idempotency_key (field): 1 to 128 printable ASCII characters.
bool isValidIdempotencyKey(QStringView key);
// The field, if given; a bad one is refused naming it.
Result<std::optional<QString>, ProtocolError> idempotencyKeyFromPayload(const QJsonObject &object);

// An absolute http or https URL with a host, at most MaxUrlLength: the only links a notification may carry
// (a javascript: or data: URL in a click target is an attack on whoever clicks it).
bool isSafeLink(const QString &url);

} // namespace Herald
