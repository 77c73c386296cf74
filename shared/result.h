#pragma once

#include <type_traits>
#include <utility>
#include <variant>

namespace Herald {

// A std::expected-style result: bookworm's g++ 12 has no <expected>, and parsing code should not throw.
template<class T, class E>
class Result
{
public:
    Result(T value)
        : m_v(std::in_place_index<0>, std::move(value))
    {}
    static Result failure(E error) { return Result(std::in_place_index<1>, std::move(error)); }

    bool hasValue() const { return m_v.index() == 0; }
    explicit operator bool() const { return hasValue(); }
    const T &value() const & { return std::get<0>(m_v); }
    T &value() & { return std::get<0>(m_v); }
    T &&value() && { return std::get<0>(std::move(m_v)); }
    const T &operator*() const & { return value(); }
    const T *operator->() const { return &value(); }
    const E &error() const { return std::get<1>(m_v); }

    // The value passed through f, or the same error (std::expected::transform).
    template<class F>
    auto transform(F &&f) const & -> Result<std::invoke_result_t<F, const T &>, E>
    {
        using R = Result<std::invoke_result_t<F, const T &>, E>;
        if (!hasValue())
            return R::failure(error());
        return R(std::forward<F>(f)(value()));
    }

private:
    template<std::size_t I, class V>
    Result(std::in_place_index_t<I> i, V &&v)
        : m_v(i, std::forward<V>(v))
    {}
    std::variant<T, E> m_v;
};

} // namespace Herald
