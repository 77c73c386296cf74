#include "clientlogging.h"

Q_LOGGING_CATEGORY(lcHeraldClient, "herald.client", QtInfoMsg)
