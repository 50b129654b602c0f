#pragma once
// How spliced-get moves body bytes from a socket into FILE.part (--io; fetch_connection.hpp
// describes each path, perf/clients measures them).

#include <cstddef>

namespace spliced::client {

enum class receive_path {
    automatic, // the cheapest this output's filesystem takes (resolve())
    plain,
    fixed,
    splice,
};

// The block size O_DIRECT writes to FILE.part (`file_fd`) keep to from page-aligned buffers: a
// page, when the filesystem reports a DIO alignment (statx STATX_DIOALIGN, Linux 6.1) of at most
// a page (so that no buffered write ever shares a page with a direct one); 0 otherwise.
std::size_t direct_alignment(int file_fd) noexcept;

// The path for `wanted`: automatic becomes fixed where direct_alignment() is known (ext4 and XFS
// report one: bytes go to the disk without a copy into the page cache), else
// resolve_unregistered().
receive_path resolve(receive_path wanted, int file_fd) noexcept;
// automatic without registered buffers (RLIMIT_MEMLOCK refused them, or no O_DIRECT): splice on
// ext4, XFS, Btrfs, F2FS and tmpfs, whose files take splice writes, plain on any other
// filesystem (one without splice_write would fail every body write with EINVAL).
receive_path resolve_unregistered(int file_fd) noexcept;

const char* name(receive_path path) noexcept;

} // namespace spliced::client
