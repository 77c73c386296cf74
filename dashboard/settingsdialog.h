#pragma once

#include <QDialog>
#include <QUrl>

class QCheckBox;
class QLabel;
class QLineEdit;
class QSlider;

namespace Herald {

// Server URL, token and sound. The caller reads the values back after exec() and stores them.
class SettingsDialog : public QDialog
{
    Q_OBJECT

public:
    explicit SettingsDialog(QWidget *parent = nullptr);

    // What the dashboard watches now, so the hint can say whether OK changes it.
    void setCurrentServer(const QUrl &url, const QString &token);
    void setServerUrl(const QString &url);
    QString serverUrlText() const;
    // The admin feed URL the text stands for, or empty.
    QUrl serverUrl() const;
    void setToken(const QString &token);
    QString token() const;
    void setOperatorName(const QString &name);
    // What the field says, or the default (the login name) when it is empty.
    QString operatorName() const;
    void setMuted(bool muted);
    bool muted() const;
    void setVolume(double volume);
    double volume() const;

private:
    void validate();

    QLineEdit *m_url = nullptr;
    QLineEdit *m_token = nullptr;
    QLineEdit *m_operator = nullptr;
    QCheckBox *m_muted = nullptr;
    QSlider *m_volume = nullptr;
    QLabel *m_hint = nullptr;
    QWidget *m_ok = nullptr;
    QUrl m_currentUrl;
    QString m_currentToken;
};

} // namespace Herald
