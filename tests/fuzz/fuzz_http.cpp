// libFuzzer target for what the HTTP handlers are given: the request head parser the workers run on every
// request head, the choices made from it (hot route, keep-alive, framing, the 400/411/413 refusals), the
// request the keep-alive path builds, then the body and query handling of the REST routes (JSON bodies,
// paging parameters, model validation). Nothing may crash, hang or read out of bounds (ASan+UBSan).

#include "auth.h"
#include "httpapi.h"
#include "httpjson.h"
#include "httprequesthead.h"
#include "message.h"
#include "modelspec.h"
#include "rawhttp.h"
#include "request.h"
#include "restrequest.h"

#include <QByteArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QUrl>
#include <QUrlQuery>

#include <cstddef>
#include <cstdint>

using namespace Qt::StringLiterals;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray input = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));
    const Herald::HeadParseResult parsed = Herald::parseRequestHead(input, 4096);
    if (parsed.status != Herald::HeadStatus::Complete)
        return 0;
    const Herald::HttpRequestHead &head = parsed.head;
    (void)head.isWebSocketUpgrade();
    (void)head.contentLength();
    (void)head.hasInvalidContentLength();
    (void)head.framingError();
    (void)head.hasToken("connection", "upgrade");
    (void)head.header("authorization");
    for (const QString &key :
         {u"user_id"_s, u"channels"_s, u"since"_s, u"token"_s, u"limit"_s, u"client_id"_s}) {
        const QString v = head.queryValue(key);
        (void)Herald::parseSequence(v);
    }

    // What the worker decides from a head, and the request its keep-alive path builds
    // (PlainConnection::serveHot).
    (void)head.keepAlive();
    (void)head.hasToken("expect", "100-continue");
    // Open mode (the Host and Origin rules apply) and token mode (they do not).
    static const Herald::AuthPolicy open;
    static const Herald::AuthPolicy token(true, Herald::TokenVerifier(QByteArray(32, 'k')), {});
    (void)Herald::refuseRequestHead(head, 4096, open);
    (void)Herald::refuseRequestHead(head, 4096, token);
    (void)open.originAllowed(head.header("origin"), head.header("host"));
    const Herald::HttpApi::HotRoute hot = Herald::HttpApi::hotRoute(head);
    Herald::RestRequest rest;
    rest.method = head.method;
    rest.path = head.path;
    rest.query = QUrlQuery(QUrl::fromEncoded(head.target));
    rest.headers = head.headers;
    (void)Herald::bearerToken(rest.header("authorization"));
    (void)rest.query.queryItemValue(u"token"_s, QUrl::FullyDecoded);
    (void)rest.header("origin");
    (void)QString::fromUtf8(rest.header("x-client-id"));

    // The body, as the REST handlers read it.
    const QByteArray body = input.mid(head.headSize);
    QJsonObject parsedBody;
    const auto refused = Herald::readJsonBody(body, 4096, parsedBody);
    Herald::RestResponse response = refused ? *refused : Herald::restJson(parsedBody, 202);
    response.setHeader("Access-Control-Allow-Origin", rest.header("origin"));
    if (hot.kind == Herald::HttpApi::HotRoute::Kind::ChannelEvent)
        response.setHeader("X-Channel", hot.channel.toUtf8());
    (void)Herald::serializeResponse(response, head.keepAlive(), 30);
    const QJsonObject object = QJsonDocument::fromJson(body).object();
    (void)Herald::messageFromPayload(object, u"message"_s);
    static const QList<Herald::ModelSpec> models = Herald::builtinModels();
    for (const Herald::ModelSpec &model : models) {
        for (bool partial : {false, true}) {
            if (Herald::validateRecord(model, object, partial).isEmpty())
                (void)Herald::normalizeRecord(model, object, partial);
        }
    }
    return 0;
}
