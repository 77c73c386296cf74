#pragma once

#include <QString>

namespace Herald {

// Herald's documentation for the Help menu, as a local file: beside the installed program
// (share/doc/herald-dashboard, or the server package's share/doc/herald-server), else in the source tree the
// program was built from. `sourcePath` is the file's path in the source tree ("README.md",
// "docs/protocol.md"); installed copies go by its file name. Empty if there is none.
QString findDocumentation(const QString &sourcePath);

} // namespace Herald
