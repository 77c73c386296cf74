#pragma once

#include <QAbstractEventDispatcher>
#include <QAtomicInt>
#include <QHash>

#include <set>
#include <utility>
#include <vector>

class QSocketNotifier;

namespace Herald {

// An event dispatcher on epoll, for the worker threads that own thousands of sockets.
//
// Qt 6.4's own dispatchers do not fit there: the UNIX one hands every registered descriptor to ppoll() on
// every pass of the event loop (measured: 18% of a worker's CPU with 5,000 WebSockets, one published message
// at a time), and the glib one collapses at a few thousand. No library in Debian provides one, hence this.
// The semantics follow QEventDispatcherUNIX: level-triggered notifiers, posted events first on every pass,
// timers by due time, wakeUp() from any thread through an eventfd.
class EpollDispatcher final : public QAbstractEventDispatcher
{
    Q_OBJECT

public:
    explicit EpollDispatcher(QObject *parent = nullptr);
    ~EpollDispatcher() override;

    bool processEvents(QEventLoop::ProcessEventsFlags flags) override;

    void registerSocketNotifier(QSocketNotifier *notifier) override;
    void unregisterSocketNotifier(QSocketNotifier *notifier) override;

    void registerTimer(int timerId, qint64 interval, Qt::TimerType timerType, QObject *object) override;
    bool unregisterTimer(int timerId) override;
    bool unregisterTimers(QObject *object) override;
    QList<TimerInfo> registeredTimers(QObject *object) const override;
    int remainingTime(int timerId) override;

    void wakeUp() override;
    void interrupt() override;

private:
    struct Watched
    {
        QSocketNotifier *read = nullptr;
        QSocketNotifier *write = nullptr;
        QSocketNotifier *exception = nullptr;
        quint32 events = 0; // what epoll watches now
    };
    struct Timer
    {
        QObject *object = nullptr;
        qint64 intervalMs = 0;
        Qt::TimerType type = Qt::CoarseTimer;
        qint64 dueMs = 0;
        bool firing = false; // in its timerEvent(): not fired again from a nested event loop
    };

    void updateWatch(int fd, Watched &watched);
    // -1: no timer; 0: one is due.
    int msToNextTimer() const;
    int activateTimers();
    void schedule(int timerId, Timer &timer, qint64 dueMs);

    int m_epoll = -1;
    int m_wakeFd = -1;
    QAtomicInt m_wakeUps;   // 1 while a wake-up is written and not yet read
    QAtomicInt m_interrupt; // interrupt(): the current processEvents() returns
    QHash<int, Watched> m_watched;
    // Notifiers to activate in this pass; an entry becomes null when its notifier is unregistered meanwhile.
    std::vector<QSocketNotifier *> m_activating;
    QHash<int, Timer> m_timers;
    std::set<std::pair<qint64, int>> m_timerQueue; // (due, id)
};

} // namespace Herald
