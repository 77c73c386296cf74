#pragma once

#include <QObject>
#include <QStringList>
#include <QUrl>

#include <functional>
#include <memory>

class QSettings;

namespace Herald {

// What the notifier keeps between runs, except the token: the server, the user id (open mode), the channels
// followed besides the user's queue, and mute. Where to resume is the client's own file, one per server and
// user (NotifierLink::resumeFileFor).
class NotifierSettings
{
public:
    // Empty: the platform's usual place for this application. Otherwise an INI file (tests, portable use).
    explicit NotifierSettings(const QString &iniFile = {});
    ~NotifierSettings();
    NotifierSettings(const NotifierSettings &) = delete;
    NotifierSettings &operator=(const NotifierSettings &) = delete;

    // Set once the first-run dialog was accepted: later starts go straight to the tray.
    bool isConfigured() const;
    QUrl serverUrl() const;
    void setServerUrl(const QUrl &url);
    QString userId() const;
    void setUserId(const QString &id);
    QStringList channels() const;
    void setChannels(const QStringList &channels);
    bool muted() const;
    void setMuted(bool muted);

    void sync();
    QString fileName() const;

private:
    std::unique_ptr<QSettings> m_settings;
};

// The token, in the desktop keyring (QtKeychain: the Secret Service, KWallet). Asynchronous, as the keyring
// may ask the person to unlock it. Where no keyring answers, the token is not kept: it is never written to
// the settings file in clear.
class TokenStore : public QObject
{
    Q_OBJECT

public:
    explicit TokenStore(QObject *parent = nullptr);

    // The key the token is filed under: one per server, so a token is never sent to another server.
    static QString keyFor(const QUrl &server);

    void read(const QUrl &server);
    void write(const QUrl &server, const QString &token);
    void remove(const QUrl &server);

Q_SIGNALS:
    // The token read (empty if none is kept); error says why not, if the keyring failed.
    void tokenRead(const QString &token, const QString &error);
    void tokenWritten(bool ok, const QString &error);
};

// Start at login: an XDG autostart entry ($XDG_CONFIG_HOME/autostart/herald-notifier.desktop).
namespace Autostart {
QString entryPath();
bool isEnabled();
// Writes or removes the entry; `command` is what it starts (default: this program). False on an I/O error.
bool setEnabled(bool enabled, const QString &command = {});
} // namespace Autostart

} // namespace Herald
