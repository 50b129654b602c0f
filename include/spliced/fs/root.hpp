#pragma once
// The served directory: its descriptor is the anchor of every open (DESIGN.md §6).

#include "spliced/core/result.hpp"
#include "spliced/core/unique_fd.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <string>

namespace spliced::fs {

// Opens DIR as an O_PATH directory descriptor; fails if it is missing or not a directory.
result<unique_fd> open_root(const std::string& dir);

// The open_how every file of the root is opened with: read-only, non-blocking (a FIFO can never
// hang a worker), and resolved beneath the root without magic links (openat2(2)). Symlinks that
// stay inside the root are followed; any that would leave it fail with EXDEV.
constexpr open_how file_open_how() noexcept {
    open_how how{};
    how.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return how;
}

} // namespace spliced::fs
