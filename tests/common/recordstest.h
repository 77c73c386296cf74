#pragma once

// Small helpers of the suites that write model records straight to a RecordStore (the RecordStore contract,
// tst_redisrecords).

#include "historytest.h"
#include "recordstore.h"

#include <QDebug>
#include <QJsonObject>
#include <QList>
#include <QString>

namespace HeraldTest {

// An upsert of `model` record `id` with these fields (the id goes in as a field too).
inline Herald::RecordWrite upsertWrite(const QString &model, qint64 id, QJsonObject fields)
{
    fields.insert(QStringLiteral("id"), id);
    return {Herald::RecordWrite::Op::Upsert, model, id, fields, {}};
}

inline Herald::RecordWrite userWrite(qint64 id, const QString &email,
                                     const QString &name = QStringLiteral("Someone"))
{
    using namespace Qt::StringLiterals;
    return upsertWrite(u"users"_s, id, {{"email"_L1, email}, {"name"_L1, name}, {"is_active"_L1, true}});
}

inline Herald::RecordWrite postWrite(qint64 id, qint64 userId,
                                     const QString &title = QStringLiteral("A post"))
{
    using namespace Qt::StringLiterals;
    return upsertWrite(u"posts"_s, id,
                       {{"user_id"_L1, userId}, {"title"_L1, title}, {"published"_L1, false}});
}

inline Herald::RecordWrite deleteWrite(const QString &model, qint64 id)
{
    return {Herald::RecordWrite::Op::Delete, model, id, {}, {}};
}

// The records' ids, in the order given.
inline QList<qint64> idsOf(const QList<QJsonObject> &records)
{
    QList<qint64> ids;
    for (const QJsonObject &o : records)
        ids.append(o.value(QLatin1String("id")).toInteger());
    return ids;
}

// Writes the record; false, with a warning, if it was refused.
inline bool write(Herald::RecordStore &store, const Herald::RecordWrite &w)
{
    auto r = store.writeRecord(w);
    if (!r)
        qWarning().noquote() << "write failed:" << r.error().message;
    return bool(r);
}

} // namespace HeraldTest
