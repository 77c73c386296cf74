#pragma once

// A program a test runs to its end (herald-server, herald-dashboard): its exit code and what it wrote.

#include <QByteArray>
#include <QProcess>

namespace HeraldTest {

struct ProcessRun
{
    int exitCode = -1; // -1 also when it crashed or had to be killed
    QByteArray out;
    QByteArray err;
};

// What `p` did, given whether it finished in time: killed first where it did not.
inline ProcessRun collectRun(QProcess &p, bool finished)
{
    if (!finished) {
        p.kill();
        p.waitForFinished();
    }
    ProcessRun r;
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

} // namespace HeraldTest
