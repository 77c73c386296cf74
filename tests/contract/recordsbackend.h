#pragma once

// What the RecordStore contract (recordscontract.h) needs of one backend beyond the RecordStore interface: a
// fresh, empty set of records per test, opened and closed. One implementation a backend:
// recordscontract_sqlite.cpp (Store), recordscontract_redis.cpp (RedisRecords, inside a RedisHistory).
// Failures inside these calls are reported with QTest's macros, so the caller checks
// QTest::currentTestFailed() after the void ones.

#include "backendfixture.h"
#include "recordstore.h"
#include "serverconfig.h"

#include <QString>

#include <memory>
#include <utility>

namespace HeraldTest {

// One opened store of records; destroyed, it is closed.
class OpenRecords
{
public:
    virtual ~OpenRecords() = default;
    virtual Herald::RecordStore &records() = 0;
    virtual void close() = 0;
};

// The records of an opened Store or RedisHistory (`Holder`), closed with it.
template<class Holder>
class OpenRecordsOf : public OpenRecords
{
public:
    explicit OpenRecordsOf(std::unique_ptr<Holder> holder)
        : m_holder(std::move(holder))
    {}
    Herald::RecordStore &records() override { return *m_holder->records(); }
    void close() override { m_holder->close(); }

private:
    std::unique_ptr<Holder> m_holder;
};

// What open() returns for an opened Store or RedisHistory: null where `holder` is (it did not open).
template<class Holder>
std::unique_ptr<OpenRecords> openedRecords(std::unique_ptr<Holder> holder)
{
    return holder ? std::make_unique<OpenRecordsOf<Holder>>(std::move(holder)) : nullptr;
}

// What the records are opened with: Herald's defaults, but retention runs when a test calls prune() only.
inline Herald::ServerConfig recordsConfig()
{
    Herald::ServerConfig c;
    c.pruneInterval = std::chrono::hours(1);
    return c;
}

// The fixture hooks (initTestCase … cleanup) are BackendFixture's: init() makes new, empty records.
class RecordsBackend : public BackendFixture
{
public:
    // Opens the test's records; every call within one test reaches the same data, as a restart would. Null,
    // with a warning, if they do not open.
    virtual std::unique_ptr<OpenRecords> open() = 0;

    // Where the two backends differ on purpose: the lock of lockChanges(). A cluster's is a lease in Redis,
    // with a token that fences the writes made under it, and it cannot be had while Redis is away (or the
    // store closed). One server's nodes are its threads, which ModelApi's in-process mutex already
    // serialises: Store's lock is empty (no token, nothing to release) and always granted.
    virtual bool sharedLock() const = 0;

    // Backend-specific proof that an index follows the records: `values` distinct emails are indexed. Redis
    // keeps a key a value; SQLite queries the table itself, so there is nothing more to check.
    virtual void checkEmailIndex(qint64 values) { Q_UNUSED(values); }
};

} // namespace HeraldTest
