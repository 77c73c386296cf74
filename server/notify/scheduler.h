#pragma once

#include "schedulestore.h"

#include <QObject>
#include <QTimer>

#include <atomic>
#include <chrono>
#include <functional>

namespace Herald {

class Hub;

// Delivers scheduled publishes when their time comes (docs/protocol.md, "Scheduled delivery"). Lives on the
// main thread: a timer armed for the next due entry hands each to Publisher::deliver, which gives it its id
// then (so a resume stays gap-free) and removes its entry in the same commit. On a cluster every node runs
// one over the same Redis: each also looks every Poll for entries other nodes added (or left behind when they
// died), and RedisSchedule makes sure only one of them publishes each. add(), entry(), entries() and cancel()
// are thread-safe: the REST API and WebSocket sessions call them from the workers' threads.
class Scheduler : public QObject
{
    Q_OBJECT

public:
    // Look again at least this often; on a cluster, for other nodes' entries.
    static constexpr std::chrono::milliseconds Poll{1000};
    // How long a claimed entry stays this node's on a cluster (a node that dies holding it delays it so
    // much).
    static constexpr std::chrono::milliseconds Lease{10000};
    // After the store failed: try again in this long.
    static constexpr std::chrono::milliseconds Retry{2000};
    // Qt 6.4's QTimer::start(std::chrono) truncates to int ms: a far entry is looked at again after this.
    static constexpr std::chrono::milliseconds MaxWait{std::chrono::hours(1)};

    Scheduler(Hub *hub, ScheduleStore *store, bool clustered, QObject *parent = nullptr);

    // Arms the timer for what waits: after a restart, what fell due meanwhile goes at once.
    void start();
    void stop();

    Result<bool, StoreError> add(const ScheduledEntry &entry, const KeyedCommit *keyed = nullptr);
    Result<std::optional<ScheduledEntry>, StoreError> entry(const QString &handle);
    // Up to `limit` entries for which `wanted` is true, in due order; `more` says whether there are others.
    Result<QList<ScheduledEntry>, StoreError>
    entries(const std::function<bool(const ScheduledEntry &)> &wanted, int limit, bool *more);
    // False if there was no such entry (unknown, delivered, cancelled).
    Result<bool, StoreError> cancel(const QString &handle);

Q_SIGNALS:
    // A scheduled publish was delivered with this id.
    void delivered(const QString &handle, qint64 id);

private:
    void deliverDue();
    // Arms the timer for the next entry (or the next poll), or for a retry after a failure.
    void arm(bool retrySoon = false);
    // Brings the timer forward to atMs if it is set for later (an entry just added).
    void armFor(qint64 atMs);

    Hub *m_hub;
    ScheduleStore *m_store;
    const bool m_clustered;
    QTimer m_timer;
    qint64 m_armedForMs = 0; // when the timer fires, in ms since the epoch (main thread)
    bool m_running = false;
};

} // namespace Herald
