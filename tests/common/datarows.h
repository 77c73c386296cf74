#pragma once

// _data() tables of a shape many suites share.

#include <QTest>

#include <initializer_list>
#include <utility>

namespace HeraldTest {

// A _data() table of one bool column, a row a (name, value) pair, in order:
// boolRows("webSocket", {{"ws", true}, {"sse", false}}).
inline void boolRows(const char *column, std::initializer_list<std::pair<const char *, bool>> rows)
{
    QTest::addColumn<bool>(column);
    for (const auto &[name, value] : rows)
        QTest::newRow(name) << value;
}

} // namespace HeraldTest
