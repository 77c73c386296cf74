#pragma once

#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcNotifier)
Q_DECLARE_LOGGING_CATEGORY(lcDesktopNotify)
