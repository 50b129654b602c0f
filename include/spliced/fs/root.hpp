#pragma once
// The served directory: its descriptor is the anchor of every open (DESIGN.md §6).

#include "spliced/core/result.hpp"
#include "spliced/core/unique_fd.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <string>
#include <string_view>

namespace spliced::fs {

// Opens DIR as an O_PATH directory descriptor; fails if it is missing or not a directory.
result<unique_fd> open_root(const std::string& dir);

// Where `fd` is now, as the kernel names it (readlink of /proc/self/fd/N: symlinks resolved).
// Empty if that cannot be read.
std::string real_path(int fd);

// Whether `path` (from real_path) lies below `root` (real_path of the root) through a segment
// that begins with '.': a dotfile or a file inside a dot directory. "/.well-known/" directly below
// the root is not hidden (RFC 8615). A path not below the root answers false.
bool hidden_below(std::string_view root, std::string_view path) noexcept;

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
