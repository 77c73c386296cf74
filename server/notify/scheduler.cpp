#include "scheduler.h"

#include "hub.h"
#include "logging.h"
#include "publisher.h"

#include <QDateTime>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
// Entries claimed at a time; a pass takes a few batches, then lets the main thread do its other work.
constexpr int Batch = 50;
constexpr int BatchesPerPass = 10;
} // namespace

Scheduler::Scheduler(Hub *hub, ScheduleStore *store, bool clustered, QObject *parent)
    : QObject(parent)
    , m_hub(hub)
    , m_store(store)
    , m_clustered(clustered)
{
    m_timer.setSingleShot(true);
    // A coarse timer may fire 5 % early, which would only mean another pass: on time is the point here.
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, &Scheduler::deliverDue);
}

void Scheduler::start()
{
    m_running = true;
    arm();
}

void Scheduler::stop()
{
    m_running = false;
    m_timer.stop();
}

Result<bool, StoreError> Scheduler::add(const ScheduledEntry &entry, const KeyedCommit *keyed)
{
    auto added = m_store->add(entry, keyed);
    if (added) {
        const qint64 at = entry.at.toMSecsSinceEpoch();
        QMetaObject::invokeMethod(
            this, [this, at] { armFor(at); }, Qt::QueuedConnection);
    }
    return added;
}

Result<std::optional<ScheduledEntry>, StoreError> Scheduler::entry(const QString &handle)
{
    return m_store->entry(handle);
}

Result<QList<ScheduledEntry>, StoreError>
Scheduler::entries(const std::function<bool(const ScheduledEntry &)> &wanted, int limit, bool *more)
{
    using R = Result<QList<ScheduledEntry>, StoreError>;
    // The store lists them all in due order; the caller's filter (what it may write, a channel) picks.
    QList<ScheduledEntry> out;
    *more = false;
    constexpr int Page = 200;
    for (int offset = 0;; offset += Page) {
        auto page = m_store->entries(offset, Page);
        if (!page)
            return R::failure(page.error());
        for (const ScheduledEntry &e : std::as_const(*page)) {
            if (!wanted(e))
                continue;
            if (out.size() == limit) {
                *more = true;
                return out;
            }
            out.append(e);
        }
        if (page->size() < Page)
            return out;
    }
}

Result<bool, StoreError> Scheduler::cancel(const QString &handle)
{
    return m_store->remove(handle);
}

void Scheduler::deliverDue()
{
    if (!m_running)
        return;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    bool retrySoon = false;
    for (int batch = 0; batch < BatchesPerPass && !retrySoon; ++batch) {
        auto due = m_store->claimDue(now, Batch, Lease);
        if (!due) {
            qCWarning(lcServer).noquote() << "cannot read the scheduled publishes:" << due.error().message;
            retrySoon = true;
            break;
        }
        for (const ScheduledEntry &e : std::as_const(*due)) {
            Message m = e.message;
            m.id = 0;
            m.timestamp = QDateTime(); // stamped when it is published, like any message
            const PublishAnswer answer =
                m_hub->publisher().deliver(std::move(m), e.handle, e.excludeClientId);
            if (answer) {
                qCDebug(lcServer).noquote()
                    << "delivered scheduled publish" << e.handle << "as id" << answer->id;
                Q_EMIT delivered(e.handle, answer->id);
            } else if (answer.error().store && answer.error().store->kind == StoreError::Kind::Gone) {
                // Cancelled meanwhile, or published by another node whose claim this one outlived.
            } else if (answer.error().store) {
                // Still in the schedule: tried again (here after Retry, on a cluster by whichever node
                // claims it once the lease ends). Redis's "may have been published" is safe to retry: the
                // entry went with the publish if it did.
                qCWarning(lcServer).noquote()
                    << "cannot deliver scheduled publish" << e.handle << "yet:" << answer.error().message;
                retrySoon = true;
            } else {
                // Refused for what it is (a `replaces` that no longer resolves): it never will be delivered.
                qCWarning(lcServer).noquote() << "dropping scheduled publish" << e.handle << "on"
                                              << e.message.channel << ":" << answer.error().message;
                m_store->remove(e.handle);
            }
        }
        if (due->size() < Batch)
            break;
    }
    arm(retrySoon);
}

void Scheduler::arm(bool retrySoon)
{
    if (!m_running)
        return;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    qint64 wait = MaxWait.count();
    if (m_clustered)
        wait = Poll.count();
    if (retrySoon) {
        wait = std::min(wait, qint64(Retry.count()));
    } else if (auto next = m_store->nextDue(); !next) {
        qCWarning(lcServer).noquote() << "cannot read the scheduled publishes:" << next.error().message;
        wait = std::min(wait, qint64(Retry.count()));
    } else if (*next) {
        wait = std::clamp(**next - now, qint64(0), wait);
    }
    m_armedForMs = now + wait;
    m_timer.start(std::chrono::milliseconds(wait));
}

void Scheduler::armFor(qint64 atMs)
{
    if (!m_running || (m_timer.isActive() && m_armedForMs <= atMs))
        return;
    const qint64 wait = std::max<qint64>(0, atMs - QDateTime::currentMSecsSinceEpoch());
    m_armedForMs = atMs;
    m_timer.start(std::chrono::milliseconds(std::min<qint64>(wait, MaxWait.count())));
}

} // namespace Herald
