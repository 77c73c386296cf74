#pragma once

#include "result.h"

#include <QByteArray>
#include <QDateTime>
#include <QHash>
#include <QJsonObject>
#include <QMetaObject>
#include <QMutex>
#include <QString>
#include <QTime>
#include <QTimeZone>

#include <chrono>
#include <optional>

namespace Herald {

class Hub;

// A daily window of quiet hours in the user's time zone, e.g. 22:00 to 07:00 in Europe/Berlin. It starts at
// `start` and ends just before `end`; an end before the start runs over midnight; equal ones mean all day.
struct QuietWindow
{
    QTime start;
    QTime end;
    QTimeZone zone;

    bool covers(const QDateTime &when) const;
    friend bool operator==(const QuietWindow &, const QuietWindow &) = default;
};

// A user's settings (GET/PUT /api/users/{id}/settings): {"quiet_hours":{"start":"22:00","end":"07:00",
// "timezone":"Europe/Berlin"}|null,"min_priority":4}. Wire names are append only.
struct UserSettings
{
    static constexpr int DefaultMinPriority = 4;

    std::optional<QuietWindow> quietHours;
    int minPriority = DefaultMinPriority;

    // Whether a message of this priority, published at `when`, is delivered quietly: during quiet hours,
    // below the minimum priority.
    bool isQuiet(int priority, const QDateTime &when) const;
    QJsonObject toJson() const;
    friend bool operator==(const UserSettings &, const UserSettings &) = default;
};

// A refused settings body: the field ("quiet_hours.start") and what it must be.
struct SettingsError
{
    QString field;
    QString message;
};

// Reads and checks a PUT body: times HH:MM, a time zone Qt knows by its IANA id, min_priority 1 to 5
// (absent: 4), quiet_hours null or absent for none. An unknown field is refused too (a typo would otherwise
// be silently ignored).
Result<UserSettings, SettingsError> userSettingsFromJson(const QJsonObject &object);
// The stored form back (saved by the server, so already checked); defaults for anything unreadable.
UserSettings userSettingsFromStored(const QByteArray &json);

// Every user's settings as the publish path needs them, kept in memory so that a publish to user:<id> does
// not read the store: one read per user per Lifetime at most. A change on this node is forgotten at once
// (forget(), after the store has it); a change on another node of a cluster reaches this one with its
// "settings" event on reads:<id>, which every node delivers (the hub's messagePublished), and at the latest
// after Lifetime, should that event be lost with the bus. Thread-safe.
class UserSettingsCache
{
public:
    static constexpr std::chrono::seconds Lifetime{30};
    static constexpr qsizetype MaxUsers = 10000; // then everything is dropped and read again as needed

    explicit UserSettingsCache(Hub *hub);
    ~UserSettingsCache();
    UserSettingsCache(const UserSettingsCache &) = delete;
    UserSettingsCache &operator=(const UserSettingsCache &) = delete;

    // The user's settings; the defaults (no quiet hours) if there are none or the store cannot be read.
    UserSettings settingsFor(const QString &userId);
    void forget(const QString &userId);

private:
    struct Entry
    {
        UserSettings settings;
        qint64 loadedMs = 0; // steady clock
    };
    Hub *m_hub;
    QMutex m_mutex;
    QHash<QString, Entry> m_entries;
    // Raised by forget(): a read of the store that began before it is not kept (it may be the old value).
    quint64 m_generation = 0;
    QMetaObject::Connection m_watch;
};

} // namespace Herald
