#include "dashboardlogging.h"

Q_LOGGING_CATEGORY(lcDashboard, "herald.dashboard", QtInfoMsg)
Q_LOGGING_CATEGORY(lcAdminClient, "herald.dashboard.admin", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSound, "herald.dashboard.sound", QtInfoMsg)
