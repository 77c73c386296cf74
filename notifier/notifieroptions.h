#pragma once

#include "result.h"

#include <QStringList>
#include <QUrl>

namespace Herald {

// herald-notifier's command line. With --server it starts without the first-run dialog (scripted starts,
// tests); without it, it uses what the settings hold, or asks.
struct NotifierOptions
{
    enum class Action
    {
        Run,
        Help,
        Version
    };
    Action action = Action::Run;
    QString text; // help or version text

    QUrl server;          // empty: the saved one
    QString userId;       // open mode
    QString tokenFile;    // a file holding the token (first line)
    QStringList channels; // besides the user's own queue
    bool channelsGiven = false;
    // Hidden, for the README: sample notifications, the history window and the tray menu saved as a PNG.
    QString screenshotFile;

    bool skipsDialog() const { return !server.isEmpty(); }
};

Result<NotifierOptions, QString> parseNotifierOptions(const QStringList &arguments);

// The token in a --token-file: its first line, trimmed. An error names the file.
Result<QString, QString> readTokenFile(const QString &path);

// "a, b,c" → {"a","b","c"}; empty parts dropped.
QStringList splitChannels(const QString &text);

} // namespace Herald
