#pragma once

#include "envelope.h"
#include "errorcode.h"
#include "history.h"
#include "message.h"
#include "quiethours.h"
#include "result.h"

#include <QDateTime>
#include <QMutex>
#include <QString>

#include <functional>
#include <optional>

namespace Herald {

class Hub;
class Scheduler;

// One publish as the REST API and WebSocket sessions hand it over: the message and what the publisher asked
// of its delivery (docs/protocol.md, "Notifications").
struct PublishRequest
{
    Message message;
    QString excludeClientId;
    // Idempotency-Key (REST) or idempotency_key (frames); empty: none. Keys are the publisher's: `scope` (its
    // identity) keeps two publishers' equal keys apart.
    QString idempotencyKey;
    QString idempotencyScope;
    // Scheduled delivery ("at" or "delay"): the message is kept and published then, taking its id then.
    std::optional<QDateTime> deliverAt;
    const PublishOptions *options = nullptr; // a waiting REST publisher's (Hub::publish)
    // A keyed publish's own copy of `options`, which checkIdempotency points `options` at.
    PublishOptions keyedOptions;
};

struct PublishOutcome
{
    qint64 id = 0;          // 0 for a scheduled publish: it has no id until it is delivered
    bool duplicate = false; // an earlier publish with the same idempotency key: its id, nothing delivered
    QString scheduled;      // the scheduled publish's handle (GET/DELETE /api/scheduled/{handle})
    QDateTime deliverAt;
};

// Why a publish was refused: the store's refusal (503/504), or a request error with its status.
struct PublishFailure
{
    int status = 422;
    ErrorCode code = ErrorCode::BadRequest;
    QString message;
    std::optional<StoreError> store;

    static PublishFailure fromStore(const StoreError &error)
    {
        return {503, ErrorCode::Unavailable, error.message, error};
    }
};

using PublishAnswer = Result<PublishOutcome, PublishFailure>;

// A withdrawal done: the "withdrawn" event's id, the message it hid and their channel.
struct Withdrawal
{
    qint64 id = 0;
    qint64 withdraws = 0;
    QString channel;
};
// The caller's rule for the chain's channel once it is known: a refusal (404 for a queue the caller may not
// read, 403 without write permission), or nothing to go on.
using ChannelCheck = std::function<std::optional<PublishFailure>(const QString &channel)>;

// The steps of a notification publish around Hub::publish, in this order: the idempotency window (a retry
// answers with the first id), scheduling (kept for later), `replaces` resolved to its chain's latest message,
// the recipient's quiet hours, then the hub's publish. Each step is in a file of its own. Thread-safe:
// workers call in from their threads.
class Publisher
{
public:
    explicit Publisher(Hub *hub);

    PublishAnswer publish(PublishRequest request);
    // Publishes what the scheduler hands over when its time has come (no idempotency, no schedule):
    // `scheduled` is its handle, whose entry goes in the same commit (PublishOptions::scheduled). A failure
    // with StoreError::Kind::Gone: it was cancelled or delivered already, nothing was published.
    PublishAnswer deliver(Message message, const QString &scheduled = {},
                          const QString &excludeClientId = {});

    // Where scheduled publishes wait (Server sets it up before any connection arrives; none: a publish with
    // "at" or "delay" is refused with 503).
    void setScheduler(Scheduler *scheduler) { m_scheduler = scheduler; }
    Scheduler *scheduler() const { return m_scheduler; }
    // Withdraws the update chain `id` belongs to (docs/protocol.md, "Updates and withdrawals"): its latest
    // message is hidden and a stored "withdrawn" event naming it is published on its channel. 404 when the
    // chain is unknown, expired or withdrawn already.
    Result<Withdrawal, PublishFailure> withdraw(qint64 id, const ChannelCheck &check,
                                                const QString &excludeClientId = {});
    // Tests only: called on the publishing thread once a keyed publish holds its key (Claimed, with no
    // answer yet) and once Hub::publish (or the schedule) answered it, before the key's hold ends
    // (Published): what a crash at either point leaves is what the hook sees. Set it before publishing;
    // nullptr removes it.
    enum class KeyedStep
    {
        Claimed,
        Published,
    };
    using KeyedHook = std::function<void(KeyedStep step, const PublishAnswer *answer)>;
    void setKeyedHook(KeyedHook hook);

    // The users' settings the quiet-hours step reads (quiethours.cpp); forget() one after changing it.
    UserSettingsCache &userSettings() { return m_settings; }

private:
    // Each returns an answer when the publish ends there (a duplicate, a scheduled publish, a refusal).
    std::optional<PublishAnswer> checkIdempotency(PublishRequest &request);
    // Ends the publish's hold on its key; a refusal that leaves the key another's becomes a 409.
    void rememberIdempotency(const PublishRequest &request, PublishAnswer &answer);
    std::optional<PublishAnswer> schedule(PublishRequest &request);
    std::optional<PublishFailure> resolveReplaces(Message &message);
    void applyQuietHours(Message &message);
    // Hub::publish, and for an update that another one of its chain overtook (StoreError::Stale) the
    // resolution again, so that the chain stays one line (replacement.cpp).
    PublishAnswer publishResolved(Message message, const QString &excludeClientId,
                                  const PublishOptions *options);

    Hub *m_hub;
    UserSettingsCache m_settings{m_hub};
    Scheduler *m_scheduler = nullptr;
    // Held from an update's resolution to its commit, so this node's updates of a chain never overtake each
    // other (a storm of them would otherwise retry until it gave up). Other nodes' still can: Stale, retry.
    QMutex m_updateMutex;
    QMutex m_hookMutex;
    KeyedHook m_keyedHook;
    void runKeyedHook(const PublishRequest &request, KeyedStep step, const PublishAnswer *answer);
};

} // namespace Herald
