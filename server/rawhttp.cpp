#include "rawhttp.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>

using namespace Qt::StringLiterals;

namespace Herald {

void writeHttpError(QTcpSocket *socket, int status, QByteArrayView reason, const QString &code,
                    const QString &detail, QByteArrayView extraHeaders)
{
    const QByteArray body =
        QJsonDocument(QJsonObject{{"error"_L1, code}, {"detail"_L1, detail}}).toJson(QJsonDocument::Compact);
    socket->write("HTTP/1.1 " + QByteArray::number(status) + ' ' + reason.toByteArray() +
                  "\r\nContent-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size()) +
                  "\r\nConnection: close\r\n" + extraHeaders.toByteArray() + "\r\n" + body);
    socket->disconnectFromHost();
}

} // namespace Herald
