#include "scheduleapi.h"

#include "channelname.h"
#include "httpapi.h"
#include "httpjson.h"
#include "hub.h"
#include "publisher.h"
#include "request.h"
#include "scheduler.h"

#include <QHttpServer>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QJsonArray>
#include <QUrlQuery>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
using Method = QHttpServerRequest::Method;

constexpr char ListMethods[] = "GET, HEAD, OPTIONS";
constexpr char ItemMethods[] = "GET, HEAD, DELETE, OPTIONS";

RestResponse methodNotAllowed(const char *allowed)
{
    RestResponse r = restError(405, ErrorCode::MethodNotAllowed,
                               u"method not allowed here; allowed: %1"_s.arg(QLatin1StringView(allowed)));
    r.setHeader("Allow", allowed);
    return r;
}

// Where a page of GET /api/scheduled ends, as its `next` gives it and `?after=` takes it back: the last
// entry's due time (ms) and handle, the order both stores list in. Entries delivered or cancelled meanwhile
// shift no page, as an offset would.
struct ListCursor
{
    qint64 dueMs = 0;
    QString handle;

    static QString of(const ScheduledEntry &e)
    {
        return u"%1-%2"_s.arg(e.at.toMSecsSinceEpoch()).arg(e.handle);
    }
    static std::optional<ListCursor> parse(const QString &text)
    {
        const qsizetype dash = text.indexOf(u'-');
        bool ok = false;
        const qint64 due = dash > 0 ? text.left(dash).toLongLong(&ok) : 0;
        const QString handle = text.mid(dash + 1);
        if (!ok || due < 0 || handle.isEmpty() || handle.size() > 64)
            return std::nullopt;
        return ListCursor{due, handle};
    }
    bool endsBefore(const ScheduledEntry &e) const
    {
        const qint64 due = e.at.toMSecsSinceEpoch();
        return due > dueMs || (due == dueMs && e.handle > handle);
    }
};

RestResponse preflight(const char *allowed)
{
    RestResponse r = restNoContent();
    r.setHeader("Allow", allowed);
    r.setHeader("Access-Control-Allow-Methods", allowed);
    r.setHeader("Access-Control-Allow-Headers", "Content-Type, Authorization, X-Client-Id");
    r.setHeader("Access-Control-Max-Age", "600");
    return r;
}

bool isRead(const RestRequest &request)
{
    return request.method == "GET" || request.method == "HEAD";
}

RestResponse notFound(const QString &handle)
{
    return restError(404, ErrorCode::NotFound,
                     u"no scheduled publish '%1': unknown, delivered or cancelled"_s.arg(handle.left(40)));
}

// What ScheduledEntry::newHandle makes: anything else cannot be one, and is not looked up.
bool isHandle(const QString &text)
{
    if (text.size() != 16)
        return false;
    return std::all_of(text.cbegin(), text.cend(),
                       [](QChar c) { return (c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'f'); });
}
} // namespace

ScheduleApi::ScheduleApi(Hub *hub, QHttpServer *server, const HttpApi *api, QObject *parent)
    : QObject(parent)
    , m_hub(hub)
    , m_api(api)
    , m_guard(hub)
{
    // Answered through HttpApi::answer, as every route: CORS, the connection closed, HEAD without a body.
    server->route(u"/api/scheduled"_s, Method::AnyKnown,
                  [this](const QHttpServerRequest &request, QHttpServerResponder &&responder) {
                      const RestRequest r = restRequest(request);
                      m_api->answer(r.method == "OPTIONS" ? preflight(ListMethods)
                                    : isRead(r)           ? list(r)
                                                          : methodNotAllowed("GET, HEAD"),
                                    request, std::move(responder));
                  });
    server->route(
        u"/api/scheduled/<arg>"_s, Method::AnyKnown,
        [this](const QString &handle, const QHttpServerRequest &request, QHttpServerResponder &&responder) {
            const RestRequest r = restRequest(request);
            m_api->answer(r.method == "OPTIONS"               ? preflight(ItemMethods)
                          : isRead(r) || r.method == "DELETE" ? one(handle, r)
                                                              : methodNotAllowed("GET, HEAD, DELETE"),
                          request, std::move(responder));
        });
}

Scheduler *ScheduleApi::scheduler() const
{
    return m_hub->publisher().scheduler();
}

RestResponse ScheduleApi::list(const RestRequest &request)
{
    Identity who;
    if (auto refused = m_guard.identify(request, who))
        return std::move(*refused);
    const QString channel = request.query.queryItemValue(u"channel"_s, QUrl::FullyDecoded);
    if (request.query.hasQueryItem(u"channel"_s)) {
        if (!isValidChannelName(channel))
            return restError(422, ErrorCode::BadChannel, invalidChannelMessage(channel));
        if (auto refused = m_guard.check(who.canWrite(channel), who.refusal(channel, true)))
            return std::move(*refused);
    }
    int limit = DefaultLimit;
    if (request.query.hasQueryItem(u"limit"_s)) {
        bool ok = false;
        limit = request.query.queryItemValue(u"limit"_s).toInt(&ok);
        if (!ok || limit < 1 || limit > MaxLimit)
            return restError(422, ErrorCode::BadRequest,
                             u"limit must be an integer from 1 to %1"_s.arg(MaxLimit));
    }
    std::optional<ListCursor> after;
    if (request.query.hasQueryItem(u"after"_s)) {
        after = ListCursor::parse(request.query.queryItemValue(u"after"_s, QUrl::FullyDecoded));
        if (!after)
            return restError(422, ErrorCode::BadRequest, u"after must be the 'next' of the previous page"_s);
    }
    Scheduler *s = scheduler();
    if (!s)
        return restError(503, ErrorCode::Unavailable,
                         u"scheduled delivery is not available on this server"_s);
    bool more = false;
    auto entries = s->entries(
        [&](const ScheduledEntry &e) {
            return (!after || after->endsBefore(e)) && (channel.isEmpty() || e.message.channel == channel) &&
                   who.canWrite(e.message.channel);
        },
        limit, &more);
    if (!entries)
        return restStoreError(entries.error());
    QJsonArray array;
    for (const ScheduledEntry &e : std::as_const(*entries))
        array.append(e.toJson());
    QJsonObject page{{"scheduled"_L1, array}, {"has_more"_L1, more}};
    if (more)
        page.insert("next"_L1, ListCursor::of(entries->constLast()));
    return restJson(page);
}

RestResponse ScheduleApi::one(const QString &handle, const RestRequest &request)
{
    Identity who;
    if (auto refused = m_guard.identify(request, who))
        return std::move(*refused);
    Scheduler *s = scheduler();
    if (!s)
        return restError(503, ErrorCode::Unavailable,
                         u"scheduled delivery is not available on this server"_s);
    if (!isHandle(handle))
        return notFound(handle);
    auto entry = s->entry(handle);
    if (!entry)
        return restStoreError(entry.error());
    if (!*entry)
        return notFound(handle);
    const QString &channel = (*entry)->message.channel;
    if (auto refused = m_guard.check(who.canWrite(channel), who.refusal(channel, true)))
        return std::move(*refused);
    if (isRead(request))
        return restJson((*entry)->toJson());
    auto cancelled = s->cancel(handle);
    if (!cancelled)
        return restStoreError(cancelled.error());
    // Delivered (or cancelled by another request) since it was read.
    if (!*cancelled)
        return notFound(handle);
    return restJson(QJsonObject{{"handle"_L1, handle}, {"cancelled"_L1, true}});
}

} // namespace Herald
