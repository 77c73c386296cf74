#include "hub.h"
#include "server.h"
#include "testclient.h"

#include <QProcess>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace Qt::StringLiterals;
using namespace HeraldTest;

// --tls-cert/--tls-key (SPEC section 7): https:// and wss:// on the one port, with a certificate generated
// for the test (openssl), trusted by the clients as their only CA, so every handshake is fully verified.
class tst_Tls : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void httpsRequestsAndKeepAlive();
    void wssReceivesWhatHttpsPublishes();
    void sseOverTls();
    void plainHttpOnTheTlsPortIsDropped();
    void unfinishedHandshakeIsClosed_data();
    void unfinishedHandshakeIsClosed();
    void badCertificateFilesRefuseToStart_data();
    void badCertificateFilesRefuseToStart();

private:
    QSslConfiguration clientTls() const;

    QTemporaryDir m_certs;
    QString m_cert, m_key;
    QSslCertificate m_certificate;
    std::unique_ptr<QTemporaryDir> m_data;
    std::unique_ptr<Herald::Server> m_server;
    quint16 m_port = 0;
};

void tst_Tls::initTestCase()
{
    if (!QSslSocket::supportsSsl())
        QSKIP("Qt has no TLS backend here");
    const QString openssl = QStandardPaths::findExecutable(u"openssl"_s);
    QVERIFY2(!openssl.isEmpty(), "openssl is needed to generate the test certificate");
    m_cert = m_certs.filePath(u"cert.pem"_s);
    m_key = m_certs.filePath(u"key.pem"_s);
    QProcess p;
    p.start(openssl, {u"req"_s, u"-x509"_s, u"-newkey"_s, u"rsa:2048"_s, u"-nodes"_s, u"-days"_s, u"2"_s,
                      u"-subj"_s, u"/CN=127.0.0.1"_s, u"-addext"_s, u"subjectAltName=IP:127.0.0.1"_s,
                      u"-keyout"_s, m_key, u"-out"_s, m_cert});
    QVERIFY(p.waitForFinished(60000));
    QCOMPARE(p.exitCode(), 0);
    const auto certs = QSslCertificate::fromPath(m_cert);
    QCOMPARE(certs.size(), 1);
    m_certificate = certs.constFirst();
}

void tst_Tls::init()
{
    m_data = std::make_unique<QTemporaryDir>();
    Herald::ServerConfig config;
    config.port = 0;
    config.dataDir = m_data->path();
    config.workerThreads = 2;
    config.tlsCert = m_cert;
    config.tlsKey = m_key;
    config.handshakeTimeout = std::chrono::milliseconds(2000);
    config.tlsHandshakeTimeout = std::chrono::milliseconds(1000);
    m_server = std::make_unique<Herald::Server>(config);
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    m_port = m_server->port();
}

void tst_Tls::cleanup()
{
    m_server.reset();
    m_data.reset();
}

QSslConfiguration tst_Tls::clientTls() const
{
    QSslConfiguration c = QSslConfiguration::defaultConfiguration();
    c.setCaCertificates({m_certificate});
    c.setPeerVerifyMode(QSslSocket::VerifyPeer);
    return c;
}

namespace {
struct Reply
{
    int status = 0;
    QByteArray body;
    QNetworkReply::NetworkError error = QNetworkReply::NoError;
};

Reply httpsCall(QNetworkAccessManager &nam, const QSslConfiguration &tls, const QByteArray &method,
                const QString &url, const QByteArray &body = {})
{
    QNetworkRequest request{QUrl(url)};
    request.setSslConfiguration(tls);
    if (!body.isEmpty())
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
    QNetworkReply *reply = nam.sendCustomRequest(request, method, body);
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(10000, &loop, &QEventLoop::quit);
    loop.exec();
    Reply r;
    r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    r.body = reply->readAll();
    r.error = reply->error();
    delete reply;
    return r;
}
} // namespace

void tst_Tls::httpsRequestsAndKeepAlive()
{
    QNetworkAccessManager nam; // one manager: its requests share a kept-alive TLS connection
    const QString base = u"https://127.0.0.1:%1"_s.arg(m_port);
    for (int i = 0; i < 5; ++i) {
        const Reply r = httpsCall(nam, clientTls(), "GET", base + u"/healthz"_s);
        QCOMPARE(r.error, QNetworkReply::NoError);
        QCOMPARE(r.status, 200);
        QCOMPARE(parseObject(r.body).value("status"_L1).toString(), u"ok"_s);
    }
    const Reply page = httpsCall(nam, clientTls(), "GET", base + u"/"_s);
    QCOMPARE(page.status, 200);
    QVERIFY(page.body.contains("<html"));
}

