#pragma once

// What the notifier's suites share: messages made up for a test.

#include "message.h"

#include <QDateTime>
#include <QString>

namespace HeraldTest {

// A notification on `channel` with id, title "Title <id>", text "Text <id>" and a priority (0 = default).
inline Herald::Message notification(qint64 id, const QString &channel = QStringLiteral("user:1"),
                                    int priority = 0)
{
    Herald::Message m;
    m.id = id;
    m.channel = channel;
    m.type = QStringLiteral("message");
    m.timestamp = QDateTime::fromSecsSinceEpoch(1'800'000'000 + id, Qt::UTC);
    m.title = QStringLiteral("Title %1").arg(id);
    m.message = QStringLiteral("Text %1").arg(id);
    m.notification.priority = priority;
    return m;
}

} // namespace HeraldTest
