#include "recordstore.h"

#include <utility>

namespace Herald {

RecordLock::RecordLock(QByteArray token, Release release)
    : m_token(std::move(token))
    , m_release(std::move(release))
{}

RecordLock::~RecordLock()
{
    release();
}

RecordLock::RecordLock(RecordLock &&other) noexcept
    : m_token(std::exchange(other.m_token, {}))
    , m_release(std::exchange(other.m_release, {}))
{}

RecordLock &RecordLock::operator=(RecordLock &&other) noexcept
{
    if (this != &other) {
        release();
        m_token = std::exchange(other.m_token, {});
        m_release = std::exchange(other.m_release, {});
    }
    return *this;
}

void RecordLock::release()
{
    if (m_release)
        std::exchange(m_release, {})(m_token);
    m_token.clear();
}

} // namespace Herald
