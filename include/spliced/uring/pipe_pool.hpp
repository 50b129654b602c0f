#pragma once
// A bounded per-worker pool of pipes whose two ends live only in the ring's fixed-file table
// (DESIGN.md §4). A pipe goes back to the pool only when it is empty; one returned with bytes
// still inside (a transfer cut short) is destroyed, so no transfer ever sees another's bytes.

#include "spliced/core/result.hpp"
#include "spliced/uring/ring.hpp"
#include "spliced/uring/slot_allocator.hpp"

#include <optional>
#include <vector>

namespace spliced::uring {

struct pipe_lease {
    unsigned read_slot = 0;  // fixed-file index of the read end
    unsigned write_slot = 0; // fixed-file index of the write end
    unsigned capacity = 0;   // bytes the pipe holds (F_GETPIPE_SZ)
};

class pipe_pool {
  public:
    // `pipe_size` is clamped to /proc/sys/fs/pipe-max-size; `max_pipes` bounds the pool.
    pipe_pool(ring& r, slot_allocator& slots, unsigned pipe_size, unsigned max_pipes) noexcept;
    ~pipe_pool();
    pipe_pool(const pipe_pool&) = delete;
    pipe_pool& operator=(const pipe_pool&) = delete;

    // An idle pipe, a new one while under the bound, or an error: EAGAIN when the pool is at its
    // bound (wait for a release), or the errno of pipe2/registration.
    result<pipe_lease> acquire() noexcept;
    // `empty`: the holder knows no bytes remain in the pipe.
    void release(const pipe_lease& pipe, bool empty) noexcept;

    unsigned created() const noexcept { return created_; }

    // The size a pipe gets: the request clamped to the system's maximum.
    static unsigned effective_pipe_size(unsigned requested) noexcept;

  private:
    void destroy(const pipe_lease& pipe) noexcept;

    ring* ring_;
    slot_allocator* slots_;
    std::vector<pipe_lease> idle_;
    unsigned pipe_size_;
    unsigned max_pipes_;
    unsigned created_ = 0; // pipes alive: idle or leased
    bool warned_size_ = false;
};

} // namespace spliced::uring
