#pragma once
// SO_REUSEPORT listening sockets: one per worker for each --listen address, all on one port.

#include "spliced/core/unique_fd.hpp"
#include "spliced/server/config.hpp"

#include <vector>

namespace spliced::server {

struct bound_listeners {
    endpoint bound; // the address with port 0 resolved
    std::vector<unique_fd> per_worker;
};

// Throws std::system_error naming the address when a socket cannot be bound.
bound_listeners open_listeners(const endpoint& where, unsigned workers);

} // namespace spliced::server
