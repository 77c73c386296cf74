// The RecordStore contract (recordscontract.h) against Store: SQLite in a temporary data dir of each test's
// own.

#include "recordscontract.h"

#include "store.h"
#include "storeconnections.h"

#include <QTemporaryDir>
#include <QTest>

using namespace Herald;

namespace {

class OpenStore : public HeraldTest::OpenRecords
{
public:
    explicit OpenStore(std::unique_ptr<Store> store)
        : m_store(std::move(store))
    {}
    RecordStore &records() override { return *m_store->records(); }
    void close() override { m_store->close(); }

private:
    std::unique_ptr<Store> m_store;
};

class SqliteBackend : public HeraldTest::RecordsBackend
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
        QCOMPARE(HeraldTest::storeConnectionCount(), 0);
    }
    std::unique_ptr<HeraldTest::OpenRecords> open() override
    {
        ServerConfig c;
        c.dataDir = m_dir->path();
        c.pruneInterval = std::chrono::hours(1);
        auto store = std::make_unique<Store>(c);
        if (!store->open()) {
            qWarning().noquote() << "Store did not open:" << store->errorString();
            return nullptr;
        }
        return std::make_unique<OpenStore>(std::move(store));
    }
    bool sharedLock() const override { return false; }

private:
    std::unique_ptr<QTemporaryDir> m_dir;
};

} // namespace

int main(int argc, char **argv)
{
    return runRecordsContract(std::make_unique<SqliteBackend>(), argc, argv);
}
