#include "helplinks.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

using namespace Qt::StringLiterals;

namespace Herald {

QString findDocumentation(const QString &sourcePath)
{
    const QString name = QFileInfo(sourcePath).fileName();
    const QDir bin(QCoreApplication::applicationDirPath());
    const QString candidates[] = {
        bin.absoluteFilePath(u"../share/doc/herald-dashboard/"_s + name),
        bin.absoluteFilePath(u"../share/doc/herald-server/"_s + name),
        // A program run from its build tree has no share/doc; the sources are next to it.
        QStringLiteral(HERALD_SOURCE_DIR "/") + sourcePath,
    };
    for (const QString &path : candidates) {
        const QFileInfo info(path);
        if (info.isFile() && info.isReadable())
            return info.canonicalFilePath();
    }
    return {};
}

} // namespace Herald
