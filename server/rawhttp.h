#pragma once

#include <QByteArrayView>
#include <QString>

class QTcpSocket;

namespace Herald {

// Answers a connection the workers own (not QHttpServer's) with {"error":code,"detail":…} and closes it once
// the response is written. Used before a WebSocket upgrade or an SSE stream is accepted.
void writeHttpError(QTcpSocket *socket, int status, QByteArrayView reason, const QString &code,
                    const QString &detail, QByteArrayView extraHeaders = {});

} // namespace Herald
