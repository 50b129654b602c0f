#pragma once
// The connections of one download and the bookkeeping around each (private to the client
// module): which origin it talks to, which piece it holds, whether it is done with.
//
// The pool also owns the receive buffers, one per connection slot, allocated (and for
// receive_path::fixed registered with the ring) once: a connection borrows one for its life.
//
// Ownership (DESIGN.md §11): the pool owns every connection; a connection is freed only by
// reap(), between loop turns, when it is dead (failed, stopped or not wanted) *and* idle (no
// operation in flight) — never from inside one of its own callbacks. stop() on a connection may
// report failed() at once, re-entering the download: every loop here tolerates that.

#include "spliced/client/fetch_connection.hpp"
#include "spliced/client/piece_map.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace spliced::client {

class origin_set;

class connection_pool {
  public:
    // Each connection's receive buffer (and pipe): the most body bytes it has in flight.
    static constexpr std::size_t buffer_bytes = 256 * 1024;

    struct slot {
        std::unique_ptr<fetch_connection> connection;
        std::optional<piece_map::assignment> job; // the piece being fetched, if any
        bool probe = false;
        bool dead = false;      // failed or closed: reap() frees it once idle
        bool timed_out = false; // stopped by the stall or connect timeout
        std::optional<std::chrono::seconds> retry_after;
        std::uint64_t attempt_ns = 0; // when its current request started (retry_policy)
        std::size_t origin = 0;       // in the download's origin_set
        unsigned buffer = 0;          // borrowed from the pool
    };

    // Room for `capacity` connections at once (live ones and dead ones not yet reaped).
    // `wanted` is resolved for `file_fd` (receive_path.hpp). Registering the buffers for fixed
    // can fail (RLIMIT_MEMLOCK): then automatic falls back to splice or plain, and an explicit
    // fixed throws std::system_error.
    connection_pool(uring::ring& ring, fetch_events& events, int file_fd, receive_path wanted,
                    unsigned capacity);

    // A new, unstarted connection to origin `origin` of `origins`; nullptr when all buffers are
    // taken (wait for reap()).
    slot* open(const origin_set& origins, std::size_t origin);
    slot* find(const fetch_connection& c) noexcept;

    // Marks every live connection (of `origin`, if given) dead and stops it.
    void stop(std::optional<std::size_t> origin = std::nullopt) noexcept;
    // Stops busy connections whose peer said nothing for too long (connect or stall timeout).
    void watch_timeouts(std::uint64_t now_ns, std::chrono::milliseconds connect,
                        std::chrono::milliseconds stall) noexcept;
    void resume_paused() noexcept;
    void reap() noexcept;

    // Live (not dead) connections, in all and on each origin of `origins`.
    unsigned live() const noexcept;
    void count_per_origin(origin_set& origins) const noexcept;
    bool empty() const noexcept { return slots_.empty(); }
    std::size_t size() const noexcept { return slots_.size(); }
    receive_path path() const noexcept { return path_; } // resolved: never automatic
    // For --json: the path's name, "fixed-direct" when fixed writes go O_DIRECT.
    const char* path_name() const noexcept;

  private:
    result<void> register_buffers() noexcept;

    uring::ring& ring_;
    fetch_events& events_;
    receive_path path_;
    unique_fd direct_fd_; // receive_path::fixed: FILE.part again, O_DIRECT, where allowed
    fetch_connection::file_target file_;
    struct aligned_delete {
        void operator()(std::byte* p) const noexcept;
    };
    // Page-aligned (O_DIRECT needs aligned memory); never freed before the pool.
    std::vector<std::unique_ptr<std::byte[], aligned_delete>> buffers_;
    std::vector<unsigned> free_buffers_;
    std::vector<std::unique_ptr<slot>> slots_;
};

} // namespace spliced::client
