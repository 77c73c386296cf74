#include "auth.h"

#include "channelname.h"

#include <QFile>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <jwt.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
constexpr qsizetype MinSecretLength = 32;
constexpr qsizetype MaxTokenLength = 8192;

struct JwtDeleter
{
    void operator()(jwt_t *j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

// libjwt returns a malloc'ed string for JSON grants.
QByteArray takeString(char *s)
{
    if (!s)
        return {};
    QByteArray out(s);
    ::free(s); // NOLINT: allocated by libjwt with malloc
    return out;
}

// A NumericDate claim (RFC 7519 section 2): seconds since 1970, an integer or a fraction, however large.
// Taken to the second (rounded down) and held within 1970 to 9999, the years QDateTime and our ISO 8601
// timestamps show: an exp past that is as good as never.
constexpr qint64 LastNumericDate = 253402300799; // 9999-12-31T23:59:59Z

struct NumericDate
{
    bool present = false;
    bool valid = true; // present but not a number
    qint64 secs = 0;
};

NumericDate numericDate(jwt_t *jwt, const char *claim)
{
    // The claim's JSON text: libjwt's jwt_get_grant_int() refuses a fraction.
    const QByteArray json = takeString(jwt_get_grants_json(jwt, claim));
    if (json.isEmpty())
        return {};
    bool ok = false;
    qint64 secs = json.toLongLong(&ok);
    if (!ok) {
        const double d = json.toDouble(&ok); // a string would be quoted: refused
        if (!ok || !std::isfinite(d))
            return {true, false, 0};
        secs = qint64(std::floor(std::clamp(d, 0.0, double(LastNumericDate))));
    }
    return {true, true, std::clamp<qint64>(secs, 0, LastNumericDate)};
}

// How far ahead of this server's clock a token's nbf may be: the issuer's clock may run a little ahead.
constexpr qint64 NotBeforeLeewaySecs = 30;
} // namespace

QString roleName(Role role)
{
    switch (role) {
    case Role::Subscriber:
        return u"subscriber"_s;
    case Role::Publisher:
        return u"publisher"_s;
    case Role::Admin:
        return u"admin"_s;
    }
    return u"subscriber"_s;
}

std::optional<Role> roleFromName(QStringView name)
{
    if (name == u"subscriber")
        return Role::Subscriber;
    if (name == u"publisher")
        return Role::Publisher;
    if (name == u"admin")
        return Role::Admin;
    return std::nullopt;
}

Identity Identity::openAccess()
{
    Identity i;
    i.open = true;
    i.role = Role::Admin;
    return i;
}

Identity Identity::anonymous()
{
    Identity i;
    i.open = false;
    return i;
}

bool Identity::canRead(const QString &channel) const
{
    if (open)
        return true;
    if (!authenticated)
        return false;
    if (role == Role::Admin)
        return true;
    if (isUserChannel(channel))
        return channel.mid(Channels::UserPrefix.size()) == subject;
    // A user's read events are as private as the queue they describe.
    if (isReadsChannel(channel))
        return channel.mid(Channels::ReadsPrefix.size()) == subject;
    if (!restricted)
        return true;
    for (const QString &pattern : channels) {
        if (channelMatches(pattern, channel))
            return true;
    }
    return false;
}

bool Identity::canWrite(const QString &channel) const
{
    // Read events say what the store holds: only the server publishes them, after the change they report.
    if (isReadsChannel(channel))
        return false;
    if (open)
        return true;
    if (!authenticated || role == Role::Subscriber)
        return false;
    if (role == Role::Admin || !restricted)
        return true;
    // A publisher's allow-list bounds where it writes; a user queue it may always reach is not implied.
    for (const QString &pattern : channels) {
        if (channelMatches(pattern, channel))
            return true;
    }
    return false;
}

QString Identity::refusal(const QString &channel, bool write) const
{
    if (write && isReadsChannel(channel))
        return u"%1 is written by the server only: change read state through /api/notifications"_s.arg(
            channel);
    if (!open && !authenticated)
        return u"authentication required: present a token"_s;
    if (write && role == Role::Subscriber)
        return u"a subscriber token cannot publish"_s;
    if (!write && (isUserChannel(channel) || isReadsChannel(channel)))
        return u"%1 belongs to another user"_s.arg(channel);
    return u"the token does not allow channel %1"_s.arg(channel);
}

QString Identity::senderFor(const QString &clientId, const QString &declared) const
{
    if (!open)
        return authenticated ? subject : QString();
    return clientId.isEmpty() ? declared : clientId;
}

TokenVerifier::TokenVerifier(QByteArray secret)
    : m_secret(std::move(secret))
{}

Result<Identity, AuthError> TokenVerifier::verify(QByteArrayView token) const
{
    using R = Result<Identity, AuthError>;
    if (m_secret.isEmpty())
        return R::failure({u"token authentication is not configured"_s});
    if (token.isEmpty())
        return R::failure({u"no token"_s});
    if (token.size() > MaxTokenLength)
        return R::failure({u"the token is too long"_s});
    const QByteArray text = token.toByteArray(); // libjwt wants a NUL-terminated string
    jwt_t *raw = nullptr;
    if (jwt_decode(&raw, text.constData(), reinterpret_cast<const unsigned char *>(m_secret.constData()),
                   int(m_secret.size())) != 0 ||
        !raw)
        return R::failure({u"invalid token (malformed or bad signature)"_s});
    JwtPtr jwt(raw);
    // Only HS256: a token that names another algorithm ("none" above all) is refused whatever libjwt accepts.
    if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256)
        return R::failure({u"invalid token: only HS256 is accepted"_s});

