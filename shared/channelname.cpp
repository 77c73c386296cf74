#include "channelname.h"

namespace Herald {

namespace {
constexpr qsizetype MaxChannelLength = 128;

bool isChannelChar(QChar c)
{
    const char16_t u = c.unicode();
    return (u >= u'a' && u <= u'z') || (u >= u'A' && u <= u'Z') || (u >= u'0' && u <= u'9') || u == u'_' ||
           u == u'.' || u == u':' || u == u'-';
}
} // namespace

bool isValidChannelName(QStringView name)
{
    if (name.isEmpty() || name.size() > MaxChannelLength)
        return false;
    for (QChar c : name) {
        if (!isChannelChar(c))
            return false;
    }
    return true;
}

bool isValidIdentifier(QStringView id)
{
    // The longest prefix is "client:" (7 characters).
    return id.size() <= MaxChannelLength - 7 && isValidChannelName(id);
}

QString userChannel(QStringView userId)
{
    return Channels::UserPrefix.toString() + userId;
}

QString clientChannel(QStringView clientId)
{
    return Channels::ClientPrefix.toString() + clientId;
}

} // namespace Herald
