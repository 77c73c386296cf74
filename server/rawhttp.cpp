#include "rawhttp.h"

#include "errorcode.h"
#include "httprequesthead.h"
#include "message.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimer>

#include <sys/socket.h>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
constexpr auto DrainTime = std::chrono::seconds(2);
} // namespace

void writeToSocket(QTcpSocket *socket, QByteArrayView bytes)
{
    if (bytes.isEmpty())
        return;
    const qintptr fd = socket->socketDescriptor();
    if (fd >= 0 && socket->bytesToWrite() == 0 && socket->state() == QAbstractSocket::ConnectedState &&
        !qobject_cast<QSslSocket *>(socket)) {
        const ssize_t n = ::send(int(fd), bytes.data(), size_t(bytes.size()), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n == bytes.size())
            return;
        if (n > 0)
            bytes = bytes.sliced(n);
        // n < 0: EAGAIN (the kernel buffer is full) or an error Qt will see and report itself.
    }
    socket->write(bytes.data(), bytes.size());
}

QByteArray jsonErrorBody(const QString &code, const QString &detail)
{
    return compactJson(QJsonObject{{"error"_L1, code}, {"detail"_L1, detail}});
}

void writeHttpError(QTcpSocket *socket, int status, QByteArrayView reason, const QString &code,
                    const QString &detail, QByteArrayView extraHeaders)
{
    const QByteArray body = jsonErrorBody(code, detail);
    writeAndClose(socket, "HTTP/1.1 " + QByteArray::number(status) + ' ' + reason.toByteArray() +
                              "\r\nContent-Type: application/json\r\nContent-Length: " +
                              QByteArray::number(body.size()) + "\r\nConnection: close\r\n" +
                              extraHeaders.toByteArray() + "\r\n" + body);
}

void writeAndClose(QTcpSocket *socket, const QByteArray &response)
{
    socket->write(response);
    closeAfterAnswer(socket);
}

void closeAfterAnswer(QTcpSocket *socket)
{
    // Closing with unread input makes the kernel reset the connection, and the client may lose the answer
    // (a refused body is still arriving). Discard what comes, let the client close first, and close anyway
    // after a moment.
    QObject::disconnect(socket, &QTcpSocket::readyRead, nullptr, nullptr);
    // The connection ends here, so the socket goes with it, whoever created it.
    QObject::connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    socket->skip(socket->bytesAvailable());
    QObject::connect(socket, &QTcpSocket::readyRead, socket,
                     [socket] { socket->skip(socket->bytesAvailable()); });
    QTimer::singleShot(DrainTime, socket, [socket] { socket->disconnectFromHost(); });
    // Everything sent: half-close our side so the client sees the end of the answer at once.
    auto halfClose = [socket] {
        if (socket->bytesToWrite() == 0 && socket->state() == QAbstractSocket::ConnectedState)
            ::shutdown(int(socket->socketDescriptor()), SHUT_WR);
    };
    QObject::connect(socket, &QTcpSocket::bytesWritten, socket, halfClose);
    halfClose();
}

std::optional<HeadRefusal> refuseRequestHead(const HttpRequestHead &head, qint64 maxBody)
{
    // Framing first: with a Transfer-Encoding the Content-Length says nothing about the body's size.
    if (const auto framing = head.framingError()) {
        return HeadRefusal{framing->status, framing->status == 411 ? "Length Required" : "Bad Request",
                           errorCodeName(ErrorCode::BadRequest), framing->detail};
    }
    if (head.contentLength() > maxBody) {
        return HeadRefusal{413, "Content Too Large", u"too_large"_s,
                           u"the body is larger than %1 bytes"_s.arg(maxBody)};
    }
    return std::nullopt;
}

} // namespace Herald
