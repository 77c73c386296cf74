#include "datarows.h"
#include "epolldispatcher.h"

#include <QAbstractEventDispatcher>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QScopeGuard>
#include <QSemaphore>
#include <QSignalSpy>
#include <QSocketNotifier>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

using namespace Qt::StringLiterals;
using Herald::EpollDispatcher;
using HeraldTest::boolRows;

// Every case runs on a QThread whose dispatcher is an EpollDispatcher, with the objects under test living
// there, and observes it from the test thread. HERALD_QT_DISPATCHER=1 (as for herald-server) runs the same
// cases on Qt's own dispatcher instead: the reference the EpollDispatcher must behave like.

namespace {

bool useQtDispatcher()
{
    return qEnvironmentVariableIsSet("HERALD_QT_DISPATCHER");
}

// A worker thread on the dispatcher under test, with a context object living there for invocations. Declare
// it after the locals that handlers in the thread capture: its destructor ends the thread and deletes the
// case's objects there before those locals go.
class EpollThread
{
public:
    EpollThread()
    {
        m_thread.setObjectName(u"epoll-test"_s);
        if (!useQtDispatcher())
            m_thread.setEventDispatcher(new EpollDispatcher);
        m_context = new QObject;
        m_context->moveToThread(&m_thread);
        // The case's objects are deleted in the thread, its dispatcher still there: finished() is emitted
        // from the ending thread, however it ended.
        QObject::connect(
            &m_thread, &QThread::finished, &m_thread,
            [this] {
                delete m_context;
                m_context = nullptr;
            },
            Qt::DirectConnection);
        m_thread.start();
    }
    ~EpollThread() { stop(); }
    EpollThread(const EpollThread &) = delete;
    EpollThread &operator=(const EpollThread &) = delete;

    QThread *thread() { return &m_thread; }
    // Parent for the objects a case creates in the thread: they are deleted there when the case ends.
    QObject *context() const { return m_context; }
    // Only to be called from the worker thread.
    QAbstractEventDispatcher *dispatcher() const { return m_thread.eventDispatcher(); }

    // Runs f in the worker thread (a queued invocation, so through the dispatcher's wake-up) and waits for
    // it. A dispatcher that never runs it hangs the thread: abort rather than leave f's captures dangling.
    template<typename F>
    void run(F &&f)
    {
        auto done = std::make_shared<QSemaphore>();
        QMetaObject::invokeMethod(
            m_context,
            [done, fn = std::forward<F>(f)]() mutable {
                fn();
                done->release();
            },
            Qt::QueuedConnection);
        if (!done->tryAcquire(1, 10000))
            qFatal("the worker thread did not run a queued invocation within 10 s: its dispatcher is stuck");
    }

    // Lets the worker run for ms on its own timer, then one more pass: a window in which something that must
    // not happen (a disabled notifier firing, a killed timer firing) would have happened.
    void settle(int ms = 30)
    {
        auto fired = std::make_shared<QSemaphore>();
        run([this, ms, fired] { QTimer::singleShot(ms, m_context, [fired] { fired->release(); }); });
        if (!fired->tryAcquire(1, 10000))
            qFatal("a %d ms timer on the worker thread did not fire within 10 s", ms);
        run([] {});
    }

    void stop()
    {
        m_thread.quit();
        if (!m_thread.wait(10000))
            qFatal("the worker thread did not end within 10 s of quit()");
    }

private:
    QThread m_thread;
    QObject *m_context = nullptr;
};

class SocketPair
{
public:
    SocketPair()
    {
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, m_fd) != 0)
            m_fd[0] = m_fd[1] = -1;
    }
    ~SocketPair()
    {
        close(0);
        close(1);
    }
    SocketPair(const SocketPair &) = delete;
    SocketPair &operator=(const SocketPair &) = delete;

    bool isValid() const { return m_fd[0] >= 0 && m_fd[1] >= 0; }
    int fd(int end) const { return m_fd[end]; }
    void close(int end)
    {
        if (m_fd[end] >= 0)
            ::close(m_fd[end]);
        m_fd[end] = -1;
    }
    bool send(int end, const QByteArray &data) const
    {
        return ::send(m_fd[end], data.constData(), size_t(data.size()), MSG_NOSIGNAL) == data.size();
    }
    // Everything readable now (the sockets are non-blocking); eof is set when the peer has closed.
    QByteArray receive(int end, bool *eof = nullptr) const
    {
        QByteArray out;
        char buffer[4096];
        for (;;) {
            const ssize_t n = ::recv(m_fd[end], buffer, sizeof buffer, 0);
            if (n > 0) {
                out.append(buffer, qsizetype(n));
                continue;
            }
            if (eof)
                *eof = n == 0;
            return out;
        }
    }
    // Writes until the send buffer is full; returns the byte count.
    qint64 fill(int end) const
    {
        const QByteArray chunk(4096, 'x');
        qint64 total = 0;
        for (;;) {
            const ssize_t n = ::send(m_fd[end], chunk.constData(), size_t(chunk.size()), MSG_NOSIGNAL);
            if (n <= 0)
                return total;
            total += n;
        }
    }

private:
    int m_fd[2] = {-1, -1};
};

class TimerProbe : public QObject
{
public:
    using QObject::QObject;
    std::function<void(int)> onTimer;
    std::atomic<int> fired{0};
    std::atomic<QThread *> firedIn{nullptr};

protected:
    void timerEvent(QTimerEvent *event) override
    {
        ++fired;
        firedIn = QThread::currentThread();
        if (onTimer)
            onTimer(event->timerId());
    }
};

