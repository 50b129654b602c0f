#pragma once
// Clocks of the data path: monotonic nanoseconds for deadlines and latencies.

#include <cstdint>
#include <ctime>

namespace spliced {

// Monotonic time in nanoseconds; cheap enough to call per completion.
inline std::uint64_t monotonic_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
}

// Wall-clock seconds since the epoch (for the Date header).
inline std::int64_t wall_seconds() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return ts.tv_sec;
}

} // namespace spliced
