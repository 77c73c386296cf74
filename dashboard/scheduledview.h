#pragma once

#include "result.h"

#include <QAbstractTableModel>
#include <QDateTime>
#include <QJsonObject>
#include <QTimer>
#include <QWidget>

#include <chrono>
#include <optional>

class QJsonDocument;
class QLabel;
class QPushButton;
class QTableView;

namespace Herald {

class RestApi;

// One publish waiting for its time, as GET /api/scheduled lists it. (Not ScheduledEntry: that is the
// server's, and herald_core is linked in for the embedded server.)
struct ScheduledRow
{
    QString handle;
    QDateTime at;
    QString channel;
    QJsonObject message;

    // {"handle":…,"at":…,"channel":…,"message":{…}}; nothing without a handle.
    static std::optional<ScheduledRow> fromJson(const QJsonObject &object);
    // The list answer: {"scheduled":[…]} (or a bare array), soonest first. Entries it cannot read are left
    // out; an answer that is no list at all is refused.
    static Result<QList<ScheduledRow>, QString> listFromJson(const QJsonDocument &document);
};

class ScheduledModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column
    {
        At,
        Channel,
        Priority,
        Text,
        Handle,
        ColumnCount
    };
    enum Role
    {
        HandleRole = Qt::UserRole + 1,
    };

    explicit ScheduledModel(QObject *parent = nullptr);

    void reset(const QList<ScheduledRow> &entries);
    bool remove(const QString &handle);
    int rowOf(const QString &handle) const;
    const ScheduledRow &entryAt(int row) const { return m_rows.at(row); }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QList<ScheduledRow> m_rows;
};

// The Scheduled tab: the publishes waiting for their time (GET /api/scheduled), refreshed while it is shown,
// and Cancel for the selected ones (DELETE /api/scheduled/{handle}).
class ScheduledView : public QWidget
{
    Q_OBJECT

public:
    static constexpr std::chrono::seconds RefreshInterval{10};
    static constexpr int ListLimit = 1000; // the most one list answer holds

    // `rest` must outlive the view.
    explicit ScheduledView(RestApi *rest, QWidget *parent = nullptr);

    ScheduledModel *model() const { return m_model; }
    void refresh();
    void cancelSelected();
    QString statusText() const;

Q_SIGNALS:
    // After every answer to a list request, whether it listed or failed.
    void refreshed();
    void cancelled(const QString &handle);

protected:
    void showEvent(QShowEvent *event) override;
    void hideEvent(QHideEvent *event) override;

private:
    void cancel(const QString &handle);
    void setStatus(const QString &text, bool error);
    void updateButtons();

    RestApi *m_rest;
    ScheduledModel *m_model;
    QTableView *m_table;
    QPushButton *m_refresh;
    QPushButton *m_cancel;
    QLabel *m_status;
    QTimer m_refreshTimer;
    quint64 m_listRequest = 0; // the latest list request: an older answer does not overwrite a newer one
};

} // namespace Herald