constexpr int PostingThreads = 4;

class NumberedEvent : public QEvent
{
public:
    static constexpr Type Kind = QEvent::User;
    NumberedEvent(int from, int n)
        : QEvent(Kind)
        , source(from)
        , number(n)
    {}
    const int source;
    const int number;
};

class EventProbe : public QObject
{
public:
    EventProbe() { last.fill(-1); }
    std::atomic<int> received{0};
    std::atomic<int> outOfOrder{0};
    std::atomic<QThread *> receivedIn{nullptr};

protected:
    bool event(QEvent *event) override
    {
        if (event->type() != NumberedEvent::Kind)
            return QObject::event(event);
        const auto *numbered = static_cast<NumberedEvent *>(event);
        // Events posted by one thread arrive in the order it posted them.
        if (numbered->number != last[size_t(numbered->source)] + 1)
            ++outOfOrder;
        last[size_t(numbered->source)] = numbered->number;
        receivedIn = QThread::currentThread();
        ++received;
        return true;
    }

private:
    std::array<int, PostingThreads + 1> last{};
};

} // namespace

class tst_EpollDispatcher : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void runsOnTheDispatcher();
    // Posted events and wake-ups
    void postedEventBurstFromManyThreads();
    void wakesUpFromIdleEveryTime();
    void deleteLater_data();
    void deleteLater();
    // Timers
    void singleShotTimerFiresOnce();
    void repeatingTimerFiresRepeatedly();
    void zeroTimerDoesNotStarve();
    void timerKilledInItsOwnTimeout();
    void handlerStopsAnotherTimer_data();
    void handlerStopsAnotherTimer();
    void startTimerKillTimerRemainingTime();
    void registeredTimersListsAnObjectsTimers();
    void timersUnregisteredWithTheirObject();
    void timersFollowMoveToThread_data();
    void timersFollowMoveToThread();
    void excludeFlags();
    // Socket notifiers
    void readNotifierIsLevelTriggered();
    void disabledNotifierDoesNotFire();
    void writeNotifier();
    void readNotifierFiresOnHangUp();
    void notifierRemovedByAnotherHandler_data();
    void notifierRemovedByAnotherHandler();
    void readAndWriteNotifiersOnOneDescriptor();
    // Event loops
    void eventLoopExitFromAnotherThread();
    void threadQuitEndsTheLoop();
    void nestedEventLoopInAHandler();
    // Qt networking on the dispatcher
    void tcpEcho();
};

void tst_EpollDispatcher::runsOnTheDispatcher()
{
    QThread *ranIn = nullptr;
    QAbstractEventDispatcher *current = nullptr;
    EpollThread worker;
    worker.run([&] {
        ranIn = QThread::currentThread();
        current = QAbstractEventDispatcher::instance();
    });
    QCOMPARE(ranIn, worker.thread());
    QCOMPARE(current, worker.dispatcher());
    if (!useQtDispatcher())
        QVERIFY(qobject_cast<EpollDispatcher *>(current));
}

void tst_EpollDispatcher::postedEventBurstFromManyThreads()
{
    constexpr int PerThread = 5000;
    EventProbe *probe = nullptr;
    EpollThread worker;
    worker.run([&] {
        probe = new EventProbe;
        probe->setParent(worker.context());
    });

    // Several threads post at once while the worker sleeps, wakes and drains.
    std::vector<std::thread> posters;
    for (int source = 0; source < PostingThreads; ++source) {
        posters.emplace_back([probe, source] {
            for (int i = 0; i < PerThread; ++i)
                QCoreApplication::postEvent(probe, new NumberedEvent(source, i));
        });
    }
    for (int i = 0; i < PerThread; ++i)
        QCoreApplication::postEvent(probe, new NumberedEvent(PostingThreads, i));
    for (std::thread &poster : posters)
        poster.join();

    QTRY_COMPARE(probe->received.load(), (PostingThreads + 1) * PerThread);
    QCOMPARE(probe->outOfOrder.load(), 0);
    QCOMPARE(probe->receivedIn.load(), worker.thread());
}

void tst_EpollDispatcher::wakesUpFromIdleEveryTime()
{
    // One event at a time, each posted while the worker is (about to be) blocked in the dispatcher: a lost
    // wake-up leaves the event unprocessed and the wait times out.
    constexpr int Rounds = 2000;
    QSemaphore processed;
    EventProbe *probe = nullptr;
    EpollThread worker;
    worker.run([&] {
        probe = new EventProbe;
        probe->setParent(worker.context());
    });
    int lost = 0;
    for (int i = 0; i < Rounds && lost == 0; ++i) {
        QMetaObject::invokeMethod(
            probe, [&processed] { processed.release(); }, Qt::QueuedConnection);
        if (!processed.tryAcquire(1, 5000))
            ++lost;
    }
    QCOMPARE(lost, 0);
    worker.run([] {}); // nothing queued is left behind for the locals
}

void tst_EpollDispatcher::deleteLater_data()
{
    boolRows("fromWorker", {{"in the worker thread", true}, {"from another thread", false}});
}

