#include "quiethours.h"

#include "channelname.h"
#include "history.h"
#include "hub.h"
#include "logging.h"
#include "publisher.h"

#include <QJsonDocument>
#include <QJsonValue>
#include <QMutexLocker>

#include <chrono>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// "HH:MM", 00:00 to 23:59, two digits each: what the page's time inputs send.
std::optional<QTime> parseClock(const QJsonValue &value)
{
    if (!value.isString())
        return std::nullopt;
    const QString text = value.toString();
    if (text.size() != 5 || text.at(2) != u':')
        return std::nullopt;
    for (const int i : {0, 1, 3, 4}) {
        if (!text.at(i).isDigit() || text.at(i).unicode() > u'9')
            return std::nullopt;
    }
    const QTime time(text.left(2).toInt(), text.mid(3).toInt());
    if (!time.isValid())
        return std::nullopt;
    return time;
}

std::optional<QTimeZone> parseZone(const QJsonValue &value)
{
    if (!value.isString() || value.toString().isEmpty() || value.toString().size() > 64)
        return std::nullopt;
    const QByteArray id = value.toString().toUtf8();
    if (!QTimeZone::isTimeZoneIdAvailable(id))
        return std::nullopt;
    QTimeZone zone(id);
    if (!zone.isValid())
        return std::nullopt;
    return zone;
}

qint64 steadyMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

SettingsError fieldError(const QString &field, const QString &must)
{
    return {field, u"field '%1' must be %2"_s.arg(field, must)};
}
} // namespace

bool QuietWindow::covers(const QDateTime &when) const
{
    if (!start.isValid() || !end.isValid() || !zone.isValid() || !when.isValid())
        return false;
    const QTime local = when.toTimeZone(zone).time();
    if (start == end)
        return true; // all day
    if (start < end)
        return start <= local && local < end;
    return local >= start || local < end; // over midnight
}

bool UserSettings::isQuiet(int priority, const QDateTime &when) const
{
    return quietHours && priority < minPriority && quietHours->covers(when);
}

QJsonObject UserSettings::toJson() const
{
    QJsonValue window = QJsonValue::Null;
    if (quietHours) {
        window = QJsonObject{{"start"_L1, quietHours->start.toString(u"HH:mm"_s)},
                             {"end"_L1, quietHours->end.toString(u"HH:mm"_s)},
                             {"timezone"_L1, QString::fromUtf8(quietHours->zone.id())}};
    }
    return QJsonObject{{"quiet_hours"_L1, window}, {"min_priority"_L1, minPriority}};
}

Result<UserSettings, SettingsError> userSettingsFromJson(const QJsonObject &object)
{
    using R = Result<UserSettings, SettingsError>;
    UserSettings settings;
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (it.key() != "quiet_hours"_L1 && it.key() != "min_priority"_L1)
            return R::failure({it.key().left(40), u"unknown field '%1': the settings are quiet_hours and "
                                                  "min_priority"_s.arg(it.key().left(40))});
    }
    const QJsonValue priority = object.value("min_priority"_L1);
    if (!priority.isUndefined()) {
        const double p = priority.toDouble(-1);
        if (!priority.isDouble() || p != double(int(p)) || p < 1 || p > 5)
            return R::failure(fieldError(u"min_priority"_s, u"an integer from 1 to 5"_s));
        settings.minPriority = int(p);
    }
    const QJsonValue window = object.value("quiet_hours"_L1);
    if (window.isUndefined() || window.isNull())
        return settings;
    if (!window.isObject())
        return R::failure(fieldError(
            u"quiet_hours"_s,
            u"null or an object {\"start\":\"22:00\",\"end\":\"07:00\",\"timezone\":\"Europe/Berlin\"}"_s));
    const QJsonObject w = window.toObject();
    for (auto it = w.begin(); it != w.end(); ++it) {
        if (it.key() != "start"_L1 && it.key() != "end"_L1 && it.key() != "timezone"_L1)
            return R::failure({u"quiet_hours."_s + it.key().left(40),
                               u"unknown field 'quiet_hours.%1': a window has start, end and timezone"_s.arg(
                                   it.key().left(40))});
    }
    QuietWindow quiet;
    for (auto [name, target] : {std::pair{u"start"_s, &quiet.start}, std::pair{u"end"_s, &quiet.end}}) {
        const auto time = parseClock(w.value(name));
        if (!time)
            return R::failure(fieldError(u"quiet_hours."_s + name, u"a time HH:MM, 00:00 to 23:59"_s));
        *target = *time;
    }
    const auto zone = parseZone(w.value("timezone"_L1));
    if (!zone)
        return R::failure(
            fieldError(u"quiet_hours.timezone"_s, u"an IANA time zone such as Europe/Berlin or UTC"_s));
    quiet.zone = *zone;
    settings.quietHours = quiet;
    return settings;
}

