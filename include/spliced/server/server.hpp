#pragma once
// Startup and shutdown of the whole process: root, listeners, workers, control plane.

#include "spliced/server/config.hpp"

#include <cstdint>

namespace spliced::server {

// Serves until SIGTERM/SIGINT and the drain that follows. Throws std::system_error (with a message
// naming what failed) when startup cannot complete; returns the process exit code otherwise.
int run(const config& cfg);

// Raises the soft RLIMIT_NOFILE to the hard limit (every connection is a descriptor) and returns
// the limit now in force.
std::uint64_t raise_fd_limit() noexcept;

} // namespace spliced::server