void tst_EpollDispatcher::deleteLater()
{
    QFETCH(bool, fromWorker);
    std::atomic<QThread *> destroyedIn{nullptr};
    QObject *victim = nullptr;
    EpollThread worker;
    worker.run([&] {
        victim = new QObject(worker.context());
        QObject::connect(victim, &QObject::destroyed, victim,
                         [&destroyedIn] { destroyedIn = QThread::currentThread(); });
        if (fromWorker)
            victim->deleteLater();
    });
    if (!fromWorker)
        victim->deleteLater();
    QTRY_COMPARE(destroyedIn.load(), worker.thread());
}

void tst_EpollDispatcher::singleShotTimerFiresOnce()
{
    std::atomic<int> fired{0};
    std::atomic<bool> activeAfter{true};
    QTimer *timer = nullptr;
    EpollThread worker;
    worker.run([&] {
        timer = new QTimer(worker.context());
        timer->setSingleShot(true);
        timer->setInterval(20);
        QObject::connect(timer, &QTimer::timeout, timer, [&] {
            ++fired;
            activeAfter = timer->isActive();
        });
        timer->start();
    });
    QTRY_COMPARE(fired.load(), 1);
    QVERIFY(!activeAfter.load());
    worker.settle(60);
    QCOMPARE(fired.load(), 1);

    // Restarted, it fires once more.
    worker.run([&] { timer->start(5); });
    QTRY_COMPARE(fired.load(), 2);
    worker.settle(30);
    QCOMPARE(fired.load(), 2);
}

void tst_EpollDispatcher::repeatingTimerFiresRepeatedly()
{
    constexpr int Interval = 20;
    constexpr int Window = 300;
    std::atomic<int> fired{0};
    std::atomic<int> firedInWindow{-1};
    std::atomic<qint64> tenthAfterMs{-1};
    QElapsedTimer clock;
    EpollThread worker;
    worker.run([&] {
        auto *timer = new QTimer(worker.context());
        timer->setTimerType(Qt::PreciseTimer);
        timer->setInterval(Interval);
        QObject::connect(timer, &QTimer::timeout, timer, [&] {
            if (++fired == 10)
                tenthAfterMs = clock.elapsed();
        });
        auto *window = new QTimer(worker.context());
        window->setSingleShot(true);
        window->setTimerType(Qt::PreciseTimer);
        QObject::connect(window, &QTimer::timeout, window, [&, timer] {
            firedInWindow = fired.load();
            timer->stop();
        });
        clock.start();
        timer->start();
        window->start(Window);
    });
    QTRY_VERIFY(firedInWindow.load() >= 0);
    // Loose bounds: repeatedly (a slow machine may lose some), never more often than its interval allows.
    QVERIFY2(
        firedInWindow >= 3 && firedInWindow <= Window / Interval,
        qPrintable(u"%1 timeouts of a %2 ms timer in %3 ms"_s.arg(firedInWindow).arg(Interval).arg(Window)));
    QVERIFY(tenthAfterMs.load() >= 10 * Interval - 5);
    worker.settle(2 * Interval);
    QCOMPARE(fired.load(), firedInWindow.load()); // stopped
}

void tst_EpollDispatcher::zeroTimerDoesNotStarve()
{
    constexpr int Posted = 200;
    std::atomic<int> zeroFired{0};
    std::atomic<int> postedRan{0};
    std::atomic<bool> otherTimerFired{false};
    std::atomic<int> notifierFired{0};
    SocketPair pair;
    QVERIFY(pair.isValid());
    QVERIFY(pair.send(1, "x"_ba));
    QTimer *zero = nullptr;
    EpollThread worker;
    worker.run([&] {
        zero = new QTimer(worker.context());
        zero->setInterval(0);
        QObject::connect(zero, &QTimer::timeout, zero, [&] { ++zeroFired; });
        zero->start();
        QTimer::singleShot(30, worker.context(), [&] { otherTimerFired = true; });
        auto *notifier = new QSocketNotifier(pair.fd(0), QSocketNotifier::Read, worker.context());
        QObject::connect(notifier, &QSocketNotifier::activated, notifier, [&, notifier] {
            ++notifierFired;
            pair.receive(0);
            notifier->setEnabled(false);
        });
    });
    // Posted from here while the zero timer keeps the worker busy.
    for (int i = 0; i < Posted; ++i)
        QMetaObject::invokeMethod(
            worker.context(), [&postedRan] { ++postedRan; }, Qt::QueuedConnection);
    QTRY_COMPARE(postedRan.load(), Posted);
    QTRY_VERIFY(otherTimerFired.load());
    QTRY_COMPARE(notifierFired.load(), 1);
    QVERIFY2(zeroFired >= 10, qPrintable(QString::number(zeroFired)));
    worker.run([&] { zero->stop(); });
    const int stoppedAt = zeroFired;
    worker.settle();
    QCOMPARE(zeroFired.load(), stoppedAt);
}

void tst_EpollDispatcher::timerKilledInItsOwnTimeout()
{
    std::atomic<int> qtimerFired{0};
    std::atomic<bool> registeredAfterKill{true};
    TimerProbe *probe = nullptr;
    EpollThread worker;
    worker.run([&] {
        // QObject::killTimer in timerEvent, on the first one.
        probe = new TimerProbe(worker.context());
        probe->onTimer = [&](int id) {
            probe->killTimer(id);
            registeredAfterKill = !worker.dispatcher()->registeredTimers(probe).isEmpty();
        };
        probe->startTimer(5);
        // QTimer::stop() in timeout, on the third.
        auto *timer = new QTimer(worker.context());
        timer->setInterval(5);
        QObject::connect(timer, &QTimer::timeout, timer, [&, timer] {
            if (++qtimerFired == 3)
                timer->stop();
        });
        timer->start();
    });
    QTRY_COMPARE(probe->fired.load(), 1);
    QTRY_COMPARE(qtimerFired.load(), 3);
    QVERIFY(!registeredAfterKill.load());
    worker.settle(50);
    QCOMPARE(probe->fired.load(), 1);
    QCOMPARE(qtimerFired.load(), 3);
}