UserSettings userSettingsFromStored(const QByteArray &json)
{
    if (json.isEmpty())
        return {};
    auto parsed = userSettingsFromJson(QJsonDocument::fromJson(json).object());
    if (!parsed) {
        qCWarning(lcServer).noquote() << "ignoring unreadable stored settings:" << parsed.error().message;
        return {};
    }
    return std::move(parsed).value();
}

UserSettingsCache::UserSettingsCache(Hub *hub)
    : m_hub(hub)
{
    if (!m_hub)
        return;
    // Every node delivers the "settings" event of a change made on any node: forget what it replaces. Direct:
    // the hub emits on the publishing thread (or the cluster bus's), and forgetting is quick.
    m_watch = QObject::connect(
        m_hub, &Hub::messagePublished, m_hub,
        [this](const Message &message) {
            if (message.type == u"settings"_s && isReadsChannel(message.channel))
                forget(message.channel.mid(Channels::ReadsPrefix.size()));
        },
        Qt::DirectConnection);
}

UserSettingsCache::~UserSettingsCache()
{
    QObject::disconnect(m_watch);
}

UserSettings UserSettingsCache::settingsFor(const QString &userId)
{
    const qint64 now = steadyMs();
    quint64 generation = 0;
    {
        QMutexLocker lock(&m_mutex);
        const auto it = m_entries.constFind(userId);
        if (it != m_entries.cend() &&
            now - it->loadedMs < std::chrono::duration_cast<std::chrono::milliseconds>(Lifetime).count())
            return it->settings;
        generation = m_generation;
    }
    History *history = m_hub ? m_hub->history() : nullptr;
    if (!history)
        return {};
    auto stored = history->userSettings(userId);
    if (!stored) {
        // Deliver rather than refuse: a message rung in quiet hours beats one lost. Not kept: asked again.
        qCWarning(lcServer).noquote()
            << "cannot read the settings of user" << userId << ":" << stored.error().message;
        return {};
    }
    const UserSettings settings = userSettingsFromStored(*stored);
    QMutexLocker lock(&m_mutex);
    if (generation == m_generation) {
        if (m_entries.size() >= MaxUsers)
            m_entries.clear();
        m_entries.insert(userId, Entry{settings, now});
    }
    return settings;
}

void UserSettingsCache::forget(const QString &userId)
{
    QMutexLocker lock(&m_mutex);
    ++m_generation;
    m_entries.remove(userId);
}

// Publisher's quiet-hours step: a message to a user's queue, published during that user's quiet hours below
// their minimum priority, is delivered and stored flagged quiet, so their clients neither ring nor pop up.
// Other channels are the clients' to judge (they know the same settings from reads:<id>).
void Publisher::applyQuietHours(Message &message)
{
    if (!isUserChannel(message.channel) || message.notification.quiet)
        return;
    const QString userId = message.channel.mid(Channels::UserPrefix.size());
    const int priority = message.notification.effectivePriority();
    if (priority >= NotificationFields::UrgentPriority)
        return; // never below a min_priority (at most 5): no need to look the settings up
    const UserSettings settings = m_settings.settingsFor(userId);
    const QDateTime when = message.timestamp.isValid() ? message.timestamp : QDateTime::currentDateTimeUtc();
    if (settings.isQuiet(priority, when))
        message.notification.quiet = true;
}

} // namespace Herald
