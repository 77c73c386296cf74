#pragma once

// The SQLite connections Store holds open, every thread's (each is named herald-store-…): tests check that
// none is left once a store is closed or gone.

#include <QSqlDatabase>
#include <QStringList>

namespace HeraldTest {

inline int storeConnectionCount()
{
    int n = 0;
    for (const QString &name : QSqlDatabase::connectionNames()) {
        if (name.startsWith(QLatin1String("herald-store-")))
            ++n;
    }
    return n;
}

} // namespace HeraldTest
