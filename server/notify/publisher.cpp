#include "publisher.h"

#include "hub.h"

using namespace Qt::StringLiterals;

namespace Herald {

Publisher::Publisher(Hub *hub)
    : m_hub(hub)
{}

PublishAnswer Publisher::publish(PublishRequest request)
{
    if (auto answered = checkIdempotency(request))
        return std::move(*answered);
    runKeyedHook(request, KeyedStep::Claimed, nullptr);
    if (auto answered = schedule(request)) {
        runKeyedHook(request, KeyedStep::Published, &*answered);
        rememberIdempotency(request, *answered);
        return std::move(*answered);
    }
    if (auto refused = resolveReplaces(request.message)) {
        PublishAnswer answer = PublishAnswer::failure(std::move(*refused));
        rememberIdempotency(request, answer); // frees the key
        return answer;
    }
    applyQuietHours(request.message);
    PublishAnswer answer =
        publishResolved(std::move(request.message), request.excludeClientId, request.options);
    runKeyedHook(request, KeyedStep::Published, &answer);
    rememberIdempotency(request, answer);
    return answer;
}

void Publisher::setKeyedHook(KeyedHook hook)
{
    QMutexLocker lock(&m_hookMutex);
    m_keyedHook = std::move(hook);
}

void Publisher::runKeyedHook(const PublishRequest &request, KeyedStep step, const PublishAnswer *answer)
{
    if (request.idempotencyKey.isEmpty())
        return;
    KeyedHook hook;
    {
        QMutexLocker lock(&m_hookMutex);
        hook = m_keyedHook;
    }
    if (hook)
        hook(step, answer);
}

PublishAnswer Publisher::deliver(Message message, const QString &scheduled, const QString &excludeClientId)
{
    if (auto refused = resolveReplaces(message))
        return PublishAnswer::failure(std::move(*refused));
    applyQuietHours(message);
    PublishOptions options;
    options.scheduled = scheduled;
    return publishResolved(std::move(message), excludeClientId, &options);
}

} // namespace Herald
