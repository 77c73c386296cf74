#pragma once

// A person's desktop for the notifier's suites: an Xvfb display and Debian's dunst on the private session bus
// that dbus-session.sh starts (ctest runs those suites through it), and what dunst received, read back with
// `dunstctl history`.

#include "processrun.h"

#include <QDBusConnection>
#include <QDBusConnectionInterface>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QProcess>
#include <QStandardPaths>
#include <QString>
#include <QStringList>
#include <QTest>

namespace HeraldTest {

class DunstDesktop
{
public:
    // dunst's timeouts per urgency, set apart so that `dunstctl history` (which lists no urgency) tells the
    // urgency a pop-up arrived with through its timeout.
    static constexpr qint64 LowTimeoutS = 1001;
    static constexpr qint64 NormalTimeoutS = 1002;
    static constexpr qint64 CriticalTimeoutS = 1003;

    struct Popup
    {
        QString summary;
        QString body;
        qint64 timeoutS = 0;
    };

    static QString urgencyOfTimeout(qint64 seconds)
    {
        switch (seconds) {
        case LowTimeoutS:
            return QStringLiteral("low");
        case NormalTimeoutS:
            return QStringLiteral("normal");
        case CriticalTimeoutS:
            return QStringLiteral("critical");
        default:
            return QStringLiteral("timeout %1 s").arg(seconds);
        }
    }

    // Why this machine cannot run the suite (a program missing, no session bus), for QSKIP; empty if it can.
    static QString missing(const QStringList &morePrograms = {})
    {
        for (const QString &program :
             QStringList{QStringLiteral("Xvfb"), QStringLiteral("dunst"), QStringLiteral("dunstctl")} +
                 morePrograms) {
            if (QStandardPaths::findExecutable(program).isEmpty())
                return QStringLiteral("%1 not found (scripts/herald deps installs it)").arg(program);
        }
        if (qEnvironmentVariableIsEmpty("DBUS_SESSION_BUS_ADDRESS"))
            return QStringLiteral("no session bus: run through tests/notifier/dbus-session.sh (ctest does)");
        return {};
    }

    ~DunstDesktop() { stop(); }

    // Starts Xvfb and dunst, its dunstrc written to `dir` with `moreGlobal` added to its [global] section,
    // and waits until dunst owns the notification service. False, with a warning, if either did not come up.
    bool start(const QString &dir, const QByteArray &moreGlobal = {})
    {
        // Xvfb picks a free display and writes its number to the descriptor given (its stdout here).
        m_xvfb.start(QStringLiteral("Xvfb"),
                     {QStringLiteral("-displayfd"), QStringLiteral("1"), QStringLiteral("-nolisten"),
                      QStringLiteral("tcp"), QStringLiteral("-screen"), QStringLiteral("0"),
                      QStringLiteral("800x600x24")});
        if (!m_xvfb.waitForStarted() || !QTest::qWaitFor([this] { return m_xvfb.canReadLine(); }, 20'000)) {
            qWarning("Xvfb did not start");
            return false;
        }
        const QString display = u':' + QString::fromLatin1(m_xvfb.readLine().trimmed());

        const QString rc = dir + QStringLiteral("/dunstrc");
        QFile file(rc);
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
            qWarning() << "cannot write" << rc;
            return false;
        }
        file.write("[global]\n    show_indicators = no\n    history_length = 1000\n" + moreGlobal +
                   "[urgency_low]\n    timeout = " + QByteArray::number(LowTimeoutS) +
                   "\n[urgency_normal]\n    timeout = " + QByteArray::number(NormalTimeoutS) +
                   "\n[urgency_critical]\n    timeout = " + QByteArray::number(CriticalTimeoutS) + "\n");
        file.close();

        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("DISPLAY"), display);
        env.remove(QStringLiteral("WAYLAND_DISPLAY"));
        m_dunst.setProcessEnvironment(env);
        m_dunst.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_dunst.setStandardOutputFile(QProcess::nullDevice());
        m_dunst.start(QStringLiteral("dunst"), {QStringLiteral("-conf"), rc});
        const auto registered = [] {
            return QDBusConnection::sessionBus().interface()->isServiceRegistered(
                QStringLiteral("org.freedesktop.Notifications"));
        };
        if (!m_dunst.waitForStarted() || !QTest::qWaitFor(registered, 20'000)) {
            qWarning("dunst did not take the notification service");
            return false;
        }
        return true;
    }

    void stop()
    {
        for (QProcess *p : {&m_dunst, &m_xvfb}) {
            if (p->state() != QProcess::NotRunning) {
                p->terminate();
                if (!p->waitForFinished(5000)) {
                    p->kill();
                    p->waitForFinished();
                }
            }
        }
    }

    ProcessRun dunstctl(const QStringList &args)
    {
        QProcess p;
        p.start(QStringLiteral("dunstctl"), args);
        const ProcessRun run = collectRun(p, p.waitForFinished(15'000));
        if (run.exitCode != 0)
            qWarning() << "dunstctl" << args << "exited" << run.exitCode << run.err;
        return run;
    }

    // Closes what is open; from now on history() lists only what arrives after this (dunst 1.9 cannot clear
    // its history over D-Bus). Each test calls it first.
    void reset()
    {
        dunstctl({QStringLiteral("close-all")});
        m_historyBase = fullHistory().size();
    }

    // What dunst received since reset(), oldest first.
    QList<Popup> history() { return fullHistory().mid(m_historyBase); }
    // The same, after closing what is open (a pop-up still shown is not in dunst's history yet).
    QList<Popup> closeAllAndListHistory()
    {
        dunstctl({QStringLiteral("close-all")});
        return history();
    }
    int displayedCount()
    {
        return dunstctl({QStringLiteral("count"), QStringLiteral("displayed")}).out.trimmed().toInt();
    }

private:
    QList<Popup> fullHistory()
    {
        const ProcessRun run = dunstctl({QStringLiteral("history")});
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(run.out, &error);
        if (error.error != QJsonParseError::NoError) {
            qWarning() << "dunstctl history printed no JSON:" << run.out << run.err;
            return {};
        }
        QList<Popup> popups;
        // {"type":"aa{sv}","data":[[{"summary":{"type":"s","data":"…"},…},…]]}, newest first; the timeout
        // in microseconds.
        const QJsonArray list = doc.object().value(QLatin1String("data")).toArray().at(0).toArray();
        for (const QJsonValue &entry : list) {
            const QJsonObject o = entry.toObject();
            const auto field = [&o](const char *name) {
                return o.value(QLatin1String(name)).toObject().value(QLatin1String("data"));
            };
            popups.prepend(Popup{field("summary").toString(), field("body").toString(),
                                 static_cast<qint64>(field("timeout").toDouble()) / 1'000'000});
        }
        return popups;
    }

    QProcess m_xvfb;
    QProcess m_dunst;
    qsizetype m_historyBase = 0;
};

} // namespace HeraldTest
