#pragma once
// The data path's error model: fallible functions return result<T>, never throw (DESIGN.md §10).

#include <boost/system/result.hpp>
#include <cerrno>
#include <system_error>

namespace spliced {

template <class T>
using result = boost::system::result<T, std::error_code>;

// An errno value as an error_code in the generic category, for result<T>.
inline std::error_code errno_code(int err) noexcept {
    return {err, std::generic_category()};
}

} // namespace spliced
