#pragma once

#include "adminclient.h"
#include "statshistory.h"

#include <QMainWindow>
#include <QTimer>

#include <array>
#include <chrono>

class QAction;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTabWidget;
class QTableView;
class QChart;
class QLineSeries;
class QValueAxis;

namespace Herald {

class ClientModel;
class ComposePanel;
class MessageFilterModel;
class MessageModel;
class NodeModel;
class RestApi;
class ScheduledView;
class Settings;
class SoundPlayer;
class TrayNotifier;

// The operator console: live counters and their chart, the message table, the client list, the compose
// panel, the connection state and, on a cluster, its nodes, all fed by one AdminClient.
class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    // `settings` must outlive the window.
    explicit MainWindow(Settings *settings, QWidget *parent = nullptr);
    ~MainWindow() override;

    // Starts watching a server's admin feed.
    void watch(const QUrl &feedUrl, const QString &token);
    // One line about the server, shown in the status bar (e.g. the embedded server's port and data dir).
    void setServerDescription(const QString &text);
    void setSampleInterval(std::chrono::milliseconds interval);
    bool saveScreenshot(const QString &fileName);

    AdminClient *adminClient() const { return m_admin; }
    MessageModel *messageModel() const { return m_messages; }
    MessageFilterModel *messageFilter() const { return m_messageFilter; }
    ClientModel *clientModel() const { return m_clients; }
    NodeModel *nodeModel() const { return m_nodes; }
    ComposePanel *composePanel() const { return m_compose; }
    ScheduledView *scheduledView() const { return m_scheduled; }
    const StatsHistory &history() const { return m_history; }
    SoundPlayer *soundPlayer() const { return m_sound; }
    TrayNotifier *trayNotifier() const { return m_tray; }
    int clients() const { return m_clientCount; }
    int subscribers() const { return m_subscriberCount; }
    int channels() const { return m_channelCount; }
    // False from the moment the feed is lost until the next snapshot: everything shown is then as of
    // staleSince() and drawn greyed.
    bool isLive() const { return m_live; }
    QDateTime staleSince() const { return m_staleSince; }
    // The chart's line pieces for one series that hold points, oldest first: more than one when the feed
    // was down in the window.
    QList<QLineSeries *> chartSegments(StatsHistory::Series series) const;

    // The About box's text: this program's version, the watched server's and links to the documentation.
    QString aboutText() const;

    // The messages that ring and raise a tray notification: seed 003's notify and Herald's notification.
    static bool isNotification(const Message &message);

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    QWidget *buildCounters();
    QWidget *buildChart();
    QWidget *buildMessages();
    QWidget *buildClients();
    QWidget *buildNodes();
    QWidget *buildClusterWarning();
    QWidget *buildStaleBanner();
    void buildActions();
    void addSegmentSlot();
    void setLive(bool live);
    void updateChart(qint64 nowMs);

    void onStateChanged(AdminClient::State state, const QString &text);
    void onSnapshot(const AdminSnapshot &snapshot);
    void onMessage(const Message &message);
    void onActionSucceeded(const QString &ref, const QJsonObject &reply);
    void onActionFailed(const QString &ref, const QString &code, const QString &message);
    void flushMessages();
    void takeSample();
    void updateCounters();
    void updateCluster();
    void onNodeCount(int nodes);
    void disconnectSelected();
    void openSettings();
    void showAbout();
    void setMuted(bool muted);
    void showFromTray();
    void updateMessageCount();
    void updateClientsTab();

    Settings *m_settings;
    AdminClient *m_admin;
    MessageModel *m_messages;
    MessageFilterModel *m_messageFilter;
    ClientModel *m_clients;
    QSortFilterProxyModel *m_clientSort;
    NodeModel *m_nodes;
    SoundPlayer *m_sound;
    TrayNotifier *m_tray;
    StatsHistory m_history;

    int m_clientCount = 0;
    int m_subscriberCount = 0;
    int m_channelCount = 0;
    qint64 m_lastId = 0;
    QString m_epoch;         // the snapshot's: which history m_lastId counts in
    int m_countedNodes = -1; // the last counts frame's "nodes"
    bool m_live = false;
    QDateTime m_staleSince; // when the feed was lost; invalid before the first snapshot
    QList<Message> m_pendingMessages;
    QTimer m_flushTimer;
    QTimer m_sampleTimer;
    QStringList m_disconnectRefs;

    // Widgets.
    QWidget *m_countersBox = nullptr;
    QLabel *m_clientsValue = nullptr;
    QLabel *m_subscribersValue = nullptr;
    QLabel *m_channelsValue = nullptr;
    QLabel *m_rateValue = nullptr;
    QLabel *m_lastIdValue = nullptr;
    QChart *m_chart = nullptr;
    // Per series, its pieces: one QLineSeries per unbroken run of samples (Qt Charts has no gaps in a
    // series). Slot k of every series is added together, so the drawing order holds in every piece.
    std::array<QList<QLineSeries *>, 4> m_segments{};
    QValueAxis *m_axisX = nullptr;
    QValueAxis *m_axisCount = nullptr;
    QValueAxis *m_axisRate = nullptr;
    QWidget *m_staleBanner = nullptr;
    QLabel *m_staleText = nullptr;
    RestApi *m_rest = nullptr;
    ComposePanel *m_compose = nullptr;
    ScheduledView *m_scheduled = nullptr;
    QTabWidget *m_tabs = nullptr;
    QLineEdit *m_filter = nullptr;
    QLabel *m_messageCount = nullptr;
    QTableView *m_messageTable = nullptr;
    QTableView *m_clientTable = nullptr;
    QPushButton *m_disconnectButton = nullptr;
    int m_nodesTab = -1;
    QLabel *m_nodesSummary = nullptr;
    QTableView *m_nodeTable = nullptr;
    QWidget *m_clusterWarning = nullptr;
    QLabel *m_clusterWarningText = nullptr;
    QLabel *m_clusterLabel = nullptr;
    QLabel *m_stateLabel = nullptr;
    QLabel *m_serverLabel = nullptr;
    QAction *m_muteAction = nullptr;
    QAction *m_reconnectAction = nullptr;
    QAction *m_settingsAction = nullptr;
    QAction *m_clearAction = nullptr;
    QAction *m_quitAction = nullptr;
    QAction *m_readmeAction = nullptr;
    QAction *m_protocolAction = nullptr;
    QAction *m_webPageAction = nullptr;
    QAction *m_aboutAction = nullptr;
};

} // namespace Herald
