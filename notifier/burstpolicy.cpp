#include "burstpolicy.h"

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
constexpr int SummaryTitles = 3;

QString headline(const Message &message)
{
    return message.title.isEmpty() ? message.message.section(u'\n', 0, 0) : message.title;
}
} // namespace

BurstPolicy::BurstPolicy(int maxSingles, qint64 windowMs)
    : m_maxSingles(std::max(1, maxSingles))
    , m_windowMs(std::max<qint64>(0, windowMs))
{}

bool BurstPolicy::isNotification(const Message &message, const QDateTime &now)
{
    // Stored events on the same channels (withdrawn, read state, settings) are not for the person to see.
    if (message.type == "withdrawn"_L1 || message.type == "read"_L1 || message.type == "unread"_L1 ||
        message.type == "deleted"_L1 || message.type == "settings"_L1)
        return false;
    if (message.notification.isExpired(now))
        return false;
    return !message.title.isEmpty() || !message.message.isEmpty();
}

bool BurstPolicy::remember(qint64 id)
{
    if (id <= 0)
        return true; // nothing to tell it apart by: never a duplicate
    if (m_seen.contains(id))
        return false;
    m_seen.insert(id);
    m_seenOrder.push_back(id);
    while (m_seenOrder.size() > RememberedIds) {
        m_seen.remove(m_seenOrder.front());
        m_seenOrder.pop_front();
    }
    return true;
}

BurstPolicy::Decision BurstPolicy::decide(const QList<Message> &batch, bool muted, const QDateTime &now)
{
    Decision decision;
    QList<Message> candidates;
    for (const Message &message : batch) {
        if (!isNotification(message, now))
            continue;
        if (!remember(message.id))
            continue;
        if (muted || message.notification.quiet) {
            decision.suppressed.append(message.id);
            continue;
        }
        candidates.append(message);
    }
    if (candidates.isEmpty())
        return decision;

    while (!m_shownAt.empty() && m_shownAt.front().msecsTo(now) >= m_windowMs)
        m_shownAt.pop_front();
    const auto room = m_maxSingles - static_cast<int>(m_shownAt.size());
    if (candidates.size() <= room) {
        for (qsizetype i = 0; i < candidates.size(); ++i)
            m_shownAt.push_back(now);
        decision.singles = std::move(candidates);
        return decision;
    }

    // Too many at once: one pop-up says how many, and names the first few.
    std::sort(candidates.begin(), candidates.end(),
              [](const Message &a, const Message &b) { return a.id < b.id; });
    Summary summary;
    summary.count = static_cast<int>(candidates.size());
    summary.summary =
        summary.count == 1 ? u"1 missed notification"_s : u"%1 missed notifications"_s.arg(summary.count);
    QStringList lines;
    for (const Message &message : std::as_const(candidates)) {
        summary.ids.append(message.id);
        summary.priority = std::max(summary.priority, message.notification.effectivePriority());
        if (lines.size() < SummaryTitles)
            lines.append(headline(message));
    }
    if (summary.count > SummaryTitles)
        lines.append(u"and %1 more"_s.arg(summary.count - SummaryTitles));
    summary.body = lines.join(u'\n');
    decision.summary = std::move(summary);
    m_shownAt.push_back(now);
    return decision;
}

} // namespace Herald
