#pragma once
// A worker thread: one ring, one SO_REUSEPORT listener per address, its connections, pools and
// metric shard (DESIGN.md §1). The control plane talks to it only through drain()/stop(), which
// set a flag and wake the ring through an eventfd.

#include "spliced/core/result.hpp"
#include "spliced/core/unique_fd.hpp"
#include "spliced/metrics/shard.hpp"
#include "spliced/server/config.hpp"

#include <atomic>
#include <memory>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace spliced::fs {
class digest_store;
}

namespace spliced::server {

// What every worker uses and none owns: made by run() before the first worker starts and
// destroyed after the last one is joined.
struct shared_resources {
    int root_fd = -1;                    // the served directory (O_PATH)
    int access_log_fd = -1;              // -1: no access log
    fs::digest_store* digests = nullptr; // --digests off: none
};

class worker {
  public:
    worker(const config& cfg, const shared_resources& shared, std::vector<unique_fd> listeners,
           std::uint64_t max_connections);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    // Starts the thread, named "spliced-wINDEX" (top -H, /proc/PID/task/TID/comm), and waits until
    // its ring is set up; returns why it could not be.
    result<void> start(unsigned index);
    // Keep accepting and serving, but end each connection after its response in progress
    // (Connection: close): the first step of a drain, while a load balancer takes the instance out.
    void retire() noexcept;
    // Stop accepting; finish responses in progress; exit when no connection is left.
    void drain() noexcept;
    // Close every connection now and exit.
    void stop() noexcept;
    void join();
    bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }

    const metrics::shard& shard() const noexcept { return shard_; }
    // The worker thread's kernel thread id (valid after start() succeeded), for its CPU time.
    pid_t tid() const noexcept { return tid_; }
    // The io_uring setup flags in force (valid after start()).
    const std::string& setup_mode() const noexcept { return setup_mode_; }
    // Open-file cache entries this worker may hold (valid after start()).
    std::size_t open_file_cache_entries() const noexcept { return open_file_cache_entries_; }
    // Provided receive buffers the kernel accepted (0: every connection receives into its own).
    unsigned shared_recv_buffers() const noexcept { return shared_recv_buffers_; }
    // What start() was doing when it failed, and what refused it and how to fix that (may be
    // empty).
    const std::string& failure() const noexcept { return failure_; }
    const std::string& failure_hint() const noexcept { return failure_hint_; }

  private:
    const config& cfg_;
    shared_resources shared_;
    std::vector<unique_fd> listeners_;
    std::uint64_t max_connections_;
    unique_fd wake_fd_; // eventfd the ring reads: a write means "look at the flags"
    std::atomic<bool> retire_requested_{false};
    std::atomic<bool> drain_requested_{false};
    std::atomic<bool> stop_requested_{false};
    std::atomic<bool> finished_{false};
    metrics::shard shard_;
    std::string setup_mode_;
    std::size_t open_file_cache_entries_ = 0;
    unsigned shared_recv_buffers_ = 0;
    std::string failure_;
    pid_t tid_ = 0;
    std::string failure_hint_;
    std::thread thread_;
};

} // namespace spliced::server
