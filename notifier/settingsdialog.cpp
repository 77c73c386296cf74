#include "settingsdialog.h"

#include "channelname.h"
#include "notifieroptions.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QRadioButton>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace Herald {

SettingsDialog::SettingsDialog(QWidget *parent)
    : QDialog(parent)
    , m_server(new QLineEdit(this))
    , m_tokenMode(new QRadioButton(tr("Token"), this))
    , m_userMode(new QRadioButton(tr("User id (open server)"), this))
    , m_token(new QLineEdit(this))
    , m_user(new QLineEdit(this))
    , m_channels(new QLineEdit(this))
    , m_autostart(new QCheckBox(tr("Start at login"), this))
    , m_muted(new QCheckBox(tr("Mute pop-ups"), this))
{
    setWindowTitle(tr("Herald notifier settings"));
    m_server->setPlaceholderText(u"https://herald.example.com"_s);
    m_token->setEchoMode(QLineEdit::Password);
    m_token->setPlaceholderText(tr("kept in the desktop keyring"));
    m_user->setPlaceholderText(u"1"_s);
    m_channels->setPlaceholderText(tr("news, alerts (besides your own queue)"));
    m_tokenMode->setChecked(true);

    auto *form = new QFormLayout;
    form->addRow(tr("Server"), m_server);
    form->addRow(m_tokenMode, m_token);
    form->addRow(m_userMode, m_user);
    form->addRow(tr("Channels"), m_channels);
    form->addRow(QString(), m_autostart);
    form->addRow(QString(), m_muted);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(buttons);
    connect(buttons, &QDialogButtonBox::accepted, this, &SettingsDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &SettingsDialog::reject);
    connect(m_tokenMode, &QRadioButton::toggled, this, &SettingsDialog::updateEnabled);
    updateEnabled();
}

void SettingsDialog::updateEnabled()
{
    m_token->setEnabled(m_tokenMode->isChecked());
    m_user->setEnabled(!m_tokenMode->isChecked());
}

void SettingsDialog::setValues(const Values &values)
{
    m_server->setText(values.server.toString());
    (values.useToken ? m_tokenMode : m_userMode)->setChecked(true);
    m_token->setText(values.token);
    m_user->setText(values.userId);
    m_channels->setText(values.channels.join(u", "_s));
    m_autostart->setChecked(values.autostart);
    m_muted->setChecked(values.muted);
    updateEnabled();
}

SettingsDialog::Values SettingsDialog::values() const
{
    Values v;
    v.server = QUrl(m_server->text().trimmed(), QUrl::StrictMode);
    v.useToken = m_tokenMode->isChecked();
    v.token = v.useToken ? m_token->text().trimmed() : QString();
    v.userId = v.useToken ? QString() : m_user->text().trimmed();
    v.channels = splitChannels(m_channels->text());
    v.autostart = m_autostart->isChecked();
    v.muted = m_muted->isChecked();
    return v;
}

QString SettingsDialog::problem() const
{
    const Values v = values();
    const QString scheme = v.server.scheme();
    if (!v.server.isValid() || v.server.host().isEmpty() ||
        (scheme != "http"_L1 && scheme != "https"_L1 && scheme != "ws"_L1 && scheme != "wss"_L1))
        return tr("The server must be an http or https address, e.g. https://herald.example.com.");
    if (v.useToken && v.token.isEmpty())
        return tr("Enter your token, or choose a user id if the server runs in open mode.");
    if (!v.useToken && (v.userId.isEmpty() || !isValidChannelName(QString(u"user:"_s + v.userId))))
        return tr("Enter your user id.");
    for (const QString &channel : v.channels) {
        if (!isValidChannelName(channel))
            return tr("'%1' is not a channel name.").arg(channel);
    }
    return {};
}

void SettingsDialog::accept()
{
    const QString why = problem();
    if (!why.isEmpty()) {
        QMessageBox::warning(this, windowTitle(), why);
        return;
    }
    QDialog::accept();
}

} // namespace Herald