    Identity id;
    id.open = false;
    id.authenticated = true;
    const char *sub = jwt_get_grant(jwt.get(), "sub");
    if (!sub || !*sub)
        return R::failure({u"invalid token: no sub claim"_s});
    id.subject = QString::fromUtf8(sub);
    if (!isValidIdentifier(id.subject))
        return R::failure({u"invalid token: sub must match [A-Za-z0-9_.:-]{1,121}"_s});
    const char *role = jwt_get_grant(jwt.get(), "role");
    if (!role) {
        // Absent means subscriber; present in another form (["admin"], 1, null) is a malformed token, not a
        // quiet downgrade.
        char *json = jwt_get_grants_json(jwt.get(), "role");
        const bool present = json != nullptr;
        std::free(json); // malloc()ed by libjwt 1.x, which has no free function of its own for it
        if (present)
            return R::failure({u"invalid token: role must be a string: subscriber, publisher or admin"_s});
    }
    const auto parsedRole = roleFromName(QString::fromUtf8(role ? role : "subscriber"));
    if (!parsedRole)
        return R::failure({u"invalid token: role must be subscriber, publisher or admin"_s});
    id.role = *parsedRole;

    const NumericDate exp = numericDate(jwt.get(), "exp");
    if (!exp.valid)
        return R::failure({u"invalid token: exp must be a number"_s});
    if (exp.present) {
        id.expiresAt = QDateTime::fromSecsSinceEpoch(exp.secs, Qt::UTC);
        if (QDateTime::currentDateTimeUtc() >= id.expiresAt)
            return R::failure({u"token expired"_s});
    }
    // RFC 7519 section 4.1.5: not to be accepted before nbf.
    const NumericDate nbf = numericDate(jwt.get(), "nbf");
    if (!nbf.valid)
        return R::failure({u"invalid token: nbf must be a number"_s});
    if (nbf.present && nbf.secs > QDateTime::currentSecsSinceEpoch() + NotBeforeLeewaySecs)
        return R::failure({u"token not valid yet"_s});

    const QByteArray channels = takeString(jwt_get_grants_json(jwt.get(), "channels"));
    if (!channels.isEmpty()) {
        const QJsonDocument doc = QJsonDocument::fromJson(channels);
        id.restricted = true;
        if (!doc.isArray())
            return R::failure({u"invalid token: channels must be an array of patterns"_s});
        for (const QJsonValue &v : doc.array()) {
            if (!v.isString() || v.toString().isEmpty())
                return R::failure({u"invalid token: channels must be an array of patterns"_s});
            id.channels.append(v.toString());
        }
    }
    return id;
}

