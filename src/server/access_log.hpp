#pragma once
// Per-worker access log: one line per request in nginx's "combined" format plus four fields,
//   $remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer"
//   "$http_user_agent" $request_time "$range" $completion
// written through the worker's own ring (IORING_OP_WRITE), so the data path never blocks on the
// log. Lines gather in one buffer while the previous batch is being written; if the disk falls
// behind by more than `max_pending` bytes, lines are dropped and counted, never queued unbounded.

#include "spliced/uring/operation.hpp"
#include "spliced/uring/ring.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace spliced::server {

struct access_entry {
    std::string_view remote_addr;
    std::string_view method;
    std::string_view target;
    unsigned version = 11;
    unsigned status = 0;
    std::uint64_t body_bytes = 0;
    std::string_view referer;
    std::string_view user_agent;
    double seconds = 0;
    std::string_view range; // "first-last[,first-last...]" or empty
    bool completed = true;
};

class access_log {
  public:
    static constexpr std::size_t max_pending = 4u << 20;

    // `fd` is shared by all workers (O_APPEND for files); -1 disables the log.
    access_log(uring::ring& r, int fd) noexcept : ring_(&r), fd_(fd) {}

    bool enabled() const noexcept { return fd_ >= 0; }
    // `time_local` is "[26/Nov/2026:19:51:18 +0000]", refreshed by the worker once a second.
    void record(const access_entry& e, std::string_view time_local);
    // Starts a write of what has gathered, unless one is in flight. Called once per loop turn.
    void flush() noexcept;
    bool busy() const noexcept { return write_op_.in_flight(); }
    std::uint64_t dropped() const noexcept { return dropped_; }

    // The "[dd/Mon/yyyy:hh:mm:ss +0000]" field for a wall-clock second.
    static std::string format_time(std::int64_t unix_seconds);

  private:
    void on_written(int res, std::uint32_t) noexcept;

    uring::ring* ring_;
    int fd_;
    std::string gathering_; // lines not yet handed to the kernel
    std::string writing_;   // the kernel reads from here while write_op_ is in flight
    std::size_t written_ = 0;
    std::uint64_t dropped_ = 0;
    uring::member_operation<access_log, &access_log::on_written> write_op_{uring::op_kind::write,
                                                                           *this};
};

} // namespace spliced::server