void tst_EpollDispatcher::handlerStopsAnotherTimer_data()
{
    QTest::addColumn<int>("action");
    QTest::newRow("stop") << 0;
    QTest::newRow("restart longer") << 1;      // QTimer::start() again: same object, likely the same timer id
    QTest::newRow("stop, start another") << 2; // the new timer likely gets the freed id
}

void tst_EpollDispatcher::handlerStopsAnotherTimer()
{
    QFETCH(int, action);
    std::atomic<int> firstFired{0};
    std::atomic<int> secondFired{0};
    std::atomic<int> thirdFired{0};
    std::atomic<int> secondFiredAfterPass{-1};
    std::atomic<bool> secondActive{false};
    std::atomic<int> secondRemaining{-1};
    QTimer *second = nullptr;
    QTimer *third = nullptr;
    EpollThread worker;
    worker.run([&] {
        auto *first = new QTimer(worker.context());
        second = new QTimer(worker.context());
        third = new QTimer(worker.context());
        for (QTimer *timer : {first, second, third})
            timer->setTimerType(Qt::PreciseTimer);
        QObject::connect(first, &QTimer::timeout, first, [&, first] {
            ++firstFired;
            first->stop();
            switch (action) {
            case 0:
                second->stop();
                break;
            case 1:
                second->start(10000);
                break;
            case 2:
                second->stop();
                third->start(10000);
                break;
            }
            // Runs after this pass of the dispatcher: whatever else it fired is counted by then.
            QMetaObject::invokeMethod(
                worker.context(), [&] { secondFiredAfterPass = secondFired + thirdFired; },
                Qt::QueuedConnection);
        });
        QObject::connect(second, &QTimer::timeout, second, [&] { ++secondFired; });
        QObject::connect(third, &QTimer::timeout, third, [&] { ++thirdFired; });
        first->start(5);
        second->start(15);
        // Both due by the time this invocation returns: the dispatcher handles them in one pass, the first
        // one first (it is due earlier).
        QThread::msleep(40);
    });
    QTRY_COMPARE(firstFired.load(), 1);
    QTRY_VERIFY(secondFiredAfterPass.load() >= 0);
    QCOMPARE(secondFiredAfterPass.load(), 0);
    worker.settle(40);
    QCOMPARE(secondFired.load(), 0);
    QCOMPARE(thirdFired.load(), 0);
    worker.run([&] {
        secondActive = second->isActive();
        secondRemaining = action == 2 ? third->remainingTime() : second->remainingTime();
    });
    QCOMPARE(secondActive.load(), action == 1);
    if (action == 0)
        QCOMPARE(secondRemaining.load(), -1);
    else
        QVERIFY2(secondRemaining > 9000 && secondRemaining <= 10000,
                 qPrintable(QString::number(secondRemaining)));
}

void tst_EpollDispatcher::startTimerKillTimerRemainingTime()
{
    int id = 0;
    int remaining = -2;
    int qtimerRemaining = -2;
    int inactiveRemaining = -2;
    int remainingAfterKill = -2;
    QList<QAbstractEventDispatcher::TimerInfo> before;
    QList<QAbstractEventDispatcher::TimerInfo> after;
    TimerProbe *probe = nullptr;
    EpollThread worker;
    worker.run([&] {
        probe = new TimerProbe(worker.context());
        // Precise: coarse timers may be adjusted by up to 5 % (Qt's own dispatcher does).
        id = probe->startTimer(200, Qt::PreciseTimer);
        remaining = worker.dispatcher()->remainingTime(id);
        before = worker.dispatcher()->registeredTimers(probe);
        auto *timer = new QTimer(worker.context());
        inactiveRemaining = timer->remainingTime();
        timer->setTimerType(Qt::PreciseTimer);
        timer->start(500);
        qtimerRemaining = timer->remainingTime();
    });
    QVERIFY(id > 0);
    QVERIFY2(remaining > 100 && remaining <= 200, qPrintable(QString::number(remaining)));
    QVERIFY2(qtimerRemaining > 400 && qtimerRemaining <= 500, qPrintable(QString::number(qtimerRemaining)));
    QCOMPARE(inactiveRemaining, -1);
    QCOMPARE(before.size(), 1);
    QCOMPARE(before.first().timerId, id);
    QCOMPARE(before.first().interval, 200);

    // Remaining time counts down.
    worker.settle(30);
    worker.run([&] { remaining = worker.dispatcher()->remainingTime(id); });
    QVERIFY2(remaining >= 0 && remaining < 200, qPrintable(QString::number(remaining)));

    worker.run([&] {
        probe->killTimer(id);
        remainingAfterKill = worker.dispatcher()->remainingTime(id);
        after = worker.dispatcher()->registeredTimers(probe);
    });
    QCOMPARE(remainingAfterKill, -1);
    QVERIFY(after.isEmpty());
    worker.settle(250); // past its due time
    QCOMPARE(probe->fired.load(), 0);
}