QByteArray TokenVerifier::mint(const QString &subject, Role role, std::chrono::seconds ttl,
                               const QStringList &channels) const
{
    jwt_t *raw = nullptr;
    if (jwt_new(&raw) != 0 || !raw)
        return {};
    JwtPtr jwt(raw);
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    jwt_add_grant(jwt.get(), "sub", subject.toUtf8().constData());
    jwt_add_grant(jwt.get(), "role", roleName(role).toUtf8().constData());
    jwt_add_grant_int(jwt.get(), "iat", long(now));
    if (ttl.count() > 0)
        jwt_add_grant_int(jwt.get(), "exp", long(now + ttl.count()));
    if (!channels.isEmpty()) {
        const QByteArray json =
            QJsonDocument(QJsonObject{{"channels"_L1, QJsonArray::fromStringList(channels)}}).toJson();
        jwt_add_grants_json(jwt.get(), json.constData());
    }
    if (jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char *>(m_secret.constData()),
                    int(m_secret.size())) != 0)
        return {};
    return takeString(jwt_encode_str(jwt.get()));
}

AuthPolicy::AuthPolicy(bool tokenMode, TokenVerifier verifier, BrowserRules rules)
    : m_tokenMode(tokenMode)
    , m_verifier(std::move(verifier))
    , m_rules(std::move(rules))
{}

Result<Identity, AuthError> AuthPolicy::identify(QByteArrayView token) const
{
    if (!m_tokenMode)
        return Identity::openAccess();
    if (token.isEmpty())
        return Identity::anonymous();
    return m_verifier.verify(token);
}

bool AuthPolicy::originAllowed(QByteArrayView origin, QByteArrayView host) const
{
    if (origin.isEmpty() || m_rules.anyOrigin)
        return true;
    QString o = QString::fromUtf8(origin).trimmed();
    if (o.endsWith(u'/'))
        o.chop(1);
    // The server's own pages: scheme://<the Host this request was sent to>.
    const qsizetype sep = o.indexOf(u"://"_s);
    if (sep > 0 && !host.isEmpty() &&
        o.mid(sep + 3).compare(QString::fromUtf8(host).trimmed(), Qt::CaseInsensitive) == 0)
        return true;
    if (m_rules.allowedOrigins.isEmpty())
        return m_tokenMode;
    return m_rules.allowedOrigins.contains(o, Qt::CaseInsensitive);
}

bool AuthPolicy::hostAllowed(QByteArrayView host) const
{
    if (m_tokenMode)
        return true;
    QString name = QString::fromUtf8(host).trimmed().toLower();
    // Drop the port: "[::1]:8000" → "[::1]", "localhost:8000" → "localhost".
    if (name.startsWith(u'[')) {
        const qsizetype end = name.indexOf(u']');
        if (end < 0)
            return false;
        name.truncate(end + 1);
    } else if (const qsizetype colon = name.lastIndexOf(u':'); colon >= 0) {
        name.truncate(colon);
    }
    if (name.isEmpty())
        return false;
    // An IP literal cannot be rebound to another address; localhost names resolve to loopback (RFC 6761).
    if (name == u"localhost"_s || name.endsWith(u".localhost"_s))
        return true;
    if (!QHostAddress(name.startsWith(u'[') ? name.mid(1, name.size() - 2) : name).isNull())
        return true;
    if (name.endsWith(u'.'))
        name.chop(1);
    return m_rules.allowedHosts.contains(name, Qt::CaseInsensitive);
}

QByteArray bearerToken(QByteArrayView authorization)
{
    const QByteArray a = authorization.toByteArray().trimmed();
    if (a.size() > 7 && a.left(7).toLower() == "bearer ")
        return a.mid(7).trimmed();
    return {};
}

Result<QByteArray, QString> readSecretFile(const QString &path)
{
    using R = Result<QByteArray, QString>;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return R::failure(u"cannot read the JWT secret file %1"_s.arg(path));
    const QByteArray secret = f.read(64 * 1024).trimmed();
    if (secret.size() < MinSecretLength)
        return R::failure(
            u"the JWT secret in %1 is shorter than %2 bytes (try: head -c 48 /dev/urandom | base64 > %1)"_s
                .arg(path)
                .arg(MinSecretLength));
    return secret;
}

} // namespace Herald
