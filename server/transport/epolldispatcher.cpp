#include "epolldispatcher.h"

#include "logging.h"

#include <QCoreApplication>
#include <QSocketNotifier>

#include <chrono>
#include <climits>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace Herald {

namespace {
constexpr int MaxEventsPerPass = 256;

qint64 nowMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
} // namespace

EpollDispatcher::EpollDispatcher(QObject *parent)
    : QAbstractEventDispatcher(parent)
{
    m_epoll = ::epoll_create1(EPOLL_CLOEXEC);
    m_wakeFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m_epoll < 0 || m_wakeFd < 0)
        qFatal("epoll_create1/eventfd failed: %s", strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = m_wakeFd;
    ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_wakeFd, &ev);
}

EpollDispatcher::~EpollDispatcher()
{
    ::close(m_wakeFd);
    ::close(m_epoll);
}

void EpollDispatcher::registerSocketNotifier(QSocketNotifier *notifier)
{
    const int fd = int(notifier->socket());
    Watched &w = m_watched[fd];
    switch (notifier->type()) {
    case QSocketNotifier::Read:
        w.read = notifier;
        break;
    case QSocketNotifier::Write:
        w.write = notifier;
        break;
    case QSocketNotifier::Exception:
        w.exception = notifier;
        break;
    }
    updateWatch(fd, w);
}

void EpollDispatcher::unregisterSocketNotifier(QSocketNotifier *notifier)
{
    const int fd = int(notifier->socket());
    for (QSocketNotifier *&pending : m_activating) {
        if (pending == notifier)
            pending = nullptr;
    }
    const auto it = m_watched.find(fd);
    if (it == m_watched.end())
        return;
    if (it->read == notifier)
        it->read = nullptr;
    if (it->write == notifier)
        it->write = nullptr;
    if (it->exception == notifier)
        it->exception = nullptr;
    updateWatch(fd, *it);
    if (!it->read && !it->write && !it->exception)
        m_watched.erase(it);
}

void EpollDispatcher::updateWatch(int fd, Watched &w)
{
    const quint32 events = (w.read ? quint32(EPOLLIN) : 0u) | (w.write ? quint32(EPOLLOUT) : 0u) |
                           (w.exception ? quint32(EPOLLPRI) : 0u);
    if (events == w.events)
        return;
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    int r = 0;
    if (events == 0) {
        r = ::epoll_ctl(m_epoll, EPOLL_CTL_DEL, fd, nullptr);
        if (r < 0 && (errno == ENOENT || errno == EBADF))
            r = 0; // already gone: closed descriptors leave epoll by themselves
    } else if (w.events == 0) {
        r = ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev);
        if (r < 0 && errno == EEXIST)
            r = ::epoll_ctl(m_epoll, EPOLL_CTL_MOD, fd, &ev);
    } else {
        r = ::epoll_ctl(m_epoll, EPOLL_CTL_MOD, fd, &ev);
        if (r < 0 && errno == ENOENT) // the descriptor was closed and its number reused
            r = ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev);
    }
    if (r < 0)
        qCWarning(lcServer, "epoll_ctl on descriptor %d: %s", fd, strerror(errno));
    w.events = events;
}

bool EpollDispatcher::processEvents(QEventLoop::ProcessEventsFlags flags)
{
    m_interrupt.storeRelaxed(0);
    Q_EMIT awake();
    // Posted events first, as QEventDispatcherUNIX does. Posting from anywhere calls wakeUp(), so an event
    // posted from now on makes the wait below return at once.
    QCoreApplication::sendPostedEvents();
    if (m_interrupt.loadRelaxed())
        return false;

    const bool includeTimers = !(flags & QEventLoop::X11ExcludeTimers);
    // Unlike Qt's dispatcher, excluded notifiers still wake the wait (epoll keeps reporting them): a loop run
    // with ExcludeSocketNotifiers and unread data would spin. Nothing in Herald runs one.
    const bool includeNotifiers = !(flags & QEventLoop::ExcludeSocketNotifiers);
    int timeout = 0;
    if (flags & QEventLoop::WaitForMoreEvents)
        timeout = includeTimers ? msToNextTimer() : -1;
    if (timeout != 0)
        Q_EMIT aboutToBlock();
    epoll_event events[MaxEventsPerPass];
    int n = ::epoll_wait(m_epoll, events, MaxEventsPerPass, timeout);
    if (n < 0) {
        if (errno != EINTR)
            qCWarning(lcServer, "epoll_wait: %s", strerror(errno));
        n = 0;
    }
    if (timeout != 0)
        Q_EMIT awake();

    int handled = 0;
    m_activating.clear();
    for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        const quint32 got = events[i].events;
        if (fd == m_wakeFd) {
            eventfd_t value = 0;
            ::eventfd_read(m_wakeFd, &value);
            m_wakeUps.storeRelease(0);
            ++handled;
            continue;
        }
        if (!includeNotifiers)
            continue;
        const auto it = m_watched.constFind(fd);
        if (it == m_watched.cend())
            continue;
        // As QEventDispatcherUNIX: a hang-up or an error wakes every notifier on the descriptor.
        const quint32 failed = got & (EPOLLHUP | EPOLLERR);
        if (it->read && (got & EPOLLIN || failed))
            m_activating.push_back(it->read);
        if (it->write && (got & EPOLLOUT || failed))
            m_activating.push_back(it->write);
        if (it->exception && (got & EPOLLPRI || failed))
            m_activating.push_back(it->exception);
    }
    // Indexes, not iterators: a handler may unregister (null out) entries, and a nested loop may clear it.
    for (size_t i = 0; i < m_activating.size(); ++i) {
        QSocketNotifier *notifier = m_activating[i];
        if (!notifier)
            continue;
        m_activating[i] = nullptr;
        QEvent event(QEvent::SockAct);
        QCoreApplication::sendEvent(notifier, &event);
        ++handled;
    }
    m_activating.clear();
    if (includeTimers)
        handled += activateTimers();
    return handled > 0;
}