void tst_EpollDispatcher::registeredTimersListsAnObjectsTimers()
{
    using Info = QAbstractEventDispatcher::TimerInfo;
    QList<Info> expected;
    QList<Info> listed;
    QList<Info> otherListed;
    QList<Info> afterKill;
    int otherId = 0;
    EpollThread worker;
    worker.run([&] {
        auto *probe = new TimerProbe(worker.context());
        auto *other = new TimerProbe(worker.context());
        const std::pair<int, Qt::TimerType> timers[] = {
            {1000, Qt::PreciseTimer}, {2000, Qt::CoarseTimer}, {3000, Qt::VeryCoarseTimer}};
        for (const auto &[interval, type] : timers)
            expected.append(Info(probe->startTimer(interval, type), interval, type));
        otherId = other->startTimer(4000);
        listed = worker.dispatcher()->registeredTimers(probe);
        otherListed = worker.dispatcher()->registeredTimers(other);
        probe->killTimer(expected.at(1).timerId);
        afterKill = worker.dispatcher()->registeredTimers(probe);
    });
    const auto byId = [](const Info &a, const Info &b) {
        return a.timerId < b.timerId;
    };
    const auto same = [](const QList<Info> &a, const QList<Info> &b) {
        return std::equal(a.cbegin(), a.cend(), b.cbegin(), b.cend(), [](const Info &x, const Info &y) {
            return x.timerId == y.timerId && x.interval == y.interval && x.timerType == y.timerType;
        });
    };
    std::sort(expected.begin(), expected.end(), byId);
    std::sort(listed.begin(), listed.end(), byId);
    std::sort(afterKill.begin(), afterKill.end(), byId);
    QVERIFY(same(listed, expected));
    QCOMPARE(otherListed.size(), 1);
    QCOMPARE(otherListed.first().timerId, otherId);
    expected.removeIf([&](const Info &info) { return info.interval == 2000; });
    QVERIFY(same(afterKill, expected));
}

void tst_EpollDispatcher::timersUnregisteredWithTheirObject()
{
    QList<int> ids;
    QList<int> remainingAfterDelete;
    bool listedAfterDelete = true;
    bool unregisteredSome = false;
    bool unregisteredAgain = true;
    TimerProbe *survivor = nullptr;
    EpollThread worker;
    worker.run([&] {
        auto *probe = new TimerProbe(worker.context());
        ids << probe->startTimer(1) << probe->startTimer(2, Qt::PreciseTimer);
        // Due, then gone: the next pass must not deliver them to the deleted object.
        QThread::msleep(10);
        delete probe;
        for (int id : std::as_const(ids))
            remainingAfterDelete << worker.dispatcher()->remainingTime(id);
        listedAfterDelete = !worker.dispatcher()->registeredTimers(probe).isEmpty();

        survivor = new TimerProbe(worker.context());
        survivor->startTimer(1);
        survivor->startTimer(3);
        unregisteredSome = worker.dispatcher()->unregisterTimers(survivor);
        unregisteredAgain = worker.dispatcher()->unregisterTimers(survivor);
    });
    QCOMPARE(remainingAfterDelete, QList<int>({-1, -1}));
    QVERIFY(!listedAfterDelete);
    QVERIFY(unregisteredSome);
    QVERIFY(!unregisteredAgain);
    worker.settle(30);
    QCOMPARE(survivor->fired.load(), 0);
}

void tst_EpollDispatcher::timersFollowMoveToThread_data()
{
    boolRows("fromWorker", {{"worker to test thread", true}, {"test thread to worker", false}});
}

void tst_EpollDispatcher::timersFollowMoveToThread()
{
    // QObject::moveToThread takes the object's timers from the old dispatcher (registeredTimers,
    // unregisterTimers) and registers them with the new one.
    QFETCH(bool, fromWorker);
    std::unique_ptr<TimerProbe> probe;
    QThread *const testThread = QThread::currentThread();
    EpollThread worker;
    if (fromWorker) {
        worker.run([&] {
            probe = std::make_unique<TimerProbe>();
            probe->startTimer(5);
            probe->startTimer(7);
            probe->moveToThread(testThread);
        });
        const int firedBefore = probe->fired;
        QTRY_VERIFY(probe->fired >= firedBefore + 4);
        QCOMPARE(probe->firedIn.load(), QThread::currentThread());
        probe.reset();
    } else {
        probe = std::make_unique<TimerProbe>();
        probe->startTimer(5);
        probe->startTimer(7);
        probe->moveToThread(worker.thread());
        QTRY_VERIFY(probe->fired >= 4);
        QCOMPARE(probe->firedIn.load(), worker.thread());
        worker.run([&] { probe.reset(); });
    }
}

void tst_EpollDispatcher::excludeFlags()
{
    int notifierFiredExcluded = -1;
    int notifierFiredIncluded = -1;
    int timerFiredExcluded = -1;
    int timerFiredIncluded = -1;
    SocketPair pair;
    QVERIFY(pair.isValid());
    QVERIFY(pair.send(1, "x"_ba));
    EpollThread worker;
    worker.run([&] {
        int notifierFired = 0;
        QSocketNotifier notifier(pair.fd(0), QSocketNotifier::Read);
        QObject::connect(&notifier, &QSocketNotifier::activated, &notifier, [&] { ++notifierFired; });
        for (int i = 0; i < 3; ++i)
            QCoreApplication::processEvents(QEventLoop::ExcludeSocketNotifiers);
        notifierFiredExcluded = notifierFired;
        QCoreApplication::processEvents();
        notifierFiredIncluded = notifierFired;
        notifier.setEnabled(false);

        int timerFired = 0;
        TimerProbe probe;
        probe.onTimer = [&](int) {
            ++timerFired;
        };
        probe.startTimer(1);
        QThread::msleep(5);
        for (int i = 0; i < 3; ++i)
            QCoreApplication::processEvents(QEventLoop::X11ExcludeTimers);
        timerFiredExcluded = timerFired;
        QCoreApplication::processEvents();
        timerFiredIncluded = timerFired;
    });
    QCOMPARE(notifierFiredExcluded, 0);
    QCOMPARE(notifierFiredIncluded, 1);
    QCOMPARE(timerFiredExcluded, 0);
    QCOMPARE(timerFiredIncluded, 1);
}

