#pragma once

#include <QWidget>

class QComboBox;
class QLineEdit;
class QPushButton;
class QTreeView;

namespace Herald {

class HistoryFilter;
class NotificationCenter;

// The person's notifications: unread first (bold), a channel and a priority filter, a search field, and
// "Mark read" / "Mark all read", which go through the center so the server hears of them.
class HistoryWindow : public QWidget
{
    Q_OBJECT

public:
    explicit HistoryWindow(NotificationCenter *center, QWidget *parent = nullptr);

    HistoryFilter *filter() const { return m_filter; }
    QTreeView *view() const { return m_view; }
    QComboBox *channelBox() const { return m_channel; }
    QComboBox *priorityBox() const { return m_priority; }
    QLineEdit *searchField() const { return m_search; }
    void markSelectedRead();

private:
    void refreshChannels();
    void updateTitle(int unread);

    NotificationCenter *m_center;
    HistoryFilter *m_filter;
    QTreeView *m_view;
    QComboBox *m_channel;
    QComboBox *m_priority;
    QLineEdit *m_search;
    QPushButton *m_markRead;
    QPushButton *m_markAllRead;
};

} // namespace Herald