void EpollDispatcher::registerTimer(int timerId, qint64 interval, Qt::TimerType timerType, QObject *object)
{
    Timer &t = m_timers[timerId];
    t.object = object;
    t.intervalMs = std::max<qint64>(0, interval);
    t.type = timerType;
    t.firing = false;
    schedule(timerId, t, nowMs() + t.intervalMs);
}

void EpollDispatcher::schedule(int timerId, Timer &timer, qint64 dueMs)
{
    m_timerQueue.erase({timer.dueMs, timerId});
    timer.dueMs = dueMs;
    m_timerQueue.insert({dueMs, timerId});
}

bool EpollDispatcher::unregisterTimer(int timerId)
{
    const auto it = m_timers.find(timerId);
    if (it == m_timers.end())
        return false;
    m_timerQueue.erase({it->dueMs, timerId});
    m_timers.erase(it);
    return true;
}

bool EpollDispatcher::unregisterTimers(QObject *object)
{
    bool any = false;
    for (auto it = m_timers.begin(); it != m_timers.end();) {
        if (it->object == object) {
            m_timerQueue.erase({it->dueMs, it.key()});
            it = m_timers.erase(it);
            any = true;
        } else {
            ++it;
        }
    }
    return any;
}

QList<QAbstractEventDispatcher::TimerInfo> EpollDispatcher::registeredTimers(QObject *object) const
{
    QList<TimerInfo> list;
    for (auto it = m_timers.cbegin(); it != m_timers.cend(); ++it) {
        if (it->object == object)
            list.append(TimerInfo(it.key(), int(it->intervalMs), it->type));
    }
    return list;
}

int EpollDispatcher::remainingTime(int timerId)
{
    const auto it = m_timers.constFind(timerId);
    if (it == m_timers.cend())
        return -1;
    return int(std::max<qint64>(0, it->dueMs - nowMs()));
}

int EpollDispatcher::msToNextTimer() const
{
    for (const auto &[due, id] : m_timerQueue) {
        if (m_timers.value(id).firing)
            continue; // a nested loop inside its handler must not wait for it
        return int(std::clamp<qint64>(due - nowMs(), 0, INT_MAX));
    }
    return -1;
}

int EpollDispatcher::activateTimers()
{
    const qint64 now = nowMs();
    // The due ones as of now, each fired once in this pass (a zero interval timer is due again at once).
    std::vector<std::pair<qint64, int>> due;
    for (const auto &entry : m_timerQueue) {
        if (entry.first > now)
            break;
        due.push_back(entry);
    }
    int fired = 0;
    for (const auto &[when, id] : due) {
        auto it = m_timers.find(id);
        // Unregistered by an earlier handler in this pass, or in its own handler. A different due time means
        // it was restarted meanwhile (QTimer::start() again, or a new timer given the freed id): not due.
        if (it == m_timers.end() || it->firing || it->dueMs != when)
            continue;
        // Next due time first: the handler may restart or kill it. A timer that fell behind does not fire
        // for every interval it missed (as in QTimerInfoList).
        qint64 next = it->dueMs + it->intervalMs;
        if (next < now)
            next = now + it->intervalMs;
        schedule(id, *it, next);
        it->firing = true;
        QObject *object = it->object;
        QTimerEvent event(id);
        QCoreApplication::sendEvent(object, &event);
        ++fired;
        it = m_timers.find(id); // the handler may have changed the hash
        if (it != m_timers.end())
            it->firing = false;
    }
    return fired;
}

void EpollDispatcher::wakeUp()
{
    if (m_wakeUps.testAndSetAcquire(0, 1))
        ::eventfd_write(m_wakeFd, 1);
}

void EpollDispatcher::interrupt()
{
    m_interrupt.storeRelaxed(1);
    wakeUp();
}

} // namespace Herald
