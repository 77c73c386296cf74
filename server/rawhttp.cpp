#include "rawhttp.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>

using namespace Qt::StringLiterals;

namespace Herald {

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
    socket->disconnectFromHost();
}

} // namespace Herald