void tst_Tls::wssReceivesWhatHttpsPublishes()
{
    QWebSocket ws;
    ws.setSslConfiguration(clientTls());
    QList<QJsonObject> frames;
    connect(&ws, &QWebSocket::textMessageReceived, this,
            [&frames](const QString &t) { frames.append(QJsonDocument::fromJson(t.toUtf8()).object()); });
    ws.open(QUrl(u"wss://127.0.0.1:%1/ws?channels=news"_s.arg(m_port)));
    QTRY_VERIFY(!frames.isEmpty());
    QCOMPARE(frames.constFirst().value("type"_L1).toString(), u"connected"_s);

    QNetworkAccessManager nam;
    const Reply r = httpsCall(nam, clientTls(), "POST", u"https://127.0.0.1:%1/api/publish"_s.arg(m_port),
                              R"({"channel":"news","message":"over tls"})");
    QCOMPARE(r.status, 202);
    QTRY_COMPARE(frames.size(), 2);
    QCOMPARE(frames.at(1).value("message"_L1).toString(), u"over tls"_s);
    QCOMPARE(frames.at(1).value("id"_L1).toInteger(), parseObject(r.body).value("id"_L1).toInteger());
    ws.close();
}

void tst_Tls::sseOverTls()
{
    QSslSocket s;
    s.setSslConfiguration(clientTls());
    s.connectToHostEncrypted(u"127.0.0.1"_s, m_port);
    QTRY_VERIFY(s.isEncrypted());
    s.write("GET /events?user_id=7 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
    QByteArray got;
    QTRY_VERIFY((got += s.readAll()).contains("retry: 3000\n"));
    QVERIFY(got.startsWith("HTTP/1.1 200 OK\r\n"));
    QNetworkAccessManager nam;
    QCOMPARE(httpsCall(nam, clientTls(), "POST", u"https://127.0.0.1:%1/api/publish"_s.arg(m_port),
                       R"({"channel":"user:7","message":"streamed"})")
                 .status,
             202);
    QTRY_VERIFY((got += s.readAll()).contains("streamed"));
}

void tst_Tls::plainHttpOnTheTlsPortIsDropped()
{
    // Plain HTTP is not TLS: the handshake fails and the connection goes, nothing is served in clear.
    const QByteArray answer = rawExchange(m_port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", 4000);
    QVERIFY2(!answer.contains("\"status\":\"ok\""), answer.constData());
    QVERIFY(!answer.startsWith("HTTP/1.1 200"));
    // And the server is unharmed.
    QNetworkAccessManager nam;
    QCOMPARE(httpsCall(nam, clientTls(), "GET", u"https://127.0.0.1:%1/healthz"_s.arg(m_port)).status, 200);
}

void tst_Tls::unfinishedHandshakeIsClosed_data()
{
    QTest::addColumn<QByteArray>("sent");
    QTest::newRow("silent") << QByteArray();
    // The first bytes of a TLS record holding a ClientHello (handshake, TLS 1.0 record, 512 bytes), then
    // nothing: the server waits for the rest.
    QTest::newRow("half a ClientHello") << QByteArray::fromHex("1603010200010001fc0303");
}

// --handshake-timeout: a TLS client that never finishes its handshake cannot hold a connection.
void tst_Tls::unfinishedHandshakeIsClosed()
{
    QFETCH(QByteArray, sent);
    Herald::Metrics &metrics = m_server->hub()->metrics();
    const qint64 before = Herald::Metrics::get(metrics.handshakeTimeouts);
    QTcpSocket s;
    s.connectToHost(u"127.0.0.1"_s, m_port);
    QVERIFY(s.waitForConnected(5000));
    if (!sent.isEmpty()) {
        s.write(sent);
        QVERIFY(s.waitForBytesWritten(2000));
    }
    // Closed at the 1 s deadline (before it, the connection stayed open for good).
    QTRY_COMPARE_WITH_TIMEOUT(s.state(), QAbstractSocket::UnconnectedState, 4000);
    QCOMPARE(Herald::Metrics::get(metrics.handshakeTimeouts), before + 1);
}

void tst_Tls::badCertificateFilesRefuseToStart_data()
{
    QTest::addColumn<bool>("certOk");
    QTest::addColumn<bool>("keyOk");
    QTest::addColumn<QString>("mentions");
    QTest::newRow("missing certificate") << false << true << u"--tls-cert"_s;
    QTest::newRow("missing key") << true << false << u"--tls-key"_s;
}

void tst_Tls::badCertificateFilesRefuseToStart()
{
    QFETCH(bool, certOk);
    QFETCH(bool, keyOk);
    QFETCH(QString, mentions);
    QTemporaryDir dir;
    Herald::ServerConfig config;
    config.port = 0;
    config.dataDir = dir.path();
    config.tlsCert = certOk ? m_cert : dir.filePath(u"nope.pem"_s);
    config.tlsKey = keyOk ? m_key : dir.filePath(u"nope.key"_s);
    Herald::Server server(config);
    QVERIFY(!server.start());
    QVERIFY2(server.errorString().contains(mentions), qPrintable(server.errorString()));
    QVERIFY(!server.errorString().contains(u'\n'));
}

QTEST_MAIN(tst_Tls)
#include "tst_tls.moc"
