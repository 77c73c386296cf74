#include "appicon.h"

#include <QImageReader>
#include <QPainter>
#include <QPainterPath>
#include <QPixmap>

using namespace Qt::StringLiterals;

namespace Herald {

namespace {
QPixmap paintedBell(int size)
{
    QPixmap pm(size, size);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    p.scale(size / 64.0, size / 64.0);
    // Same geometry as herald.svg (a 64x64 canvas).
    p.setPen(Qt::NoPen);
    p.setBrush(QColor(0x1f, 0x6f, 0xeb));
    p.drawRoundedRect(QRectF(2, 2, 60, 60), 14, 14);
    QPainterPath bell;
    bell.moveTo(32, 12);
    bell.cubicTo(22, 12, 18, 20, 18, 28);
    bell.lineTo(18, 38);
    bell.lineTo(13, 45);
    bell.lineTo(51, 45);
    bell.lineTo(46, 38);
    bell.lineTo(46, 28);
    bell.cubicTo(46, 20, 42, 12, 32, 12);
    bell.closeSubpath();
    p.setBrush(QColor(0xff, 0xd3, 0x3d));
    p.drawPath(bell);
    p.drawEllipse(QPointF(32, 50), 5, 5);
    p.drawEllipse(QPointF(32, 11), 3, 3);
    return pm;
}
} // namespace

QIcon appIcon()
{
    static const QString svg = u":/herald/herald.svg"_s;
    if (QImageReader::supportedImageFormats().contains("svg")) {
        QIcon icon(svg);
        if (!icon.isNull())
            return icon;
    }
    QIcon icon;
    for (int size : {16, 24, 32, 48, 64, 128, 256})
        icon.addPixmap(paintedBell(size));
    return icon;
}

} // namespace Herald
