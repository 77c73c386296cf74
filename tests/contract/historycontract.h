#pragma once

// The History contract: what every History (server/storage/history.h) must do, written once and compiled
// into one test executable a backend (tst_historycontract_sqlite, tst_historycontract_redis), each with its
// HistoryBackend. What only one backend has (SQLite files and migrations, Redis scripts, the bus, lost
// answers…) stays in that backend's own suite (tst_store, tst_redishistory).

#include "historybackend.h"

#include <QObject>

#include <memory>

namespace Herald {
struct Message;
}

class tst_HistoryContract : public QObject
{
    Q_OBJECT

public:
    explicit tst_HistoryContract(std::unique_ptr<HeraldTest::HistoryBackend> backend);
    ~tst_HistoryContract() override;

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();
    void cleanup();

    void messageFieldsRoundTrip();
    void historyPaging_data();
    void historyPaging();

    void replayMergesChannelsInIdOrder();
    void replayFromTheFutureNotRecovered();
    void replayLimitKeepsNewest();
    void replayNoChannels();

    void countRetention_data();
    void countRetention();
    void countRetentionCountsShown();
    void pruneByAge();
    void pruneRulesFirstMatchWins();
    void pruneEverythingStillKnown();
    void pruneRunsOnTimer_data();
    void pruneRunsOnTimer();

    void readFlags();
    void expiredHidden();
    void supersededHidden_data();
    void supersededHidden();
    void withdrawnHidden();
    void readListsUnreadAndDelete();
    void markReadUpTo();
    void userSettingsKept();
    void channelsSummary();
    void channelsArePaged();

    void threadEndingWithoutRelease();
    void concurrentStoresAndReplays();
    void closeRefuses();

private:
    // The tests' base configuration: retention runs when a test calls prune(), not on its own halfway
    // through.
    static Herald::ServerConfig config();
    std::unique_ptr<Herald::History> open(const Herald::ServerConfig &config);
    // Stores the message; its id, or -1 (with a warning) if it was refused.
    qint64 store(Herald::History &history, const Herald::Message &message);

    std::unique_ptr<HeraldTest::HistoryBackend> m_backend;
};

// The main() of a backend's executable.
int runHistoryContract(std::unique_ptr<HeraldTest::HistoryBackend> backend, int argc, char **argv);
