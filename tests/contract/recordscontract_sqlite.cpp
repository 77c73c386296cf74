// The RecordStore contract (recordscontract.h) against Store: SQLite in a temporary data dir of each test's
// own.

#include "recordscontract.h"

#include "onsqlite.h"
#include "store.h"

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

class SqliteBackend : public HeraldTest::OnSqlite<HeraldTest::RecordsBackend>
{
public:
    std::unique_ptr<HeraldTest::OpenRecords> open() override
    {
        ServerConfig c;
        c.pruneInterval = std::chrono::hours(1);
        auto store = openStore(c);
        return store ? std::make_unique<OpenStore>(std::move(store)) : nullptr;
    }
    bool sharedLock() const override { return false; }
};

} // namespace

int main(int argc, char **argv)
{
    return runRecordsContract(std::make_unique<SqliteBackend>(), argc, argv);
}
