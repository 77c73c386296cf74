#include "settings.h"

#include "channelname.h"

#include <QDir>
#include <QSettings>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
const QString KeyServerUrl = u"server/url"_s;
const QString KeyToken = u"server/token"_s;
const QString KeyOperator = u"compose/operator"_s;
const QString KeyMuted = u"sound/muted"_s;
const QString KeyVolume = u"sound/volume"_s;
const QString KeyGeometry = u"window/geometry"_s;
const QString KeyState = u"window/state"_s;
} // namespace

Settings::Settings(const QString &iniFile)
    : m_settings(iniFile.isEmpty() ? std::make_unique<QSettings>()
                                   : std::make_unique<QSettings>(iniFile, QSettings::IniFormat))
{}

Settings::~Settings() = default;

QUrl Settings::serverUrl() const
{
    return QUrl(m_settings->value(KeyServerUrl).toString());
}

void Settings::setServerUrl(const QUrl &url)
{
    m_settings->setValue(KeyServerUrl, url.toString());
}

QString Settings::operatorName() const
{
    const QString name = m_settings->value(KeyOperator).toString();
    return isValidIdentifier(name) ? name : defaultOperatorName();
}

void Settings::setOperatorName(const QString &name)
{
    // The default is not stored, so it follows the login name.
    if (name.isEmpty() || name == defaultOperatorName())
        m_settings->remove(KeyOperator);
    else
        m_settings->setValue(KeyOperator, name);
}

QString Settings::defaultOperatorName()
{
    QString login = qEnvironmentVariable("USER");
    if (login.isEmpty())
        login = qEnvironmentVariable("LOGNAME");
    if (login.isEmpty())
        login = QDir::home().dirName();
    QString name;
    for (const QChar c : std::as_const(login)) {
        const bool ok = (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9') ||
                        c == u'_' || c == u'.' || c == u':' || c == u'-';
        name.append(ok ? c : u'_');
    }
    name.truncate(121);
    return isValidIdentifier(name) ? name : u"operator"_s;
}

QString Settings::token() const
{
    return m_settings->value(KeyToken).toString();
}

void Settings::setToken(const QString &token)
{
    if (token.isEmpty())
        m_settings->remove(KeyToken);
    else
        m_settings->setValue(KeyToken, token);
}

bool Settings::soundMuted() const
{
    return m_settings->value(KeyMuted, false).toBool();
}

void Settings::setSoundMuted(bool muted)
{
    m_settings->setValue(KeyMuted, muted);
}

double Settings::soundVolume() const
{
    return qBound(0.0, m_settings->value(KeyVolume, 0.8).toDouble(), 1.0);
}

void Settings::setSoundVolume(double volume)
{
    m_settings->setValue(KeyVolume, qBound(0.0, volume, 1.0));
}

QByteArray Settings::windowGeometry() const
{
    return m_settings->value(KeyGeometry).toByteArray();
}

void Settings::setWindowGeometry(const QByteArray &geometry)
{
    m_settings->setValue(KeyGeometry, geometry);
}

QByteArray Settings::windowState() const
{
    return m_settings->value(KeyState).toByteArray();
}

void Settings::setWindowState(const QByteArray &state)
{
    m_settings->setValue(KeyState, state);
}

void Settings::sync()
{
    m_settings->sync();
}

QString Settings::fileName() const
{
    return m_settings->fileName();
}

} // namespace Herald
