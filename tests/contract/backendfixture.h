#pragma once

// The hooks a contract backend (historybackend.h, recordsbackend.h) shares, and the two ways they are filled:
// OnRedis (one redis-server for the run, a key prefix of each test's own) and OnSqlite (a temporary data dir
// of each test's own). Failures inside them are reported with QTest's macros.

#include <QString>

namespace HeraldTest {

class BackendFixture
{
public:
    virtual ~BackendFixture() = default;

    // Once per run (a Redis server is started here), and before and after each test.
    virtual void initTestCase() {}
    virtual void cleanupTestCase() {}
    // Makes the next open() reach a new, empty store: a new temporary data dir, or a new Redis key prefix.
    virtual void init() = 0;
    // After each test, with everything the test opened destroyed: checks nothing was left open.
    virtual void cleanup() {}
};

} // namespace HeraldTest
