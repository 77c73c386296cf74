#pragma once

#include <QIcon>

namespace Herald {

// The Herald bell: resources/herald.svg when Qt can render SVG here, else the same bell drawn with QPainter
// (the SVG image plugin is an optional package).
QIcon appIcon();

} // namespace Herald
