#pragma once

#include <QByteArrayView>
#include <QJsonObject>
#include <QString>

#include <optional>

namespace Herald {

// Parses text that must be one JSON object, strictly: QJsonDocument (Qt 6.4) accepts raw control characters
// inside strings and cuts a string short at a raw NUL, so "x\0y" would quietly become "x". RFC 8259 section 7
// wants them escaped; a text with one is refused, saying where. On failure the error says where the JSON
// broke.
struct JsonObjectError
{
    QString message; // "invalid JSON at offset 12: …" or "… must be a JSON object"
};
std::optional<QJsonObject> parseJsonObject(QByteArrayView text, JsonObjectError *error = nullptr);

// The offset of the first control character (U+0000 to U+001F) inside a string, or outside one other than
// JSON's whitespace (tab, LF, CR); empty when there is none.
std::optional<qsizetype> rawControlCharacter(QByteArrayView text);

} // namespace Herald
