// herald-listen URL USER [TOKEN]: prints the user's notifications as they come, and the ones missed while it
// was not running (it keeps its position in herald-listen.json), marking each one read.
#include <HeraldClient/client.h>

#include <QCoreApplication>
#include <QTextStream>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() < 3) {
        QTextStream(stderr) << "usage: herald-listen ws://host:8000 USER_ID [TOKEN]\n";
        return 2;
    }
    Herald::Client client;
    client.setServerUrl(QUrl(args.at(1)));
    client.setUserId(args.at(2)); // user:<id> and its read events on reads:<id>
    if (args.size() > 3)
        client.setToken(args.at(3));
    client.setResumeFile(QStringLiteral("herald-listen.json"));
    QTextStream out(stdout);
    QObject::connect(&client, &Herald::Client::messageReceived, &app,
                     [&](const Herald::Message &m, Herald::Client::Delivery delivery) {
                         out << (delivery == Herald::Client::Delivery::Replayed ? "missed " : "") << m.id
                             << ' ' << m.title << ": " << m.message << Qt::endl;
                         client.markRead({m.id});
                     });
    QObject::connect(&client, &Herald::Client::stateChanged, &app,
                     [&](Herald::Client::State, const QString &text) { out << text << Qt::endl; });
    QObject::connect(
        &client, &Herald::Client::errorOccurred, &app,
        [&](Herald::Client::Error, const QString &text) { out << "error: " << text << Qt::endl; });
    client.open();
    return app.exec();
}
