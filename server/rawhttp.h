#pragma once

#include <QByteArrayView>
#include <QString>

class QTcpSocket;

namespace Herald {

// The error body of every HTTP answer, REST or not: {"error":code,"detail":…}.
QByteArray jsonErrorBody(const QString &code, const QString &detail);

// Answers a connection the workers own (not QHttpServer's) with {"error":code,"detail":…} and closes it once
// the response is written. Used before a WebSocket upgrade or an SSE stream is accepted.
void writeHttpError(QTcpSocket *socket, int status, QByteArrayView reason, const QString &code,
                    const QString &detail, QByteArrayView extraHeaders = {});

} // namespace Herald
