#pragma once

// A contract backend's fixture on SQLite: a temporary data dir of each test's own, and after the test no
// store connection left (every Store destroyed removes its connections; a leftover means a leak).

#include "store.h"
#include "storeconnections.h"

#include <QDebug>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

namespace HeraldTest {

template<class Backend>
class OnSqlite : public Backend
{
public:
    void init() override
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
    }
    void cleanup() override
    {
        m_dir.reset();
        QCOMPARE(storeConnectionCount(), 0);
    }

protected:
    // A Store on the test's data dir, opened, with `config` otherwise; null, with a warning, if it does not
    // open.
    std::unique_ptr<Herald::Store> openStore(Herald::ServerConfig config)
    {
        config.dataDir = m_dir->path();
        auto store = std::make_unique<Herald::Store>(config);
        if (!store->open()) {
            qWarning().noquote() << "Store did not open:" << store->errorString();
            return nullptr;
        }
        return store;
    }

private:
    std::unique_ptr<QTemporaryDir> m_dir;
};

} // namespace HeraldTest
