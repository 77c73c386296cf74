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

QString invalidChannelMessage(QStringView name)
{
    return QStringLiteral("invalid channel name '%1': use [A-Za-z0-9_.:-], 1 to 128 characters")
        .arg(name.left(140));
}

bool isValidIdentifier(QStringView id)
{
    // The longest prefix is "client:" (7 characters).
    return id.size() <= MaxChannelLength - 7 && isValidChannelName(id);
}

bool channelMatches(QStringView pattern, QStringView channel)
{
    // Iterative glob with backtracking to the last '*': linear in practice, no regex to compile per call.
    qsizetype p = 0, c = 0, star = -1, mark = 0;
    while (c < channel.size()) {
        if (p < pattern.size() && pattern[p] == u'*') {
            star = p++;
            mark = c;
        } else if (p < pattern.size() && pattern[p] == channel[c]) {
            ++p;
            ++c;
        } else if (star >= 0) {
            p = star + 1;
            c = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == u'*')
        ++p;
    return p == pattern.size();
}

bool isUserChannel(QStringView channel)
{
    return channel.startsWith(Channels::UserPrefix);
}

QString userChannel(QStringView userId)
{
    return Channels::UserPrefix.toString() + userId;
}

QString clientChannel(QStringView clientId)
{
    return Channels::ClientPrefix.toString() + clientId;
}

QString readsChannel(QStringView userId)
{
    return Channels::ReadsPrefix.toString() + userId;
}

bool isReadsChannel(QStringView channel)
{
    return channel.startsWith(Channels::ReadsPrefix);
}

} // namespace Herald
