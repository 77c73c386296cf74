#include "composepanel.h"

#include "channelname.h"
#include "messagemodel.h"
#include "notification.h"
#include "restapi.h"

#include <QComboBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QStyle>
#include <QTabWidget>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
enum ActionKind
{
    NoAction,
    ViewAction,
    ReplyAction,
};

QLineEdit *lineEdit(const QString &objectName, const QString &placeholder, QWidget *parent)
{
    auto *edit = new QLineEdit(parent);
    edit->setObjectName(objectName);
    edit->setPlaceholderText(placeholder);
    edit->setClearButtonEnabled(true);
    return edit;
}
} // namespace

ComposePanel::ComposePanel(RestApi *rest, QWidget *parent)
    : QGroupBox(tr("Compose"), parent)
    , m_rest(rest)
{
    setObjectName(u"compose"_s);
    m_pages = new QTabWidget(this);
    m_pages->setObjectName(u"composePages"_s);
    m_pages->setDocumentMode(true);
    m_pages->addTab(buildMessagePage(), tr("Message"));
    m_pages->addTab(buildOptionsPage(), tr("Options"));
    m_pages->addTab(buildActionsPage(), tr("Actions"));

    m_send = new QPushButton(style()->standardIcon(QStyle::SP_ArrowRight), tr("Send"), this);
    m_send->setObjectName(u"composeSend"_s);
    m_send->setDefault(true);
    m_result = new QLabel(this);
    m_result->setObjectName(u"composeResult"_s);
    m_result->setWordWrap(true);
    m_result->setTextFormat(Qt::PlainText); // the server's words, never markup
    m_result->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto *sendRow = new QHBoxLayout;
    sendRow->addStretch(1);
    sendRow->addWidget(m_send);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_pages, 1);
    layout->addLayout(sendRow);
    layout->addWidget(m_result);

    connect(m_send, &QPushButton::clicked, this, &ComposePanel::send);
    connect(m_text, &QLineEdit::returnPressed, this, &ComposePanel::send);
    setMinimumWidth(300);
    setMaximumWidth(460);
    updateTarget();
    updateDelivery();
}

QWidget *ComposePanel::buildMessagePage()
{
    auto *page = new QWidget;
    m_target = new QComboBox(page);
    m_target->setObjectName(u"composeTarget"_s);
    m_target->addItem(tr("Everyone (broadcast)"));
    m_target->addItem(tr("User"));
    m_target->addItem(tr("Channel"));
    m_recipient = lineEdit(u"composeRecipient"_s, QString(), page);
    m_type = lineEdit(u"composeType"_s, tr("server default"), page);
    m_title = lineEdit(u"composeTitle"_s, tr("optional"), page);
    m_text = lineEdit(u"composeText"_s, tr("Message text"), page);
    auto *form = new QFormLayout(page);
    form->addRow(tr("To:"), m_target);
    form->addRow(tr("User / channel:"), m_recipient);
    form->addRow(tr("Type:"), m_type);
    form->addRow(tr("Title:"), m_title);
    form->addRow(tr("Message:"), m_text);
    connect(m_target, &QComboBox::currentIndexChanged, this, &ComposePanel::updateTarget);
    return page;
}

QWidget *ComposePanel::buildOptionsPage()
{
    auto *page = new QWidget;
    m_priority = new QComboBox(page);
    m_priority->setObjectName(u"composePriority"_s);
    for (int p = 1; p <= 5; ++p)
        m_priority->addItem(MessageModel::priorityName(p), p);
    m_priority->setCurrentIndex(NotificationFields::DefaultPriority - 1);
    m_tags = lineEdit(u"composeTags"_s, tr("comma-separated, e.g. ci, build"), page);
    m_click = lineEdit(u"composeClick"_s, tr("https://… opened on a click"), page);
    m_expires = lineEdit(u"composeExpires"_s, tr("never; or 30m, 2h, 1d, or a time with a zone"), page);
    m_replaces = lineEdit(u"composeReplaces"_s, tr("id of a message this one updates"), page);
    m_delivery = new QComboBox(page);
    m_delivery->setObjectName(u"composeDelivery"_s);
    m_delivery->addItem(tr("Now"));
    m_delivery->addItem(tr("At"));
    m_delivery->addItem(tr("After"));
    m_when = lineEdit(u"composeWhen"_s, QString(), page);
    auto *deliveryRow = new QHBoxLayout;
    deliveryRow->addWidget(m_delivery);
    deliveryRow->addWidget(m_when, 1);
    auto *form = new QFormLayout(page);
    form->addRow(tr("Priority:"), m_priority);
    form->addRow(tr("Tags:"), m_tags);
    form->addRow(tr("Click:"), m_click);
    form->addRow(tr("Expires:"), m_expires);
    form->addRow(tr("Replaces:"), m_replaces);
    form->addRow(tr("Deliver:"), deliveryRow);
    connect(m_delivery, &QComboBox::currentIndexChanged, this, &ComposePanel::updateDelivery);
    return page;
}

