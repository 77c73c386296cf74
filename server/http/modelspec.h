#pragma once

#include <QJsonObject>
#include <QJsonValue>
#include <QList>
#include <QString>
#include <QStringList>

namespace Herald {

// One field of a model (seed 004's users and posts). The REST routes, the validation, the storage and the
// channel of a model all follow from its ModelSpec: adding a model is declaring one.
struct FieldSpec
{
    enum class Type
    {
        String,
        Email, // a string that looks like an address; unique comparisons ignore case
        Integer,
        Boolean,
        Reference, // the id of a record of another model (`references`)
    };

    QString name;
    Type type = Type::String;
    bool required = false;   // must be given on create (and may not be null)
    bool unique = false;     // no two records share the value
    int maxLength = 0;       // strings, 0 = no limit
    QJsonValue defaultValue; // on create when not given (Undefined: none, the field is left out)
    QString references;      // Reference: the model name
};

struct ModelSpec
{
    QString name;    // "users": the route (/users/), the channel and the "model" field of events
    QString display; // "User": used in messages ("User deleted", "User 3 not found")
    QList<FieldSpec> fields;

    const FieldSpec *field(const QString &fieldName) const;
};

// Seed 004's two models: users (email, name, is_active) and posts (user_id, title, body).
QList<ModelSpec> builtinModels();

// The field errors of a create (`partial` false) or a patch (`partial` true), one line each, in field order.
// Unknown fields are errors; id, created_at and updated_at are read-only and ignored.
struct FieldError
{
    QString field;
    QString message;
};
QList<FieldError> validateRecord(const ModelSpec &model, const QJsonObject &input, bool partial);

// The stored form of a valid input: known fields only, defaults applied on create, emails trimmed (other
// strings are kept exactly).
QJsonObject normalizeRecord(const ModelSpec &model, const QJsonObject &input, bool partial);

} // namespace Herald