void tst_EpollDispatcher::readNotifierIsLevelTriggered()
{
    std::atomic<int> fired{0};
    std::atomic<int> bytesRead{0};
    SocketPair pair;
    QVERIFY(pair.isValid());
    EpollThread worker;
    worker.run([&] {
        auto *notifier = new QSocketNotifier(pair.fd(0), QSocketNotifier::Read, worker.context());
        // Leaves the data unread for four activations, reads it on the fifth.
        QObject::connect(notifier, &QSocketNotifier::activated, notifier, [&] {
            if (++fired % 5 == 0)
                bytesRead += int(pair.receive(0).size());
        });
    });
    worker.settle();
    QCOMPARE(fired.load(), 0); // nothing to read yet

    QVERIFY(pair.send(1, "hello"_ba)); // wakes the blocked worker
    QTRY_COMPARE(fired.load(), 5);
    QTRY_COMPARE(bytesRead.load(), 5); // the 5th activation counts before it reads
    worker.settle();
    QCOMPARE(fired.load(), 5); // read: quiet

    QVERIFY(pair.send(1, "again"_ba));
    QTRY_COMPARE(fired.load(), 10);
    QTRY_COMPARE(bytesRead.load(), 10);
    worker.settle();
    QCOMPARE(fired.load(), 10);
}

void tst_EpollDispatcher::disabledNotifierDoesNotFire()
{
    std::atomic<int> fired{0};
    QSocketNotifier *notifier = nullptr;
    SocketPair pair;
    QVERIFY(pair.isValid());
    EpollThread worker;
    worker.run([&] {
        notifier = new QSocketNotifier(pair.fd(0), QSocketNotifier::Read, worker.context());
        notifier->setEnabled(false);
        QObject::connect(notifier, &QSocketNotifier::activated, notifier, [&] {
            ++fired;
            notifier->setEnabled(false); // reads nothing: stays readable
        });
    });
    QVERIFY(pair.send(1, "x"_ba));
    worker.settle(50);
    QCOMPARE(fired.load(), 0);

    worker.run([&] { notifier->setEnabled(true); });
    QTRY_COMPARE(fired.load(), 1);
    worker.settle(50);
    QCOMPARE(fired.load(), 1);

    // Disabled and enabled again before the dispatcher looks: it still fires (registration is not lost).
    worker.run([&] {
        notifier->setEnabled(true);
        notifier->setEnabled(false);
        notifier->setEnabled(true);
    });
    QTRY_COMPARE(fired.load(), 2);
    worker.settle(50);
    QCOMPARE(fired.load(), 2);
}

void tst_EpollDispatcher::writeNotifier()
{
    std::atomic<int> fired{0};
    QSocketNotifier *notifier = nullptr;
    SocketPair pair;
    QVERIFY(pair.isValid());
    EpollThread worker;
    worker.run([&] {
        notifier = new QSocketNotifier(pair.fd(0), QSocketNotifier::Write, worker.context());
        // Level-triggered too: fires on every pass while writable; quiets itself on the third.
        QObject::connect(notifier, &QSocketNotifier::activated, notifier, [&] {
            if (++fired % 3 == 0)
                notifier->setEnabled(false);
        });
    });
    QTRY_COMPARE(fired.load(), 3);
    worker.settle();
    QCOMPARE(fired.load(), 3);

    // A full send buffer is not writable: no activation until the peer reads.
    QVERIFY(pair.fill(0) > 0);
    worker.run([&] { notifier->setEnabled(true); });
    worker.settle(50);
    QCOMPARE(fired.load(), 3);
    QVERIFY(!pair.receive(1).isEmpty());
    QTRY_COMPARE(fired.load(), 6);
}

void tst_EpollDispatcher::readNotifierFiresOnHangUp()
{
    std::atomic<int> fired{0};
    std::atomic<bool> sawEof{false};
    SocketPair pair;
    QVERIFY(pair.isValid());
    EpollThread worker;
    worker.run([&] {
        auto *notifier = new QSocketNotifier(pair.fd(0), QSocketNotifier::Read, worker.context());
        QObject::connect(notifier, &QSocketNotifier::activated, notifier, [&, notifier] {
            ++fired;
            bool eof = false;
            pair.receive(0, &eof);
            if (eof) {
                sawEof = true;
                notifier->setEnabled(false);
            }
        });
    });
    worker.settle();
    QCOMPARE(fired.load(), 0);
    pair.close(1);
    QTRY_VERIFY(sawEof.load());
    QCOMPARE(fired.load(), 1);
}

void tst_EpollDispatcher::notifierRemovedByAnotherHandler_data()
{
    QTest::addColumn<bool>("sameDescriptor");
    QTest::addColumn<bool>("deleteIt");
    QTest::newRow("two descriptors, delete") << false << true;
    QTest::newRow("two descriptors, disable") << false << false;
    QTest::newRow("read and write on one descriptor, delete") << true << true;
    QTest::newRow("read and write on one descriptor, disable") << true << false;
}

