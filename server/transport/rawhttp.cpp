#include "rawhttp.h"

#include "auth.h"
#include "errorcode.h"
#include "httprequesthead.h"
#include "message.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimer>

#include <sys/socket.h>

#include <cctype>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
constexpr auto DrainTime = std::chrono::seconds(2);

// Every method some route of Herald's serves; anything else is not implemented anywhere (RFC 9110 15.6.2).
bool isKnownMethod(QByteArrayView method)
{
    for (const char *m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
        if (method == m)
            return true;
    }
    return false;
}

// RFC 9112 3.2 and RFC 3986 3.2.2: host [":" port], the host a reg-name, an IPv4 address or "[" IPv6 "]".
bool isValidHostHeader(QByteArrayView value)
{
    if (value.isEmpty() || value.size() > 255)
        return false;
    qsizetype i = 0;
    if (value.front() == '[') {
        const qsizetype end = value.indexOf(']');
        if (end < 2)
            return false;
        for (char c : value.sliced(1, end - 1)) {
            if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'))
                return false;
        }
        i = end + 1;
    } else {
        while (i < value.size() && value[i] != ':') {
            const char c = value[i];
            const bool unreserved =
                std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~';
            if (!unreserved)
                return false;
            ++i;
        }
        if (i == 0)
            return false;
    }
    if (i == value.size())
        return true;
    if (value[i] != ':')
        return false;
    for (char c : value.sliced(i + 1)) {
        if (!std::isdigit(static_cast<unsigned char>(c)))
            return false;
    }
    return value.size() - i - 1 <= 5;
}
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

QByteArray jsonErrorBody(ErrorCode code, const QString &detail)
{
    return compactJson(QJsonObject{{"error"_L1, errorCodeName(code)}, {"detail"_L1, detail}});
}

void writeHttpError(QTcpSocket *socket, int status, QByteArrayView reason, ErrorCode code,
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

std::optional<HeadRefusal> refuseRequestHead(const HttpRequestHead &head, qint64 maxBody,
                                             const AuthPolicy &auth)
{
    if (!isKnownMethod(head.method)) {
        return HeadRefusal{501, "Not Implemented", ErrorCode::BadRequest,
                           u"method %1 is not implemented"_s.arg(QString::fromLatin1(head.method.left(32)))};
    }
    const QList<QByteArray> hosts = head.headerValues("host");
    if (head.versionMinor >= 1 && hosts.size() != 1) {
        return HeadRefusal{400, "Bad Request", ErrorCode::BadRequest,
                           hosts.isEmpty() ? u"an HTTP/1.1 request needs a Host header"_s
                                           : u"more than one Host header"_s};
    }
    if (!hosts.isEmpty() && (hosts.size() > 1 || !isValidHostHeader(hosts.front()))) {
        return HeadRefusal{400, "Bad Request", ErrorCode::BadRequest, u"invalid Host header"_s};
    }
    // Framing first: with a Transfer-Encoding the Content-Length says nothing about the body's size.
    if (const auto framing = head.framingError()) {
        return HeadRefusal{framing->status, framing->status == 411 ? "Length Required" : "Bad Request",
                           ErrorCode::BadRequest, framing->detail};
    }
    if (head.contentLength() > maxBody) {
        return HeadRefusal{413, "Content Too Large", ErrorCode::TooLarge,
                           u"the body is larger than %1 bytes"_s.arg(maxBody)};
    }
    if (!hosts.isEmpty() && !auth.hostAllowed(hosts.front())) {
        return HeadRefusal{
            403, "Forbidden", ErrorCode::Forbidden,
            u"host %1 is not served: an open server answers localhost and IP addresses, and the "
            "names given with --allowed-hosts"_s.arg(QString::fromUtf8(hosts.value(0).left(64)))};
    }
    return std::nullopt;
}

} // namespace Herald
