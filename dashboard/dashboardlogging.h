#pragma once

#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcDashboard)
Q_DECLARE_LOGGING_CATEGORY(lcAdminClient)
Q_DECLARE_LOGGING_CATEGORY(lcSound)
