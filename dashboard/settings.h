#pragma once

#include <QByteArray>
#include <QString>
#include <QUrl>

#include <memory>

class QSettings;

namespace Herald {

// The dashboard's persistent settings (server URL, token, sound, window layout) over QSettings, with the
// keys in one place.
class Settings
{
public:
    // Empty: the platform's usual place for this application. Otherwise an INI file (tests, portable use).
    explicit Settings(const QString &iniFile = {});
    ~Settings();
    Settings(const Settings &) = delete;
    Settings &operator=(const Settings &) = delete;

    QUrl serverUrl() const;
    void setServerUrl(const QUrl &url);
    QString token() const;
    void setToken(const QString &token);
    // The name the compose panel publishes as (the admin feed's client id, which an open server gives as
    // the sender); the login name until one is set.
    QString operatorName() const;
    void setOperatorName(const QString &name);
    // The login name made a valid client id ([A-Za-z0-9_.:-], at most 121), or "operator".
    static QString defaultOperatorName();
    bool soundMuted() const;
    void setSoundMuted(bool muted);
    double soundVolume() const;
    void setSoundVolume(double volume);
    QByteArray windowGeometry() const;
    void setWindowGeometry(const QByteArray &geometry);
    QByteArray windowState() const;
    void setWindowState(const QByteArray &state);

    void sync();
    QString fileName() const;

private:
    std::unique_ptr<QSettings> m_settings;
};

} // namespace Herald
