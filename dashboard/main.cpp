#include "dashboardoptions.h"
#include "embeddedserver.h"
#include "mainwindow.h"
#include "settings.h"

#include <QApplication>
#include <QMessageBox>
#include <QTimer>

#include <cstdio>

using namespace Qt::StringLiterals;

int main(int argc, char *argv[])
{
    // Parse before QApplication exists, so --help and argument errors work without a display.
    QStringList arguments;
    for (int i = 0; i < argc; ++i)
        arguments.append(QString::fromLocal8Bit(argv[i]));
    const auto options = Herald::parseDashboardOptions(arguments);
    if (!options) {
        std::fprintf(stderr, "herald-dashboard: %s\n", qPrintable(options.error()));
        return 2;
    }
    if (options->action != Herald::DashboardOptions::Action::Run) {
        std::fputs(qPrintable(options->text), stdout);
        return 0;
    }

    QApplication app(argc, argv);
    QApplication::setOrganizationName(u"Herald"_s);
    QApplication::setApplicationName(u"herald-dashboard"_s);
    QApplication::setApplicationDisplayName(u"Herald Dashboard"_s);
    QApplication::setApplicationVersion(QStringLiteral(HERALD_VERSION));
    QApplication::setDesktopFileName(u"herald-dashboard"_s);

    Herald::Settings settings;
    Herald::MainWindow window(&settings);
    Herald::EmbeddedServer embedded;

    if (options->isEmbedded()) {
        if (!embedded.start(options->port, options->dataDir, options->demoIntervalSeconds)) {
            const QString error = embedded.errorString();
            std::fprintf(stderr, "herald-dashboard: embedded server: %s\n", qPrintable(error));
            QMessageBox::critical(
                nullptr, QApplication::applicationDisplayName(),
                QApplication::translate("main", "The embedded server did not start:\n%1").arg(error));
            return 1;
        }
        QString description = QApplication::translate("main", "Embedded server on 127.0.0.1:%1, data in %2")
                                  .arg(embedded.port())
                                  .arg(embedded.dataDir());
        if (embedded.usedFallbackPort())
            description +=
                QApplication::translate("main", " (port %1 was busy)").arg(embedded.requestedPort());
        window.setServerDescription(description);
        window.watch(embedded.feedUrl(), QString());
    } else {
        // A saved token belongs to the saved server; never send it to another one.
        QString token = options->token;
        if (!options->tokenGiven &&
            Herald::AdminClient::feedUrl(settings.serverUrl().toString()) == options->connectUrl)
            token = settings.token();
        window.setServerDescription(QApplication::translate("main", "Remote server"));
        window.watch(options->connectUrl, token);
    }
    window.show();

    int status = 0;
    if (!options->screenshotFile.isEmpty()) {
        QTimer::singleShot(options->screenshotDelayMs, &window, [&] {
            if (window.saveScreenshot(options->screenshotFile)) {
                std::printf("saved %s\n", qPrintable(options->screenshotFile));
            } else {
                std::fprintf(stderr, "herald-dashboard: cannot write %s\n",
                             qPrintable(options->screenshotFile));
                status = 1;
            }
            QApplication::quit();
        });
    }

    const int code = app.exec();
    window.adminClient()->close();
    embedded.stop();
    return status != 0 ? status : code;
}
