#pragma once
// What an operation asks of the kernel, for per-op latency metrics. Its own header so that
// metrics can name the kinds without including <liburing.h>.

#include <cstddef>
#include <cstdint>

namespace spliced::uring {

enum class op_kind : std::uint8_t {
    accept,
    recv,
    send,
    splice,
    read,
    openat,
    statx,
    close,
    poll,
    write,
    files_update,
    cancel,
    connect, // spliced-get's connections
};
inline constexpr std::size_t op_kind_count = 13;

} // namespace spliced::uring
