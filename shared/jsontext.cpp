#include "jsontext.h"

#include <QJsonDocument>
#include <QJsonParseError>

using namespace Qt::StringLiterals;

namespace Herald {

std::optional<qsizetype> rawControlCharacter(QByteArrayView text)
{
    bool inString = false;
    bool escaped = false;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x20) {
            if (inString || (c != '\t' && c != '\n' && c != '\r'))
                return i;
            continue;
        }
        if (!inString) {
            inString = c == '"';
        } else if (escaped) {
            escaped = false;
        } else if (c == '\\') {
            escaped = true;
        } else if (c == '"') {
            inString = false;
        }
    }
    return std::nullopt;
}

std::optional<QJsonObject> parseJsonObject(QByteArrayView text, JsonObjectError *error)
{
    auto fail = [error](QString message) -> std::optional<QJsonObject> {
        if (error)
            error->message = std::move(message);
        return std::nullopt;
    };
    QJsonParseError parse{};
    const QJsonDocument doc = QJsonDocument::fromJson(text.toByteArray(), &parse);
    if (parse.error != QJsonParseError::NoError)
        return fail(u"invalid JSON at offset %1: %2"_s.arg(parse.offset).arg(parse.errorString()));
    if (const auto at = rawControlCharacter(text))
        return fail(u"invalid JSON at offset %1: a control character must be escaped"_s.arg(*at));
    if (!doc.isObject())
        return fail(
            u"the JSON must be an object, not %1"_s.arg(doc.isArray() ? u"an array"_s : u"a value"_s));
    return doc.object();
}

} // namespace Herald
