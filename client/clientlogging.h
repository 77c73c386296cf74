#pragma once

#include <QLoggingCategory>

// herald.client: the client library's connection, resume and REST helper.
Q_DECLARE_LOGGING_CATEGORY(lcHeraldClient)
