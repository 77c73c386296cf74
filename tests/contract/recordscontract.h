#pragma once

// The RecordStore contract: what every RecordStore (server/storage/recordstore.h) must do, written once and
// compiled into one test executable a backend (tst_recordscontract_sqlite, tst_recordscontract_redis), each
// with its RecordsBackend. What only a cluster has (nodes sharing records, the fenced lock, records written
// with an event, Redis keys) stays in tst_redisrecords; tst_models tests the records through the REST API.

#include "recordsbackend.h"

#include <QObject>

#include <memory>

class tst_RecordsContract : public QObject
{
    Q_OBJECT

public:
    explicit tst_RecordsContract(std::unique_ptr<HeraldTest::RecordsBackend> backend);
    ~tst_RecordsContract() override;

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();
    void cleanup();

    void createReadUpdateDelete();
    void notFound();
    void idsPerModelNeverReused();
    void listOrderLimitOffset_data();
    void listOrderLimitOffset();
    void filters_data();
    void filters();
    void answersAfterChanges();
    void countRecords_data();
    void countRecords();
    void indexFollowsUpdatesAndDeletes();
    void referencesCountedForDelete();
    void closedRefuses();

private:
    std::unique_ptr<HeraldTest::OpenRecords> open();

    std::unique_ptr<HeraldTest::RecordsBackend> m_backend;
};

// The main() of a backend's executable.
int runRecordsContract(std::unique_ptr<HeraldTest::RecordsBackend> backend, int argc, char **argv);