void tst_EpollDispatcher::notifierRemovedByAnotherHandler()
{
    // Two notifiers ready in the same pass; whichever is activated first deletes (or disables) the other,
    // which must then not be activated in that pass.
    QFETCH(bool, sameDescriptor);
    QFETCH(bool, deleteIt);
    std::array<std::atomic<int>, 2> fired{};
    std::array<QSocketNotifier *, 2> notifiers{};
    SocketPair first;
    SocketPair second;
    QVERIFY(first.isValid() && second.isValid());
    QVERIFY(first.send(1, "a"_ba));
    QVERIFY(second.send(1, "b"_ba));
    const SocketPair *pairs[2] = {&first, sameDescriptor ? &first : &second};
    EpollThread worker;
    worker.run([&] {
        for (int i = 0; i < 2; ++i) {
            const auto type = sameDescriptor && i == 1 ? QSocketNotifier::Write : QSocketNotifier::Read;
            notifiers[size_t(i)] = new QSocketNotifier(pairs[i]->fd(0), type, worker.context());
        }
        for (int i = 0; i < 2; ++i) {
            QSocketNotifier *self = notifiers[size_t(i)];
            QObject::connect(self, &QSocketNotifier::activated, self, [&, i, self] {
                ++fired[size_t(i)];
                QSocketNotifier *&other = notifiers[size_t(1 - i)];
                if (other && deleteIt) {
                    delete other;
                    other = nullptr;
                } else if (other) {
                    other->setEnabled(false);
                }
                // Quiet itself so that any further activation is the other's.
                if (self->type() == QSocketNotifier::Read)
                    pairs[i]->receive(0);
                else
                    self->setEnabled(false);
            });
        }
    });
    QTRY_COMPARE(fired[0] + fired[1], 1);
    worker.settle();
    QCOMPARE(fired[0] + fired[1], 1);
    const size_t other = fired[0] == 1 ? 1 : 0;
    if (!deleteIt) {
        // The disabled one works again once enabled.
        worker.run([&] { notifiers[other]->setEnabled(true); });
        QTRY_COMPARE(fired[other].load(), 1);
        worker.settle();
        QCOMPARE(fired[0] + fired[1], 2);
    }
}

void tst_EpollDispatcher::readAndWriteNotifiersOnOneDescriptor()
{
    std::atomic<int> readFired{0};
    std::atomic<int> writeFired{0};
    QByteArray received;
    QSocketNotifier *reader = nullptr;
    QSocketNotifier *writer = nullptr;
    SocketPair pair;
    QVERIFY(pair.isValid());
    EpollThread worker;
    worker.run([&] {
        reader = new QSocketNotifier(pair.fd(0), QSocketNotifier::Read, worker.context());
        writer = new QSocketNotifier(pair.fd(0), QSocketNotifier::Write, worker.context());
        QObject::connect(reader, &QSocketNotifier::activated, reader, [&] {
            ++readFired;
            received += pair.receive(0);
        });
        QObject::connect(writer, &QSocketNotifier::activated, writer, [&] {
            ++writeFired;
            pair.send(0, "ping"_ba);
            writer->setEnabled(false);
        });
    });
    // Writable at once: the write notifier sends, the peer gets it.
    QTRY_COMPARE(writeFired.load(), 1);
    QByteArray atPeer;
    QTRY_VERIFY((atPeer += pair.receive(1)).size() >= 4);
    QCOMPARE(atPeer, "ping"_ba);
    QCOMPARE(readFired.load(), 0);

    // The read notifier on the same descriptor still works, with the write one disabled.
    QVERIFY(pair.send(1, "pong"_ba));
    QTRY_COMPARE(readFired.load(), 1);

    // Removing one keeps the other registered.
    worker.run([&] {
        delete writer;
        writer = nullptr;
    });
    QVERIFY(pair.send(1, "after"_ba));
    QTRY_COMPARE(readFired.load(), 2);
    worker.run([&] {
        writer = new QSocketNotifier(pair.fd(0), QSocketNotifier::Write, worker.context());
        QObject::connect(writer, &QSocketNotifier::activated, writer, [&] {
            ++writeFired;
            writer->setEnabled(false);
        });
        delete reader;
        reader = nullptr;
    });
    QTRY_COMPARE(writeFired.load(), 2);
    QVERIFY(pair.send(1, "unheard"_ba));
    worker.settle();
    QCOMPARE(readFired.load(), 2);
    bool receivedAll = false;
    worker.run([&] { receivedAll = received == "pongafter"_ba; });
    QVERIFY(receivedAll);
}

void tst_EpollDispatcher::eventLoopExitFromAnotherThread()
{
    // A loop blocked with nothing to do (no timer, no notifier) ends only through interrupt().
    std::atomic<QEventLoop *> running{nullptr};
    std::atomic<int> result{-1};
    QSemaphore exitReturned;
    EpollThread worker;
    const auto release = qScopeGuard([&] { exitReturned.release(); });
    QMetaObject::invokeMethod(
        worker.context(),
        [&] {
            QEventLoop loop;
            // Published from inside exec(): an exit() before it would be reset by exec().
            QMetaObject::invokeMethod(
                &loop, [&] { running = &loop; }, Qt::QueuedConnection);
            result = loop.exec();
            // The loop object stays until the test thread is done with it.
            exitReturned.acquire();
        },
        Qt::QueuedConnection);
    QTRY_VERIFY(running.load());
    worker.settle(); // then blocked in the dispatcher, nothing due
    QCOMPARE(result.load(), -1);
    running.load()->exit(7);
    QTRY_COMPARE(result.load(), 7);
}

