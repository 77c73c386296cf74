#include "rawhttp.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>
#include <QTimer>

#include <sys/socket.h>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
constexpr auto DrainTime = std::chrono::seconds(2);
} // namespace

QByteArray jsonErrorBody(const QString &code, const QString &detail)
{
    return QJsonDocument(QJsonObject{{"error"_L1, code}, {"detail"_L1, detail}})
        .toJson(QJsonDocument::Compact);
}

void writeHttpError(QTcpSocket *socket, int status, QByteArrayView reason, const QString &code,
                    const QString &detail, QByteArrayView extraHeaders)
{
    const QByteArray body = jsonErrorBody(code, detail);
    socket->write("HTTP/1.1 " + QByteArray::number(status) + ' ' + reason.toByteArray() +
                  "\r\nContent-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size()) +
                  "\r\nConnection: close\r\n" + extraHeaders.toByteArray() + "\r\n" + body);
    // Closing with unread input makes the kernel reset the connection, and the client may lose the answer
    // (a refused body is still arriving). Discard what comes, let the client close first, and close anyway
    // after a moment.
    QObject::disconnect(socket, &QTcpSocket::readyRead, nullptr, nullptr);
    socket->skip(socket->bytesAvailable());
    QObject::connect(socket, &QTcpSocket::readyRead, socket,
                     [socket] { socket->skip(socket->bytesAvailable()); });
    QTimer::singleShot(DrainTime, socket, [socket] { socket->disconnectFromHost(); });
    QObject::connect(socket, &QTcpSocket::bytesWritten, socket, [socket] {
        // Everything sent: half-close our side so the client sees the end of the answer at once.
        if (socket->bytesToWrite() == 0 && socket->state() == QAbstractSocket::ConnectedState)
            ::shutdown(int(socket->socketDescriptor()), SHUT_WR);
    });
}

} // namespace Herald
