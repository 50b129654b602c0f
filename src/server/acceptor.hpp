#pragma once
// A worker's accepts: one multishot ACCEPT per SO_REUSEPORT listener, paused (cancelled) while
// the worker is at --max-connections or draining, re-armed when it has room, and backed off for
// 100 ms after the process runs out of descriptors or memory instead of spinning.

#include "spliced/core/unique_fd.hpp"
#include "spliced/uring/operation.hpp"

#include <memory>
#include <vector>

namespace spliced::server {

struct worker_state;

class accept_client {
  public:
    // A new connection's socket (non-blocking, close-on-exec); the client owns it from here.
    virtual void accepted(int socket_fd) noexcept = 0;

  protected:
    ~accept_client() = default;
};

class acceptor {
  public:
    // `listeners` are the worker's and outlive the acceptor.
    acceptor(worker_state& w, std::vector<unique_fd>& listeners, accept_client& client);

    // Arms every accept that is not in flight, unless backing off.
    void arm() noexcept;
    // Cancels the accepts in flight (connections wait in the kernel's backlog meanwhile).
    void pause() noexcept;
    // Draining: new connections are refused (RST) rather than left in a backlog nobody accepts
    // from, so a load balancer moves on at once. Each listener closes once nothing refers to it.
    void close_listeners() noexcept;
    // Stop accepting for a while: the process is out of descriptors or memory.
    void back_off() noexcept;
    bool backing_off() const noexcept { return retry_ns_ != 0; }

  private:
    struct slot {
        slot(acceptor& a, unique_fd& fd) noexcept : owner(&a), listener(&fd) {}
        // Without IORING_CQE_F_MORE the op is over; arm() starts it again.
        void on_accept(int res, std::uint32_t) noexcept { owner->on_accept(res); }
        void on_cancel(int, std::uint32_t) noexcept {}
        acceptor* owner;
        unique_fd* listener;
        bool paused = false;
        uring::member_operation<slot, &slot::on_accept> accept{uring::op_kind::accept, *this};
        uring::member_operation<slot, &slot::on_cancel> cancel{uring::op_kind::cancel, *this};
    };
    void on_accept(int res) noexcept;

    worker_state& w_;
    accept_client& client_;
    std::uint64_t retry_ns_ = 0; // while backing off: do not re-arm before this
    std::vector<std::unique_ptr<slot>> slots_;
};

} // namespace spliced::server
