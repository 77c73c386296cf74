#pragma once

#include "result.h"
#include "serverconfig.h"

#include <QStringList>

namespace Herald {

// What the command line asked for: run with a config, or just print something and exit.
struct ServerOptions
{
    enum class Action
    {
        Run,
        Help,
        Version
    };
    Action action = Action::Run;
    QString text; // help or version text
    ServerConfig config;
};

// Parses herald-server's arguments (argv[0] first) and the --config file, if any. Command-line options win
// over the file. Errors are one line, without the program name.
Result<ServerOptions, QString> parseServerOptions(const QStringList &arguments);

} // namespace Herald
