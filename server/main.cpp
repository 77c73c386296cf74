#include "auth.h"
#include "logging.h"
#include "server.h"
#include "serveroptions.h"
#include "signalwatcher.h"

#include <QCoreApplication>

#include <cstdio>

int main(int argc, char *argv[])
{
    // Qt's glib dispatcher spends most of its time in notifier bookkeeping past a few thousand sockets; the
    // plain UNIX dispatcher does not. Set before the application object exists, unless the user chose.
    if (!qEnvironmentVariableIsSet("QT_NO_GLIB"))
        qputenv("QT_NO_GLIB", "1");

    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("herald-server"));
    QCoreApplication::setApplicationVersion(QStringLiteral(HERALD_VERSION));

    const auto options = Herald::parseServerOptions(QCoreApplication::arguments());
    if (!options) {
        std::fprintf(stderr, "herald-server: %s\n", qPrintable(options.error()));
        return 2;
    }
    if (options->action == Herald::ServerOptions::Action::Token) {
        const auto secret = Herald::readSecretFile(options->config.jwtSecretFile);
        if (!secret) {
            std::fprintf(stderr, "herald-server: %s\n", qPrintable(secret.error()));
            return 2;
        }
        const auto &t = options->token;
        const QByteArray token = Herald::TokenVerifier(*secret).mint(t.subject, t.role, t.ttl, t.channels);
        if (token.isEmpty()) {
            std::fprintf(stderr, "herald-server: cannot sign the token\n");
            return 1;
        }
        std::printf("%s\n", token.constData());
        return 0;
    }
    if (options->action != Herald::ServerOptions::Action::Run) {
        std::fputs(qPrintable(options->text), stdout);
        return 0;
    }
    Herald::applyLogLevel(options->config.logLevel);

    Herald::Server server(options->config);
    if (!server.start()) {
        std::fprintf(stderr, "herald-server: %s\n", qPrintable(server.errorString()));
        return 1;
    }
    Herald::SignalWatcher watcher;
    QObject::connect(&watcher, &Herald::SignalWatcher::terminationRequested, &server, &Herald::Server::stop);
    QObject::connect(&server, &Herald::Server::stopped, &app, [] { QCoreApplication::exit(0); });
    return app.exec();
}
