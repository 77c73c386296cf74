#pragma once

#include "auth.h"
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
        Version,
        Token, // `herald-server token …`: print a signed token
    };
    Action action = Action::Run;
    QString text; // help or version text
    ServerConfig config;
    struct TokenRequest
    {
        QString subject;
        Role role = Role::Subscriber;
        std::chrono::seconds ttl{3600};
        QStringList channels;
    } token;
};

// Parses herald-server's arguments (argv[0] first) and the --config file, if any. Command-line options win
// over the file. Errors are one line, without the program name.
Result<ServerOptions, QString> parseServerOptions(const QStringList &arguments);

} // namespace Herald
