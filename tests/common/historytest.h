#pragma once

// Small helpers of the suites that read stored messages (the History contract, tst_store, tst_redishistory).

#include "history.h"

#include <QByteArray>
#include <QDateTime>
#include <QList>

namespace HeraldTest {

// The error text of a failed result, for QVERIFY2 (which evaluates its message even on success).
template<class T>
QByteArray why(const Herald::Result<T, Herald::StoreError> &r)
{
    return r ? QByteArray("ok") : r.error().message.toUtf8();
}

inline QList<qint64> idsOf(const QList<Herald::Message> &messages)
{
    QList<qint64> ids;
    for (const Herald::Message &m : messages)
        ids.append(m.id);
    return ids;
}

inline QList<qint64> idsOf(const QList<Herald::StoredFrame> &frames)
{
    QList<qint64> ids;
    for (const Herald::StoredFrame &f : frames)
        ids.append(f.id);
    return ids;
}

// A notification on the channel, at `timestamp`, for a history to store (it gives the id).
inline Herald::Message makeMessage(const QString &channel,
                                   const QDateTime &timestamp = QDateTime::currentDateTimeUtc())
{
    Herald::Message m;
    m.channel = channel;
    m.type = QStringLiteral("notification");
    m.timestamp = timestamp;
    m.message = QStringLiteral("message on %1").arg(channel);
    return m;
}

// first, first + 1, …, last.
inline QList<qint64> range(qint64 first, qint64 last)
{
    QList<qint64> ids;
    for (qint64 id = first; id <= last; ++id)
        ids.append(id);
    return ids;
}

} // namespace HeraldTest
