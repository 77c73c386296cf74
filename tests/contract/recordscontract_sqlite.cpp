// The RecordStore contract (recordscontract.h) against Store: SQLite in a temporary data dir of each test's
// own.

#include "recordscontract.h"

#include "onsqlite.h"
#include "store.h"

#include <QTest>

using namespace Herald;

namespace {

class SqliteBackend : public HeraldTest::OnSqlite<HeraldTest::RecordsBackend>
{
public:
    std::unique_ptr<HeraldTest::OpenRecords> open() override
    {
        return HeraldTest::openedRecords(openStore(HeraldTest::recordsConfig()));
    }
    bool sharedLock() const override { return false; }
};

} // namespace

int main(int argc, char **argv)
{
    return runRecordsContract(std::make_unique<SqliteBackend>(), argc, argv);
}
