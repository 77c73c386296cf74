#pragma once

#include "errorcode.h"
#include "notification.h"
#include "result.h"

#include <QByteArray>
#include <QDateTime>
#include <QJsonObject>
#include <QJsonValue>
#include <QString>

#include <optional>

namespace Herald {

// One message as it travels through the hub (SPEC section 2):
// {id, channel, type, timestamp, sender?, message?, title?, data?}.
// A null QString or an undefined data means "absent": the field is left out of the JSON.
struct Message
{
    qint64 id = 0;
    QString channel;
    QString type;
    QDateTime timestamp;
    QString sender;
    QString message;
    QString title;
    QJsonValue data = QJsonValue(QJsonValue::Undefined);
    // Priority, tags, click, actions, icon, attachment, expiry, replaces/withdraws, quiet (notification.h).
    NotificationFields notification;

    // The update chain it belongs to: the chain's first id (`chain`, sent on updates and withdrawn events),
    // else its own id (it starts one).
    qint64 chainId() const { return notification.chain > 0 ? notification.chain : id; }
    // Further top-level fields some seed frames carry (seed 004's "model", seed 001's "scope").
    QJsonObject extra;

    QJsonObject toJson() const;
    QByteArray toJsonBytes() const;
    static Result<Message, ProtocolError> fromJson(const QJsonObject &object);
};

// A JSON object as compact UTF-8, the form every frame and body goes out in.
QByteArray compactJson(const QJsonObject &object);

// ISO-8601 UTC with milliseconds, e.g. 2026-11-22T10:00:00.000Z.
QString formatTimestamp(const QDateTime &time);
QString nowTimestamp();

// Reads the optional payload fields (type, title, message, data, sender) of a publish request or an HTTP
// body into a Message, checking their JSON types. The channel is not read here.
Result<Message, ProtocolError> messageFromPayload(const QJsonObject &object, const QString &defaultType);

// What a client publishes or broadcasts (REST and WebSocket): messageFromPayload with the notification
// fields (notificationFieldsFromPayload, a bad one refused naming it), and it must carry something
// to show: a title, a message or data. One with none would reach every subscriber as an empty notification,
// so it is refused (bad_request, HTTP 422). Channel events (a type alone) and stored messages use
// messageFromPayload.
Result<Message, ProtocolError> publishedMessageFromPayload(const QJsonObject &object,
                                                           const QString &defaultType);

} // namespace Herald
