#pragma once

#include "result.h"

#include <QDateTime>
#include <QGroupBox>
#include <QJsonObject>

#include <array>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTabWidget;

namespace Herald {

class RestApi;

// The compose panel: a message with the notification fields (priority, tags, click, up to three actions,
// expiry, `replaces`) and an optional schedule, published with POST /api/publish. The answer is shown as
// the server gives it: the new id, the schedule's handle, or the refusal naming the bad field.
class ComposePanel : public QGroupBox
{
    Q_OBJECT

public:
    enum Target
    {
        Everyone,
        User,
        Channel,
    };
    enum Delivery
    {
        Now,
        At,
        Delay,
    };
    static constexpr int ActionRows = 3;

    // `rest` must outlive the panel.
    explicit ComposePanel(RestApi *rest, QWidget *parent = nullptr);

    // The body the form stands for, or what is wrong with it (as the panel would say it). Empty fields are
    // left out, so the server applies its defaults; everything else is sent as typed, for the server to
    // judge.
    Result<QJsonObject, QString> publishBody() const;
    // Publishes the form; the answer lands in the result line.
    void send();
    void setSendEnabled(bool enabled);
    QString resultText() const;

Q_SIGNALS:
    void published(qint64 id, const QString &channel);
    void scheduled(const QString &handle, const QString &channel, const QDateTime &at);

private:
    struct ActionRow
    {
        QComboBox *kind = nullptr; // none, view, reply
        QLineEdit *label = nullptr;
        QLineEdit *target = nullptr;  // view: the URL; reply: the channel
        QLineEdit *message = nullptr; // reply: the text
    };

    QWidget *buildMessagePage();
    QWidget *buildOptionsPage();
    QWidget *buildActionsPage();
    void updateTarget();
    void updateDelivery();
    void updateActionRow(const ActionRow &row);
    void setResult(const QString &text, bool error);

    RestApi *m_rest;
    quint64 m_sent = 0; // the latest send's number: an older send's answer does not overwrite a newer one's

    QTabWidget *m_pages = nullptr;
    QComboBox *m_target = nullptr;
    QLineEdit *m_recipient = nullptr;
    QLineEdit *m_type = nullptr;
    QLineEdit *m_title = nullptr;
    QLineEdit *m_text = nullptr;
    QComboBox *m_priority = nullptr;
    QLineEdit *m_tags = nullptr;
    QLineEdit *m_click = nullptr;
    QLineEdit *m_expires = nullptr;
    QLineEdit *m_replaces = nullptr;
    QComboBox *m_delivery = nullptr;
    QLineEdit *m_when = nullptr;
    std::array<ActionRow, ActionRows> m_actions{};
    QPushButton *m_send = nullptr;
    QLabel *m_result = nullptr;
};

} // namespace Herald
