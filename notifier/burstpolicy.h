#pragma once

#include "message.h"

#include <QDateTime>
#include <QList>
#include <QSet>
#include <QString>

#include <deque>
#include <optional>

namespace Herald {

// Decides what of a batch of incoming messages pops up: each alone while they come one at a time, one summary
// ("12 missed notifications") when many come at once (a resume after an outage replays them together) or
// when too many popped up lately. Never the same message id twice; quiet messages, muted state, expired
// messages and events that are not notifications (withdrawn, read state) show nothing. Pure: the caller
// passes the time, so the rules are testable without a clock.
class BurstPolicy
{
public:
    struct Summary
    {
        int count = 0;
        QString summary; // "12 missed notifications"
        QString body;    // the first titles, then "and N more"
        int priority = 0;
        QList<qint64> ids;
    };
    struct Decision
    {
        QList<Message> singles; // pop up each
        std::optional<Summary> summary;
        QList<qint64> suppressed; // seen for the first time but not shown (quiet, muted)
    };

    // At most `maxSingles` pop-ups within `window`; a batch that would go past it becomes one summary.
    explicit BurstPolicy(int maxSingles = 3, qint64 windowMs = 10'000);

    Decision decide(const QList<Message> &batch, bool muted, const QDateTime &now);

    // Whether a message is something to notify about at all (not an event, not expired, has text).
    static bool isNotification(const Message &message, const QDateTime &now);
    int maxSingles() const { return m_maxSingles; }
    // How many ids are remembered against duplicates: the oldest are forgotten past it.
    static constexpr int RememberedIds = 10'000;

private:
    bool remember(qint64 id);

    int m_maxSingles;
    qint64 m_windowMs;
    QSet<qint64> m_seen;
    std::deque<qint64> m_seenOrder;
    std::deque<QDateTime> m_shownAt; // pop-ups within the window (a summary counts as one)
};

} // namespace Herald
