#pragma once

#include <QDialog>
#include <QStringList>
#include <QUrl>

class QCheckBox;
class QLineEdit;
class QRadioButton;

namespace Herald {

// The first-run dialog, and the same later from the tray menu: the server, a token or (open mode) a user
// id, the channels to follow, start at login and mute.
class SettingsDialog : public QDialog
{
    Q_OBJECT

public:
    struct Values
    {
        QUrl server;
        bool useToken = false;
        QString token;
        QString userId;
        QStringList channels;
        bool autostart = false;
        bool muted = false;
    };

    explicit SettingsDialog(QWidget *parent = nullptr);

    void setValues(const Values &values);
    Values values() const;
    // Empty when the values can be used; else what is wrong, for the person.
    QString problem() const;

    void accept() override;

private:
    void updateEnabled();

    QLineEdit *m_server;
    QRadioButton *m_tokenMode;
    QRadioButton *m_userMode;
    QLineEdit *m_token;
    QLineEdit *m_user;
    QLineEdit *m_channels;
    QCheckBox *m_autostart;
    QCheckBox *m_muted;
};

} // namespace Herald
