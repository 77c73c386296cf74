#include "notifierlogging.h"

Q_LOGGING_CATEGORY(lcNotifier, "herald.notifier", QtInfoMsg)
Q_LOGGING_CATEGORY(lcDesktopNotify, "herald.notifier.dbus", QtInfoMsg)