QWidget *ComposePanel::buildActionsPage()
{
    auto *page = new QWidget;
    auto *grid = new QGridLayout(page);
    for (int i = 0; i < ActionRows; ++i) {
        ActionRow &row = m_actions[std::size_t(i)];
        const QString prefix = u"composeAction%1"_s.arg(i);
        row.kind = new QComboBox(page);
        row.kind->setObjectName(prefix + u"Kind"_s);
        row.kind->addItem(tr("No button"));
        row.kind->addItem(tr("View (opens a URL)"));
        row.kind->addItem(tr("Reply (publishes)"));
        row.label = lineEdit(prefix + u"Label"_s, tr("button label"), page);
        row.target = lineEdit(prefix + u"Target"_s, QString(), page);
        row.message = lineEdit(prefix + u"Message"_s, tr("text sent (the label if empty)"), page);
        grid->addWidget(new QLabel(tr("%1.").arg(i + 1), page), 2 * i, 0);
        grid->addWidget(row.kind, 2 * i, 1);
        grid->addWidget(row.label, 2 * i, 2);
        grid->addWidget(row.target, 2 * i + 1, 1);
        grid->addWidget(row.message, 2 * i + 1, 2);
        connect(row.kind, &QComboBox::currentIndexChanged, this,
                [this, i] { updateActionRow(m_actions[std::size_t(i)]); });
        updateActionRow(row);
    }
    grid->setRowStretch(2 * ActionRows, 1);
    return page;
}

void ComposePanel::updateTarget()
{
    const int target = m_target->currentIndex();
    m_recipient->setEnabled(target != Everyone);
    m_recipient->setPlaceholderText(target == User      ? tr("user id, e.g. 1")
                                    : target == Channel ? tr("channel, e.g. news")
                                                        : tr("everyone"));
}

void ComposePanel::updateDelivery()
{
    const int delivery = m_delivery->currentIndex();
    m_when->setEnabled(delivery != Now);
    m_when->setPlaceholderText(delivery == At      ? tr("2026-12-24T18:00:00+01:00, or 30m from now")
                               : delivery == Delay ? tr("30s, 10m, 1h30m, 1d")
                                                   : tr("at once"));
}

void ComposePanel::updateActionRow(const ActionRow &row)
{
    const int kind = row.kind->currentIndex();
    row.label->setEnabled(kind != NoAction);
    row.target->setEnabled(kind != NoAction);
    row.message->setEnabled(kind == ReplyAction);
    row.target->setPlaceholderText(kind == ReplyAction ? tr("channel the reply goes to") : tr("https://…"));
}

