#pragma once

#include "result.h"

#include <QStringList>
#include <QUrl>

namespace Herald {

// herald-dashboard's command line: watch a remote server (--connect), or run an embedded one.
struct DashboardOptions
{
    enum class Action
    {
        Run,
        Help,
        Version
    };
    Action action = Action::Run;
    QString text; // help or version text

    QUrl connectUrl; // the admin feed of a remote server; empty = embedded mode
    QString token;
    bool tokenGiven = false;

    // Embedded server.
    quint16 port = 8000;
    QString dataDir; // empty: under the application data location
    int demoIntervalSeconds = 0;

    // Hidden, for documentation and CI: grab the window to a PNG after a delay, then quit.
    QString screenshotFile;
    int screenshotDelayMs = 3000;

    bool isEmbedded() const { return connectUrl.isEmpty(); }
};

// Parses the arguments (argv[0] first). Errors are one line, without the program name.
Result<DashboardOptions, QString> parseDashboardOptions(const QStringList &arguments);

} // namespace Herald
