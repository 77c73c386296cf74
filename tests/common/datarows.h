#pragma once

// _data() tables of a shape many suites share.

#include <QTest>

#include <initializer_list>
#include <utility>

namespace HeraldTest {

// A _data() table of one column of T, a row a (name, value) pair, in order:
// rowsOf<QString>("path", {{"native", u"/ws"_s}, {"seed003 client", u"/ws/client"_s}}).
template<class T>
void rowsOf(const char *column, std::initializer_list<std::pair<const char *, T>> rows)
{
    QTest::addColumn<T>(column);
    for (const auto &[name, value] : rows)
        QTest::newRow(name) << value;
}

// The same for a bool column: boolRows("webSocket", {{"ws", true}, {"sse", false}}).
inline void boolRows(const char *column, std::initializer_list<std::pair<const char *, bool>> rows)
{
    rowsOf<bool>(column, rows);
}

// A _data() table of one QString column whose rows are named by their value, in order:
// namedRows("kind", {"ws", "sse"}).
inline void namedRows(const char *column, std::initializer_list<const char *> names)
{
    QTest::addColumn<QString>(column);
    for (const char *name : names)
        QTest::newRow(name) << QString::fromLatin1(name);
}

} // namespace HeraldTest
