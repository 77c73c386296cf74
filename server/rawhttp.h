#pragma once

#include <QByteArrayView>
#include <QString>

class QTcpSocket;

namespace Herald {

// Writes to a connection, straight to the kernel when nothing is queued ahead (the common case), and through
// the socket's own buffer only for what the kernel does not take at once. QAbstractSocket keeps a 16 KiB
// write chunk allocated after its first write, for the life of the connection: most of an idle connection's
// cost (issue 8). TLS sockets always go through Qt, which encrypts.
void writeToSocket(QTcpSocket *socket, QByteArrayView bytes);

// The error body of every HTTP answer, REST or not: {"error":code,"detail":…}.
QByteArray jsonErrorBody(const QString &code, const QString &detail);

// Answers a connection the workers own (not QHttpServer's) with {"error":code,"detail":…} and closes it once
// the response is written; the socket deletes itself when the connection is gone. Used before a WebSocket
// upgrade or an SSE stream is accepted.
void writeHttpError(QTcpSocket *socket, int status, QByteArrayView reason, const QString &code,
                    const QString &detail, QByteArrayView extraHeaders = {});

} // namespace Herald
