#pragma once
// A worker thread's event loop and everything only that thread touches (DESIGN.md §1-3): one
// submit-and-wait per turn, then the completions, the control plane's flags, the timer lists,
// and the freeing of closed connections once nothing can call them back.
//
// Shutdown (DESIGN.md §11): a stop aborts every connection and a drain closes the idle ones; the
// loop runs until the last connection is freed, then cancels what is left (accepts, the wake-up
// read, the log) and reaps until no operation is in flight, however long that takes, before the
// pools and the ring are destroyed with the loop.

#include "acceptor.hpp"
#include "connection.hpp"
#include "worker_state.hpp"

#include <atomic>
#include <memory>
#include <vector>

namespace spliced::server {

// What the worker hands its loop besides the worker state's parts.
struct loop_controls {
    std::vector<unique_fd>& listeners;
    std::uint64_t max_connections;
    int wake_fd; // an eventfd the control plane writes after setting a flag
    const std::atomic<bool>& stop_requested;
    const std::atomic<bool>& drain_requested;
    const std::atomic<bool>& retire_requested; // keep-alive off, listeners still open
};

class event_loop final : private accept_client {
  public:
    event_loop(const config& c, uring::ring&& r, buffer_pools&& buffers, metrics::shard& shard,
               const shared_resources& shared, const loop_controls& controls);
    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;

    void run() noexcept;
    std::size_t open_file_cache_entries() const noexcept { return state_.files.capacity(); }
    unsigned shared_recv_buffers() const noexcept { return state_.recv_buffers.count(); }

  private:
    static void observe(void* shard, uring::op_kind kind, std::uint64_t latency_ns) noexcept;

    void tick() noexcept;
    void publish() noexcept;
    void report_buffer_growth() noexcept;
    void look_at_flags() noexcept;
    void accepted(int socket_fd) noexcept override;
    void arm_wake() noexcept;
    void on_wake(int res, std::uint32_t) noexcept;
    void expire(connection_deadlines& list) noexcept;
    void free_closed() noexcept;
    std::chrono::nanoseconds next_wait() const noexcept;
    void wait_for_completions() noexcept;
    void flush_log() noexcept;
    void cancel_everything() noexcept;

    worker_state state_;
    loop_controls controls_;
    acceptor acceptor_;
    std::vector<std::unique_ptr<connection>> connections_; // connection::index_ is its position
    std::uint64_t wake_value_ = 0; // the kernel writes the eventfd counter here
    uring::member_operation<event_loop, &event_loop::on_wake> wake_op_{uring::op_kind::read, *this};
    uring::member_operation<event_loop, &event_loop::on_wake> cancel_all_op_{uring::op_kind::cancel,
                                                                             *this};
    bool stopping_ = false;
    bool buffer_growth_reported_ = false;
};

} // namespace spliced::server
