#pragma once
// One io_uring per worker: batched submission, batched reaping, and a local queue for work that
// does not fit in the SQ (DESIGN.md §2). Knows nothing of HTTP.

#include "spliced/core/result.hpp"
#include "spliced/uring/operation.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <sys/uio.h>

namespace spliced::uring {

struct ring_config {
    unsigned sq_entries = 4096;
    unsigned cq_entries = 0;                // 0: 4 × sq_entries
    std::optional<unsigned> sqpoll_idle_ms; // SQPOLL with this idle time, when permitted
    unsigned registered_files = 16384;      // size of the sparse fixed-file table
    unsigned iowq_bounded_workers = 2;      // io-wq workers for splice/statx/openat
};

struct ring_stats {
    std::uint64_t sqes_submitted = 0;
    std::uint64_t submit_calls = 0;
    std::uint64_t sq_full_waits = 0; // turns on which queued work had to wait for SQ space
    std::uint64_t ops_in_flight = 0;
};

// Called for every reaped CQE before the operation's complete(): lets the owner record
// per-op latency without the ring knowing about metrics.
using completion_observer = void (*)(void* context, op_kind kind, std::uint64_t latency_ns);

class ring {
  public:
    // Tries SINGLE_ISSUER|DEFER_TASKRUN, then COOP_TASKRUN, then no flags (SQPOLL first, when
    // asked for and permitted). Must be called on the thread that will drive the ring.
    static result<ring> create(const ring_config& config);

    ring(ring&& other) noexcept;
    ring& operator=(ring&&) = delete;
    ~ring();

    // Queues `op` for the next submission. Never fails: if the SQ is full the op waits in the
    // local queue (in order) until there is room.
    void push(operation& op) noexcept;
    // Queues ops that must run in order, each linked to the next (IOSQE_IO_LINK, or
    // IOSQE_IO_HARDLINK when `hard`: the rest still run after a failure). Kept together in the SQ.
    void push_chain(std::span<operation* const> ops, bool hard) noexcept;

    // One loop turn: move queued ops into the SQ, one io_uring_submit_and_wait_timeout, then reap
    // every available CQE in a batch. Returns the number of CQEs handled. A loop that keeps a clock
    // calls the two halves itself and reads the time between them, so that completions see the
    // time they arrived rather than the time the wait began.
    unsigned run_once(std::chrono::nanoseconds max_wait) noexcept {
        submit_and_wait(max_wait);
        return reap();
    }
    // Waits until `wait_for` CQEs are ready or `max_wait` has passed, whichever is first. With
    // DEFER_TASKRUN the kernel does not even wake the thread before that.
    void submit_and_wait(std::chrono::nanoseconds max_wait, unsigned wait_for = 1) noexcept;
    unsigned reap() noexcept;

    void set_observer(completion_observer observer, void* context) noexcept {
        observer_ = observer;
        observer_context_ = context;
    }

    // A table of `count` empty fixed-buffer slots (READ_FIXED / WRITE_FIXED by index), filled one
    // by one with update_buffer(); registering memory pins it (RLIMIT_MEMLOCK).
    result<void> register_sparse_buffers(unsigned count) noexcept;
    result<void> update_buffer(unsigned slot, const iovec& buffer) noexcept;
    void unregister_buffers() noexcept;

    // A provided-buffer ring (see provided_buffers.hpp) of `entries` at `ring_memory` as `group`.
    result<void> register_buf_ring(io_uring_buf_ring* ring_memory, unsigned entries,
                                   std::uint16_t group) noexcept;
    void unregister_buf_ring(std::uint16_t group) noexcept;
    // Replaces fixed-file slots [slot, slot + fds.size()) with `fds` (-1 empties a slot).
    result<void> update_files(unsigned slot, std::span<const int> fds) noexcept;

    const ring_stats& stats() const noexcept { return stats_; }
    // Operations of one kind submitted (or queued) and not yet completed.
    unsigned in_flight(op_kind kind) const noexcept {
        return in_flight_by_kind_[std::size_t(kind)];
    }
    // CQEs the kernel could not post to a full CQ (it keeps them and posts them later: with
    // IORING_FEAT_NODROP nothing is lost, but each one means the CQ is too small).
    std::uint64_t cq_overflows() const noexcept;
    unsigned registered_files() const noexcept { return registered_files_; }
    // Which setup flags are in force, e.g. "SINGLE_ISSUER|DEFER_TASKRUN".
    const std::string& setup_mode() const noexcept { return setup_mode_; }
    int fd() const noexcept { return ring_.ring_fd; }

  private:
    ring() = default;
    void flush_pending() noexcept;
    void append_pending(operation& op) noexcept;

    io_uring ring_{};
    bool owns_ring_ = false;
    operation* pending_head_ = nullptr; // FIFO of ops not yet in the SQ; chains stay contiguous
    operation* pending_tail_ = nullptr;
    ring_stats stats_;
    std::array<unsigned, op_kind_count> in_flight_by_kind_{};
    completion_observer observer_ = nullptr;
    void* observer_context_ = nullptr;
    unsigned registered_files_ = 0;
    std::string setup_mode_;
};

} // namespace spliced::uring
