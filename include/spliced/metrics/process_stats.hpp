#pragma once
// The process metrics every Prometheus client library exports (process_cpu_seconds_total,
// process_resident_memory_bytes, ...), plus CPU seconds per worker thread. Read from /proc at
// scrape time on the control plane's thread; the workers do nothing for them.

#include <optional>
#include <span>
#include <sys/types.h>
#include <vector>

namespace spliced::metrics {

struct process_stats {
    double cpu_seconds = 0;        // utime + stime of every thread, /proc/self/stat
    double resident_bytes = 0;     // rss pages x page size
    double virtual_bytes = 0;      // vsize
    double open_fds = 0;           // entries of /proc/self/fd
    double max_fds = 0;            // RLIMIT_NOFILE soft limit
    double start_time_seconds = 0; // since the epoch: btime + starttime / CLK_TCK
    // utime + stime of each worker thread, /proc/self/task/TID/stat; nullopt for a thread that
    // has exited (a worker that stopped early).
    std::vector<std::optional<double>> worker_cpu_seconds;
};

// nullopt if /proc/self/stat cannot be read (no /proc mounted).
std::optional<process_stats> read_process_stats(std::span<const pid_t> worker_tids);

} // namespace spliced::metrics
