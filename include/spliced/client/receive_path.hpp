#pragma once
// How spliced-get moves body bytes from a socket into FILE.part (--io; fetch_connection.hpp
// describes each path, perf/clients measures them).

namespace spliced::client {

enum class receive_path {
    automatic, // splice where the output's filesystem is known to take it, else plain
    plain,
    fixed,
    splice,
};

// The path a download of FILE.part (`file_fd`) uses for `wanted`: automatic becomes splice on
// ext4, XFS, Btrfs, F2FS and tmpfs, whose files take splice writes, and plain on any other
// filesystem (one without splice_write would fail every body write with EINVAL).
receive_path resolve(receive_path wanted, int file_fd) noexcept;

const char* name(receive_path path) noexcept;

} // namespace spliced::client
