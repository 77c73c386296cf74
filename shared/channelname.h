#pragma once

#include <QString>
#include <QStringView>

namespace Herald {

// Channel names are [A-Za-z0-9_.:-]{1,128} (SPEC section 2).
bool isValidChannelName(QStringView name);
// What every route says about a name that is not one, naming it (cut to 140 characters):
// "invalid channel name 'a b': use [A-Za-z0-9_.:-], 1 to 128 characters".
QString invalidChannelMessage(QStringView name);

// Well-known channels and prefixes.
namespace Channels {
inline constexpr QStringView Broadcast = u"broadcast";
inline constexpr QStringView Chat = u"chat";
inline constexpr QStringView UserPrefix = u"user:";
inline constexpr QStringView ClientPrefix = u"client:";
// reads:<id>: the server's events about user:<id>'s read state and settings (docs/protocol.md, "Read state").
inline constexpr QStringView ReadsPrefix = u"reads:";
} // namespace Channels

QString userChannel(QStringView userId);
// A user's queue (user:<id>): the channels with read marks.
bool isUserChannel(QStringView channel);
QString clientChannel(QStringView clientId);
QString readsChannel(QStringView userId);
// reads:<id>: readable as user:<id> is, written by the server only.
bool isReadsChannel(QStringView channel);

// Channel patterns (retention rules, ephemeral channels, token allow-lists): '*' matches any run of
// characters, everything else matches itself. "*" alone matches every channel.
bool channelMatches(QStringView pattern, QStringView channel);

// Ids used in user:<id> and client:<id> must themselves keep the channel name valid.
bool isValidIdentifier(QStringView id);

} // namespace Herald
