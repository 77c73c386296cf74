#include "modelspec.h"

#include <QRegularExpression>

#include <cmath>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
const QStringList &readOnlyFields()
{
    static const QStringList list = {u"id"_s, u"created_at"_s, u"updated_at"_s};
    return list;
}

bool isWholeNumber(const QJsonValue &v)
{
    if (!v.isDouble())
        return false;
    const double d = v.toDouble();
    return std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9e15;
}

QString typeError(const FieldSpec &f)
{
    switch (f.type) {
    case FieldSpec::Type::String:
        return u"must be a string"_s;
    case FieldSpec::Type::Email:
        return u"must be an email address"_s;
    case FieldSpec::Type::Integer:
        return u"must be an integer"_s;
    case FieldSpec::Type::Boolean:
        return u"must be true or false"_s;
    case FieldSpec::Type::Reference:
        return u"must be the id of one of the %1"_s.arg(f.references);
    }
    return u"has the wrong type"_s;
}

// An empty string on a field that is not checked for its type here.
std::optional<QString> checkValue(const FieldSpec &f, const QJsonValue &v)
{
    switch (f.type) {
    case FieldSpec::Type::String:
    case FieldSpec::Type::Email: {
        if (!v.isString())
            return typeError(f);
        const QString s = v.toString().trimmed();
        if (f.required && s.isEmpty())
            return u"must not be empty"_s;
        if (f.maxLength > 0 && s.size() > f.maxLength)
            return u"must be at most %1 characters"_s.arg(f.maxLength);
        if (f.type == FieldSpec::Type::Email) {
            // Deliberately loose (one @, a dot in the domain, no spaces): the only real check is a mail.
            static const QRegularExpression email(u"^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$"_s);
            if (s.size() > 254 || !email.match(s).hasMatch())
                return typeError(f);
        }
        return std::nullopt;
    }
    case FieldSpec::Type::Integer:
    case FieldSpec::Type::Reference:
        if (!isWholeNumber(v) || (f.type == FieldSpec::Type::Reference && v.toInteger() <= 0))
            return typeError(f);
        return std::nullopt;
    case FieldSpec::Type::Boolean:
        if (!v.isBool())
            return typeError(f);
        return std::nullopt;
    }
    return std::nullopt;
}
} // namespace

const FieldSpec *ModelSpec::field(const QString &fieldName) const
{
    for (const FieldSpec &f : fields) {
        if (f.name == fieldName)
            return &f;
    }
    return nullptr;
}

QList<ModelSpec> builtinModels()
{
    using T = FieldSpec::Type;
    ModelSpec users{u"users"_s,
                    u"User"_s,
                    {
                        {u"email"_s, T::Email, true, true, 254, {}, {}},
                        {u"name"_s, T::String, true, false, 200, {}, {}},
                        {u"is_active"_s, T::Boolean, false, false, 0, QJsonValue(true), {}},
                    }};
    ModelSpec posts{u"posts"_s,
                    u"Post"_s,
                    {
                        {u"user_id"_s, T::Reference, true, false, 0, {}, u"users"_s},
                        {u"title"_s, T::String, true, false, 200, {}, {}},
                        {u"body"_s, T::String, false, false, 100000, QJsonValue(u""_s), {}},
                        {u"published"_s, T::Boolean, false, false, 0, QJsonValue(false), {}},
                    }};
    return {users, posts};
}

QList<FieldError> validateRecord(const ModelSpec &model, const QJsonObject &input, bool partial)
{
    QList<FieldError> errors;
    for (auto it = input.begin(); it != input.end(); ++it) {
        if (!model.field(it.key()) && !readOnlyFields().contains(it.key()))
            errors.append({it.key(), u"is not a field of %1"_s.arg(model.name)});
    }
    for (const FieldSpec &f : model.fields) {
        const QJsonValue v = input.value(f.name);
        if (v.isUndefined()) {
            if (f.required && !partial)
                errors.append({f.name, u"is required"_s});
            continue;
        }
        if (v.isNull()) {
            if (f.required)
                errors.append({f.name, u"is required and may not be null"_s});
            continue;
        }
        if (auto e = checkValue(f, v))
            errors.append({f.name, *e});
    }
    return errors;
}

QJsonObject normalizeRecord(const ModelSpec &model, const QJsonObject &input, bool partial)
{
    QJsonObject out;
    for (const FieldSpec &f : model.fields) {
        QJsonValue v = input.value(f.name);
        if (v.isUndefined()) {
            // An absent default reads as Null or Undefined depending on how the spec was written: neither is
            // stored.
            if (!partial && !f.defaultValue.isUndefined() && !f.defaultValue.isNull())
                out.insert(f.name, f.defaultValue);
            continue;
        }
        // Addresses are compared and looked up, so stray spaces go; other text is kept as written (a post's
        // body may start with indentation).
        if (v.isString() && f.type == FieldSpec::Type::Email)
            v = v.toString().trimmed();
        if (v.isDouble())
            v = QJsonValue(v.toInteger());
        out.insert(f.name, v);
    }
    return out;
}

} // namespace Herald
