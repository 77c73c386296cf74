// libFuzzer target for what the HTTP handlers are given: the request head parser the workers run on every
// connection, then the body and query handling of the REST routes (JSON bodies, paging parameters, model
// validation). Nothing may crash, hang or read out of bounds (ASan+UBSan).

#include "httprequesthead.h"
#include "message.h"
#include "modelspec.h"
#include "request.h"

#include <QByteArray>
#include <QJsonDocument>
#include <QJsonObject>
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
    (void)head.hasToken("connection", "upgrade");
    (void)head.header("authorization");
    for (const QString &key :
         {u"user_id"_s, u"channels"_s, u"since"_s, u"token"_s, u"limit"_s, u"client_id"_s}) {
        const QString v = head.queryValue(key);
        (void)Herald::parseSequence(v);
    }

    // The body, as the REST handlers read it.
    const QByteArray body = input.mid(head.headSize);
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
