#pragma once

#include "errorcode.h"

#include <QByteArrayView>
#include <QString>

#include <optional>

class QTcpSocket;

namespace Herald {

struct HttpRequestHead;
class AuthPolicy;

// Writes to a connection, straight to the kernel when nothing is queued ahead (the common case), and through
// the socket's own buffer only for what the kernel does not take at once. QAbstractSocket keeps a 16 KiB
// write chunk allocated after its first write, for the life of the connection: most of an idle connection's
// cost (issue 8). TLS sockets always go through Qt, which encrypts.
void writeToSocket(QTcpSocket *socket, QByteArrayView bytes);

// The error body of every HTTP answer, REST or not: {"error":code,"detail":…}. The code is always one of
// ErrorCode's names: clients switch on it.
QByteArray jsonErrorBody(ErrorCode code, const QString &detail);

// Answers a connection the workers own (not QHttpServer's) with {"error":code,"detail":…} and closes it once
// the response is written; the socket deletes itself when the connection is gone. Used before a WebSocket
// upgrade or an SSE stream is accepted.
void writeHttpError(QTcpSocket *socket, int status, QByteArrayView reason, ErrorCode code,
                    const QString &detail, QByteArrayView extraHeaders = {});
// Writes a whole response that says "Connection: close", then closes the connection as writeHttpError does.
void writeAndClose(QTcpSocket *socket, const QByteArray &response);
// Ends a connection whose last answer is written or queued: once it is sent, our side is half-closed; what
// the client still sends is discarded, and the socket closes when the client does (2 s at most), then
// deletes itself.
void closeAfterAnswer(QTcpSocket *socket);

// Why a request may not go on (SPEC section 7), before a byte of its body is read: its framing
// (HttpRequestHead::framingError: any Transfer-Encoding 411 or 400, an invalid Content-Length 400), then a
// body over maxBody (413). Every request is held to it, WebSocket and SSE ones included.
struct HeadRefusal
{
    int status = 0;
    QByteArrayView reason;
    ErrorCode code;
    QString detail;
};
// Then RFC 9110/9112 conformance: an unknown method 501; HTTP/1.1 without exactly one valid Host 400. Then
// the policy: an open server answers only the host names it knows (AuthPolicy::hostAllowed), 403.
std::optional<HeadRefusal> refuseRequestHead(const HttpRequestHead &head, qint64 maxBody,
                                             const AuthPolicy &auth);

} // namespace Herald