void tst_EpollDispatcher::threadQuitEndsTheLoop()
{
    std::atomic<bool> timerFired{false};
    EpollThread worker;
    QSignalSpy finished(worker.thread(), &QThread::finished);
    // Something far in the future: the loop waits for it until told to quit.
    worker.run([&] {
        auto *timer = new QTimer(worker.context());
        timer->setSingleShot(true);
        QObject::connect(timer, &QTimer::timeout, timer, [&] { timerFired = true; });
        timer->start(60000);
    });
    worker.settle();
    QVERIFY(worker.thread()->isRunning());
    worker.thread()->quit();
    QVERIFY(worker.thread()->wait(5000));
    QCOMPARE(finished.size(), 1);
    QVERIFY(!timerFired.load());
}

void tst_EpollDispatcher::nestedEventLoopInAHandler()
{
    std::atomic<int> outerFired{0};
    std::atomic<int> outerFiredDuringNested{-1};
    std::atomic<int> innerFired{0};
    std::atomic<bool> inNested{false};
    std::atomic<bool> postedRanInNested{false};
    std::atomic<bool> victimDestroyed{false};
    std::atomic<bool> victimAliveAfterNested{false};
    QEventLoop *nested = nullptr;
    EpollThread worker;
    worker.run([&] {
        auto *victim = new QObject(worker.context());
        QObject::connect(victim, &QObject::destroyed, worker.context(), [&] { victimDestroyed = true; });
        auto *outer = new QTimer(worker.context());
        outer->setInterval(5);
        QObject::connect(outer, &QTimer::timeout, outer, [&, victim] {
            if (++outerFired != 1)
                return;
            // A deferred delete from here waits for control to return to this loop, past the nested one.
            victim->deleteLater();
            QEventLoop loop;
            QTimer inner;
            inner.setInterval(5);
            QObject::connect(&inner, &QTimer::timeout, &inner, [&] { ++innerFired; });
            inner.start();
            nested = &loop;
            inNested = true;
            loop.exec();
            inNested = false;
            nested = nullptr;
            outerFiredDuringNested = outerFired - 1;
            victimAliveAfterNested = !victimDestroyed;
        });
        outer->start();
    });
    QTRY_VERIFY(inNested.load());
    // Events posted from another thread are processed in the nested loop; a timer started there ends it.
    QMetaObject::invokeMethod(
        worker.context(),
        [&] {
            postedRanInNested = inNested.load();
            QTimer::singleShot(30, nested, &QEventLoop::quit);
        },
        Qt::QueuedConnection);
    QTRY_VERIFY(outerFiredDuringNested.load() >= 0);
    QVERIFY(postedRanInNested.load());
    QVERIFY(innerFired.load() >= 1);
    // A timer is not activated again while its handler runs a nested loop (as in Qt's dispatchers).
    QCOMPARE(outerFiredDuringNested.load(), 0);
    QVERIFY(victimAliveAfterNested.load());
    QTRY_VERIFY(victimDestroyed.load());
    QTRY_VERIFY(outerFired.load() >= 3); // and it goes on firing after
}

void tst_EpollDispatcher::tcpEcho()
{
    // Both ends on the worker: a listening socket, a connect, reads and writes through Qt's notifiers.
    constexpr qsizetype Size = 1 << 20; // far more than a socket buffer: the writes wait for writability
    QByteArray payload(Size, Qt::Uninitialized);
    for (qsizetype i = 0; i < Size; ++i)
        payload[i] = char(i * 7 % 251);
    std::atomic<bool> listening{false};
    std::atomic<qsizetype> echoed{0};
    std::atomic<bool> matched{false};
    std::atomic<bool> serverSawDisconnect{false};
    QByteArray back;
    EpollThread worker;
    worker.run([&] {
        auto *server = new QTcpServer(worker.context());
        listening = server->listen(QHostAddress::LocalHost, 0);
        QObject::connect(server, &QTcpServer::newConnection, server, [&, server] {
            while (QTcpSocket *peer = server->nextPendingConnection()) {
                peer->setParent(worker.context());
                QObject::connect(peer, &QTcpSocket::readyRead, peer,
                                 [peer] { peer->write(peer->readAll()); });
                QObject::connect(peer, &QTcpSocket::disconnected, peer, [&] { serverSawDisconnect = true; });
            }
        });
        auto *client = new QTcpSocket(worker.context());
        QObject::connect(client, &QTcpSocket::connected, client, [&, client] { client->write(payload); });
        QObject::connect(client, &QTcpSocket::readyRead, client, [&, client] {
            back += client->readAll();
            echoed = back.size();
            if (back.size() >= Size) {
                matched = back == payload;
                client->disconnectFromHost();
            }
        });
        client->connectToHost(QHostAddress::LocalHost, server->serverPort());
    });
    QVERIFY(listening.load());
    QTRY_COMPARE_WITH_TIMEOUT(echoed.load(), Size, 10000);
    QVERIFY(matched.load());
    QTRY_VERIFY(serverSawDisconnect.load());
}

QTEST_GUILESS_MAIN(tst_EpollDispatcher)
#include "tst_epolldispatcher.moc"
