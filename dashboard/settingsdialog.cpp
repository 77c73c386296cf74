#include "settingsdialog.h"

#include "adminclient.h"
#include "channelname.h"
#include "settings.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSlider>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace Herald {

SettingsDialog::SettingsDialog(QWidget *parent)
    : QDialog(parent)
{
    setWindowTitle(tr("Herald Dashboard Settings"));
    m_url = new QLineEdit(this);
    m_url->setObjectName(u"settingsUrl"_s);
    m_url->setPlaceholderText(u"ws://127.0.0.1:8000"_s);
    m_token = new QLineEdit(this);
    m_token->setObjectName(u"settingsToken"_s);
    m_token->setEchoMode(QLineEdit::PasswordEchoOnEdit);
    m_token->setPlaceholderText(tr("none"));
    m_operator = new QLineEdit(this);
    m_operator->setObjectName(u"settingsOperator"_s);
    m_operator->setPlaceholderText(Settings::defaultOperatorName());
    m_operator->setToolTip(
        tr("The sender of what you publish from the compose panel. A server with --auth token "
           "names the token's subject instead."));
    m_muted = new QCheckBox(tr("Mute the notification sound"), this);
    m_muted->setObjectName(u"settingsMuted"_s);
    m_volume = new QSlider(Qt::Horizontal, this);
    m_volume->setRange(0, 100);
    m_hint = new QLabel(this);
    m_hint->setObjectName(u"settingsHint"_s);
    m_hint->setWordWrap(true);

    auto *form = new QFormLayout;
    form->addRow(tr("Server URL:"), m_url);
    form->addRow(tr("Admin token:"), m_token);
    form->addRow(tr("Operator name:"), m_operator);
    form->addRow(QString(), m_muted);
    form->addRow(tr("Volume:"), m_volume);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    m_ok = buttons->button(QDialogButtonBox::Ok);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_hint);
    layout->addWidget(buttons);

    connect(m_url, &QLineEdit::textChanged, this, &SettingsDialog::validate);
    connect(m_token, &QLineEdit::textChanged, this, &SettingsDialog::validate);
    connect(m_operator, &QLineEdit::textChanged, this, &SettingsDialog::validate);
    connect(m_muted, &QCheckBox::toggled, m_volume, &QWidget::setDisabled);
    validate();
    resize(460, sizeHint().height());
}

void SettingsDialog::validate()
{
    const bool empty = m_url->text().trimmed().isEmpty();
    const bool ok = empty || !serverUrl().isEmpty();
    const QString name = m_operator->text().trimmed();
    const bool nameOk = name.isEmpty() || isValidIdentifier(name);
    m_ok->setEnabled(ok && nameOk);
    if (!nameOk)
        m_hint->setText(
            tr("An operator name is 1 to 121 characters: letters, digits and _ . : - (no spaces)."));
    else if (!ok)
        m_hint->setText(tr("Not a usable URL: use ws://host:port, wss://, http:// or https://."));
    else if (empty)
        m_hint->setText(tr("No URL: the dashboard keeps watching its current server."));
    else if (serverUrl() == m_currentUrl && token() == m_currentToken)
        m_hint->setText(tr("The dashboard is watching %1.").arg(serverUrl().toDisplayString()));
    else
        m_hint->setText(
            tr("When you press OK, the dashboard connects to %1.").arg(serverUrl().toDisplayString()));
}

void SettingsDialog::setCurrentServer(const QUrl &url, const QString &token)
{
    m_currentUrl = url;
    m_currentToken = token;
    validate();
}

void SettingsDialog::setServerUrl(const QString &url)
{
    m_url->setText(url);
}

QString SettingsDialog::serverUrlText() const
{
    return m_url->text().trimmed();
}

QUrl SettingsDialog::serverUrl() const
{
    return AdminClient::feedUrl(m_url->text());
}

void SettingsDialog::setToken(const QString &token)
{
    m_token->setText(token);
}

QString SettingsDialog::token() const
{
    return m_token->text().trimmed();
}

void SettingsDialog::setOperatorName(const QString &name)
{
    m_operator->setText(name == Settings::defaultOperatorName() ? QString() : name);
}

QString SettingsDialog::operatorName() const
{
    const QString name = m_operator->text().trimmed();
    return name.isEmpty() ? Settings::defaultOperatorName() : name;
}

void SettingsDialog::setMuted(bool muted)
{
    m_muted->setChecked(muted);
    m_volume->setDisabled(muted);
}

bool SettingsDialog::muted() const
{
    return m_muted->isChecked();
}

void SettingsDialog::setVolume(double volume)
{
    m_volume->setValue(int(volume * 100.0 + 0.5));
}

double SettingsDialog::volume() const
{
    return m_volume->value() / 100.0;
}

} // namespace Herald
