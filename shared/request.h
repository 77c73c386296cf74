#pragma once

#include "errorcode.h"
#include "result.h"

#include <QByteArrayView>
#include <QJsonObject>
#include <QString>

#include <optional>

namespace Herald {

// What a client asks for in a frame. The kind is read from "action", else from "type" (SPEC section 3).
// Append only: the dashboard and tests switch on these.
enum class Action
{
    Unknown,
    Ping,
    GetStats,
    Subscribe,
    Unsubscribe,
    Publish,
    Notify,                // seed 003 client: relay a notification to dashboards and broadcast subscribers
    Chat,                  // seed 001: to every chat client
    Notification,          // seed 001: only back to the sender
    BroadcastNotification, // seed 001: to every client
    Broadcast,             // admin: publish on every channel
    Disconnect,            // admin: drop a client
    Auth,                  // first-frame authentication
    Withdraw,              // withdraw a message (docs/protocol.md, "Updates and withdrawals")
};

struct Request
{
    Action action = Action::Unknown;
    QString name;              // the action as the client spelled it
    bool kindFromType = false; // true when the kind came from "type" (so "type" is not a message type)
    QJsonObject body;
};

// Parses one text frame. Fails with invalid_json for anything that is not a JSON object, and with
// unknown_action when neither "action" nor "type" names something this hub knows.
Result<Request, ProtocolError> parseRequest(QByteArrayView frame);

Action actionFromName(QStringView name);
QString actionName(Action action);

// Typed field access with explicit errors (bad_request) instead of silent defaults.
Result<QString, ProtocolError> requiredString(const QJsonObject &object, QLatin1StringView key);
Result<std::optional<QString>, ProtocolError> optionalString(const QJsonObject &object,
                                                             QLatin1StringView key);
// An identifier (user_id, client_id): a string, or a whole number as seed 000's pages send user ids.
Result<std::optional<QString>, ProtocolError> optionalId(const QJsonObject &object, QLatin1StringView key);
// A resume point: a non-negative integer, or a string of digits (what Last-Event-ID carries).
Result<std::optional<qint64>, ProtocolError> optionalSequence(const QJsonObject &object,
                                                              QLatin1StringView key);
std::optional<qint64> parseSequence(QStringView text);
// An integer from min to max, surrounding spaces allowed (option values, config files).
std::optional<int> parseBoundedInt(QStringView text, int min, int max);

} // namespace Herald
