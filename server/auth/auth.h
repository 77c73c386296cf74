#pragma once

#include "result.h"

#include <QByteArray>
#include <QDateTime>
#include <QString>
#include <QStringList>

#include <chrono>

namespace Herald {

// What a token may do (SPEC section 7). Wire names ("subscriber", "publisher", "admin") are append only.
enum class Role
{
    Subscriber,
    Publisher,
    Admin,
};
QString roleName(Role role);
std::optional<Role> roleFromName(QStringView name);

// Who a connection or a request is. In open mode everyone is an anonymous admin, as in the seeds; in token
// mode an unauthenticated identity may do nothing but present a token.
struct Identity
{
    bool open = true;           // --auth open: every rule passes
    bool authenticated = false; // a valid token was presented
    QString subject;            // the token's sub: the user
    Role role = Role::Subscriber;
    QStringList channels;    // allow-list patterns ('*' wildcards)
    bool restricted = false; // the token carries a channels claim (an empty one allows no channel)
    QDateTime expiresAt;     // invalid: no expiry

    static Identity openAccess();
    static Identity anonymous(); // token mode, no token yet

    bool isAdmin() const { return open || (authenticated && role == Role::Admin); }
    bool canPublish() const { return open || (authenticated && role != Role::Subscriber); }
    // Reading a channel: user:<id> and reads:<id> only for their own user (or an admin); else the allow-list.
    bool canRead(const QString &channel) const;
    // Writing a channel: a publisher or an admin, within the allow-list; reads:* nobody (the server publishes
    // there itself).
    bool canWrite(const QString &channel) const;
    // Why canRead/canWrite said no, for the refusal's reason.
    QString refusal(const QString &channel, bool write) const;
    // Who a message from this identity says it is from: the token's sub, never a field the client fills in.
    // Open mode has no identities: the connection's client id (for REST, X-Client-Id), else what the
    // request named, as trusted as the client id it could have picked.
    QString senderFor(const QString &clientId, const QString &declared = {}) const;
};

struct AuthError
{
    QString message; // "token expired", "bad signature", …
};

// HS256 JSON Web Tokens through libjwt: verification for every transport, and minting for
// `herald-server token`. Stateless and thread-safe after construction.
class TokenVerifier
{
public:
    TokenVerifier() = default;
    explicit TokenVerifier(QByteArray secret);

    bool isValid() const { return !m_secret.isEmpty(); }
    Result<Identity, AuthError> verify(QByteArrayView token) const;
    QByteArray mint(const QString &subject, Role role, std::chrono::seconds ttl,
                    const QStringList &channels = {}) const;

private:
    QByteArray m_secret;
};

// Which browser pages and host names an open server answers (see ServerConfig::allowedOrigins, allowedHosts).
struct BrowserRules
{
    QStringList allowedOrigins;
    bool anyOrigin = false;
    QStringList allowedHosts;
};

// The server's policy: open or token mode, the verifier, the origins browsers may connect from.
class AuthPolicy
{
public:
    AuthPolicy() = default; // open, the server's own origin only, loopback host names
    AuthPolicy(bool tokenMode, TokenVerifier verifier, BrowserRules rules);

    bool tokenMode() const { return m_tokenMode; }
    // Open mode: full access whatever the token. Token mode: no token is an anonymous identity that may only
    // authenticate; a bad token is an error.
    Result<Identity, AuthError> identify(QByteArrayView token) const;
    // Requests without an Origin header come from programs, not pages, and are not a cross-site risk. A page
    // of the server's own (its Origin names the request's Host) always may.
    bool originAllowed(QByteArrayView origin, QByteArrayView host) const;
    // Open mode: localhost (and *.localhost), IP literals and --allowed-hosts; token mode: any.
    bool hostAllowed(QByteArrayView host) const;
    // CORS answers "*" (any page may read) only where tokens, not the network position, protect the data.
    bool corsAnyOrigin() const
    {
        return m_rules.anyOrigin || (m_tokenMode && m_rules.allowedOrigins.isEmpty());
    }

private:
    bool m_tokenMode = false;
    TokenVerifier m_verifier;
    BrowserRules m_rules;
};

// "Bearer <token>" → the token; anything else → empty.
QByteArray bearerToken(QByteArrayView authorization);

// Reads a secret file (trailing whitespace trimmed). Refuses an empty or short one: an HS256 key shorter
// than its 32-byte hash is guessable.
Result<QByteArray, QString> readSecretFile(const QString &path);

} // namespace Herald
