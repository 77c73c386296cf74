#pragma once

#include <QtGlobal>

#include <algorithm>
#include <limits>

namespace Herald {

// The one paging rule of both history backends (Store, RedisHistory): a read asks for one row more than a
// page holds (fetch()); rows are admitted while the page has room, and a row that finds none means there is
// more (a page's has_more, a replay that is not recovered). A byte budget always lets the first row in, so a
// page is never empty while rows remain.
class PageLimit
{
public:
    explicit PageLimit(int rows, qint64 bytes = std::numeric_limits<qint64>::max())
        : m_rows(std::max(1, rows))
        , m_bytes(bytes)
    {}

    // How many rows to read: one past the page.
    qint64 fetch() const { return qint64(m_rows) + 1; }

    // Whether the next row, of `size` bytes, goes on the page. Once false, the page is full and more remain:
    // stop reading.
    bool admit(qint64 size = 0)
    {
        if (m_taken >= m_rows || (m_taken > 0 && m_used >= m_bytes)) {
            m_more = true;
            return false;
        }
        ++m_taken;
        m_used += size;
        return true;
    }
    bool more() const { return m_more; }

private:
    int m_rows;
    qint64 m_bytes;
    int m_taken = 0;
    qint64 m_used = 0;
    bool m_more = false;
};

// Rows read newest first (a replay's tail, a page backwards) are handed out oldest first.
template<typename... Lists>
void oldestFirst(Lists &...lists)
{
    (std::reverse(lists.begin(), lists.end()), ...);
}

} // namespace Herald