Result<QJsonObject, QString> ComposePanel::publishBody() const
{
    using R = Result<QJsonObject, QString>;
    QJsonObject body;
    const QString recipient = m_recipient->text().trimmed();
    switch (m_target->currentIndex()) {
    case Everyone:
        body.insert("channel"_L1, "broadcast"_L1);
        break;
    case User:
        if (recipient.isEmpty())
            return R::failure(tr("Enter a user id."));
        if (!isValidIdentifier(recipient))
            return R::failure(
                tr("A user id is 1 to 121 characters: letters, digits and _ . : - (no spaces)."));
        body.insert("channel"_L1, QString(u"user:"_s + recipient));
        break;
    default:
        if (recipient.isEmpty())
            return R::failure(tr("Enter a channel name."));
        if (!isValidChannelName(recipient))
            return R::failure(
                tr("A channel name is 1 to 128 characters: letters, digits and _ . : - (no spaces)."));
        body.insert("channel"_L1, recipient);
        break;
    }
    const QString title = m_title->text().trimmed();
    const QString text = m_text->text();
    if (text.trimmed().isEmpty() && title.isEmpty())
        return R::failure(tr("Write a message first."));

    // A broadcast keeps the type it always had from the dashboard; otherwise the server's default.
    const QString type = m_type->text().trimmed();
    if (!type.isEmpty())
        body.insert("type"_L1, type);
    else if (m_target->currentIndex() == Everyone)
        body.insert("type"_L1, "broadcast"_L1);
    if (!title.isEmpty())
        body.insert("title"_L1, title);
    if (!text.trimmed().isEmpty())
        body.insert("message"_L1, text);
    // An open server names the operator as the sender; with a token the token's subject is.
    const RestEndpoint where = m_rest->endpoint();
    if (where.token.isEmpty() && !where.clientId.isEmpty())
        body.insert("sender"_L1, where.clientId);

    const int priority = m_priority->currentData().toInt();
    if (priority != NotificationFields::DefaultPriority)
        body.insert("priority"_L1, priority);
    QJsonArray tags;
    const QStringList parts = m_tags->text().split(u',');
    for (const QString &part : parts) {
        if (!part.trimmed().isEmpty())
            tags.append(part.trimmed());
    }
    if (!tags.isEmpty())
        body.insert("tags"_L1, tags);
    if (const QString click = m_click->text().trimmed(); !click.isEmpty())
        body.insert("click"_L1, click);

    QJsonArray actions;
    for (const ActionRow &row : m_actions) {
        const int kind = row.kind->currentIndex();
        if (kind == NoAction)
            continue;
        // Sent as typed, even empty: the server names what is missing or wrong.
        QJsonObject action{{"label"_L1, row.label->text().trimmed()}};
        if (kind == ViewAction) {
            action.insert("action"_L1, "view"_L1);
            action.insert("url"_L1, row.target->text().trimmed());
        } else {
            action.insert("action"_L1, "reply"_L1);
            action.insert("channel"_L1, row.target->text().trimmed());
            if (!row.message->text().trimmed().isEmpty())
                action.insert("message"_L1, row.message->text());
        }
        actions.append(action);
    }
    if (!actions.isEmpty())
        body.insert("actions"_L1, actions);

    // A time or a duration, as the server reads them ("30m", "2026-12-24T18:00:00Z", Unix seconds).
    if (const QString expires = m_expires->text().trimmed(); !expires.isEmpty())
        body.insert("expires"_L1, expires);
    if (const QString replaces = m_replaces->text().trimmed(); !replaces.isEmpty()) {
        bool ok = false;
        const qint64 id = replaces.toLongLong(&ok);
        if (!ok || id <= 0)
            return R::failure(tr("Replaces takes the id of an earlier message (a positive number)."));
        body.insert("replaces"_L1, id);
    }
    const int delivery = m_delivery->currentIndex();
    if (delivery != Now) {
        const QString when = m_when->text().trimmed();
        if (when.isEmpty())
            return R::failure(delivery == At ? tr("Say when to deliver it, or choose Now.")
                                             : tr("Say after how long to deliver it, or choose Now."));
        body.insert(delivery == At ? "at"_L1 : "delay"_L1, when);
    }
    return body;
}

void ComposePanel::send()
{
    // Send follows the feed: without it the operator could not see what the publish did.
    if (!m_send->isEnabled()) {
        setResult(tr("Not connected: nothing was sent."), true);
        return;
    }
    const Result<QJsonObject, QString> body = publishBody();
    if (!body) {
        setResult(body.error(), true);
        return;
    }
    const quint64 number = ++m_sent;
    setResult(tr("Sending…"), false);
    m_rest->send("POST", u"/api/publish"_s, *body, this, [this, number](const RestReply &reply) {
        if (number != m_sent)
            return;
        if (!reply.ok()) {
            setResult(reply.status == 0 ? tr("Not sent: %1").arg(reply.error)
                                        : tr("Refused (%1)").arg(reply.errorText()),
                      true);
            return;
        }
        const QJsonObject o = reply.object();
        const QString channel = o.value("channel"_L1).toString();
        const QString handle = o.value("scheduled"_L1).toString();
        const qint64 id = o.value("id"_L1).toInteger();
        const bool duplicate = o.value("duplicate"_L1).toBool();
        if (!handle.isEmpty()) {
            const QDateTime at = QDateTime::fromString(o.value("at"_L1).toString(), Qt::ISODateWithMs);
            setResult(duplicate
                          ? tr("Already scheduled as %1 (a repeat): nothing new was scheduled").arg(handle)
                          : tr("Scheduled %1 for %2 on %3")
                                .arg(handle, at.toLocalTime().toString(u"yyyy-MM-dd HH:mm:ss"_s), channel),
                      false);
            if (!duplicate)
                Q_EMIT scheduled(handle, channel, at);
        } else if (duplicate) {
            setResult(tr("Already published as #%1 (a repeat): nothing new was sent").arg(id), false);
        } else {
            setResult(tr("Published #%1 to %2").arg(id).arg(channel), false);
            Q_EMIT published(id, channel);
        }
        m_text->clear();
    });
}

void ComposePanel::setSendEnabled(bool enabled)
{
    m_send->setEnabled(enabled);
}

QString ComposePanel::resultText() const
{
    return m_result->text();
}

void ComposePanel::setResult(const QString &text, bool error)
{
    m_result->setText(text);
    m_result->setStyleSheet(error ? u"color: #cf222e;"_s : u"color: #1a7f37;"_s);
}

} // namespace Herald
