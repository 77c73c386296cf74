#include "notifiersettings.h"

#include "notifierlogging.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>
#include <QSettings>
#include <QStandardPaths>

#include <qt6keychain/keychain.h>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
const auto KeyConfigured = u"connection/configured"_s;
const auto KeyServer = u"connection/server"_s;
const auto KeyUser = u"connection/user"_s;
const auto KeyChannels = u"connection/channels"_s;
const auto KeyMuted = u"notifications/muted"_s;
const auto KeychainService = u"herald-notifier"_s;
} // namespace

NotifierSettings::NotifierSettings(const QString &iniFile)
    : m_settings(iniFile.isEmpty() ? std::make_unique<QSettings>()
                                   : std::make_unique<QSettings>(iniFile, QSettings::IniFormat))
{}

NotifierSettings::~NotifierSettings() = default;

bool NotifierSettings::isConfigured() const
{
    return m_settings->value(KeyConfigured, false).toBool() && serverUrl().isValid();
}

QUrl NotifierSettings::serverUrl() const
{
    return QUrl(m_settings->value(KeyServer).toString());
}

void NotifierSettings::setServerUrl(const QUrl &url)
{
    m_settings->setValue(KeyServer, url.toString());
    m_settings->setValue(KeyConfigured, url.isValid());
}

QString NotifierSettings::userId() const
{
    return m_settings->value(KeyUser).toString();
}

void NotifierSettings::setUserId(const QString &id)
{
    m_settings->setValue(KeyUser, id);
}

QStringList NotifierSettings::channels() const
{
    return m_settings->value(KeyChannels).toStringList();
}

void NotifierSettings::setChannels(const QStringList &channels)
{
    m_settings->setValue(KeyChannels, channels);
}

bool NotifierSettings::muted() const
{
    return m_settings->value(KeyMuted, false).toBool();
}

void NotifierSettings::setMuted(bool muted)
{
    m_settings->setValue(KeyMuted, muted);
}

void NotifierSettings::sync()
{
    m_settings->sync();
}

QString NotifierSettings::fileName() const
{
    return m_settings->fileName();
}

TokenStore::TokenStore(QObject *parent)
    : QObject(parent)
{}

QString TokenStore::keyFor(const QUrl &server)
{
    return server
        .adjusted(QUrl::RemovePath | QUrl::RemoveQuery | QUrl::RemoveFragment | QUrl::RemoveUserInfo |
                  QUrl::StripTrailingSlash)
        .toString();
}

void TokenStore::read(const QUrl &server)
{
    auto *job = new QKeychain::ReadPasswordJob(KeychainService, this);
    job->setKey(keyFor(server));
    connect(job, &QKeychain::Job::finished, this, [this, job] {
        if (job->error() == QKeychain::NoError)
            Q_EMIT tokenRead(job->textData(), {});
        else if (job->error() == QKeychain::EntryNotFound)
            Q_EMIT tokenRead({}, {});
        else
            Q_EMIT tokenRead({}, job->errorString());
    });
    job->start();
}

void TokenStore::write(const QUrl &server, const QString &token)
{
    auto *job = new QKeychain::WritePasswordJob(KeychainService, this);
    job->setKey(keyFor(server));
    job->setTextData(token);
    connect(job, &QKeychain::Job::finished, this, [this, job] {
        const bool ok = job->error() == QKeychain::NoError;
        if (!ok)
            qCWarning(lcNotifier) << "the token was not kept in the keyring:" << job->errorString();
        Q_EMIT tokenWritten(ok, ok ? QString() : job->errorString());
    });
    job->start();
}

void TokenStore::remove(const QUrl &server)
{
    auto *job = new QKeychain::DeletePasswordJob(KeychainService, this);
    job->setKey(keyFor(server));
    job->start();
}

namespace Autostart {

QString entryPath()
{
    return QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation) +
           u"/autostart/herald-notifier.desktop"_s;
}

bool isEnabled()
{
    return QFile::exists(entryPath());
}

bool setEnabled(bool enabled, const QString &command)
{
    const QString path = entryPath();
    if (!enabled)
        return !QFile::exists(path) || QFile::remove(path);
    if (!QDir().mkpath(QFileInfo(path).absolutePath()))
        return false;
    QString exec = command;
    if (exec.isEmpty()) {
        const QString program = QCoreApplication::applicationFilePath();
        exec = program.isEmpty() ? u"herald-notifier"_s : program;
    }
    // Exec quoting (Desktop Entry spec): a path with spaces or quotes goes in double quotes, escaped.
    if (exec.contains(u' ') || exec.contains(u'"')) {
        QString escaped = exec;
        escaped.replace(u'\\', u"\\\\"_s).replace(u'"', u"\\\""_s).replace(u'$', u"\\$"_s);
        exec = u'"' + escaped + u'"';
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return false;
    const QString entry = u"[Desktop Entry]\n"
                          "Type=Application\n"
                          "Name=Herald Notifier\n"
                          "Comment=Desktop notifications from a Herald server\n"
                          "Exec=%1\n"
                          "Icon=herald-notifier\n"
                          "Terminal=false\n"
                          "X-GNOME-Autostart-enabled=true\n"_s.arg(exec);
    file.write(entry.toUtf8());
    return file.commit();
}

} // namespace Autostart

} // namespace Herald
