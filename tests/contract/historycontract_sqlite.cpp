// The History contract (historycontract.h) against Store: SQLite in a temporary data dir of each test's own.

#include "historycontract.h"

#include "onsqlite.h"
#include "store.h"
#include "storeconnections.h"

#include <QSqlDatabase>
#include <QTest>

#include <atomic>

using namespace Qt::StringLiterals;
using namespace Herald;
using HeraldTest::storeConnectionCount;

namespace {

class SqliteBackend : public HeraldTest::OnSqlite<HeraldTest::HistoryBackend>
{
public:
    void init() override
    {
        OnSqlite::init();
        m_lastId = 0;
    }
    std::unique_ptr<History> open(const ServerConfig &config) override { return openStore(config); }
    // The hub hands out the ids on one node: here, the test's own counter.
    Result<qint64, StoreError> store(History &history, const Message &message) override
    {
        Message m = message;
        m.id = ++m_lastId;
        auto r = static_cast<Store &>(history).insert(m);
        if (!r)
            return Result<qint64, StoreError>::failure(r.error());
        return m.id;
    }
    void close(History &history) override { static_cast<Store &>(history).close(); }
    void releaseThreadConnection(History &history) override
    {
        static_cast<Store &>(history).releaseThreadConnection();
    }
    int connectionCount(History &) override { return storeConnectionCount(); }
    bool countRetentionOnStore() const override { return false; }
    bool sharedSequence() const override { return false; }

private:
    std::atomic<qint64> m_lastId{0};
};

} // namespace

int main(int argc, char **argv)
{
    return runHistoryContract(std::make_unique<SqliteBackend>(), argc, argv);
}
