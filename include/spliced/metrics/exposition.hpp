#pragma once
// Sums worker shards at scrape time and renders them in the Prometheus text format.

#include "spliced/metrics/process_stats.hpp"
#include "spliced/metrics/shard.hpp"

#include <optional>
#include <span>
#include <string>

namespace spliced::metrics {

// What a scrape shows besides the shards.
struct scrape_info {
    unsigned queue_depth = 0; // configured SQ entries per worker ring
    unsigned cq_depth = 0;
    double send_throughput = 0; // bytes per second over the last 10 s (throughput_window)
    bool per_worker = false;    // a `worker` label instead of summing the shards
    // spliced_build_info labels.
    std::string version;
    std::string liburing;
    std::string kernel;
    std::string setup_flags;
    // process_* and spliced_worker_cpu_seconds_total{worker}, read at scrape time.
    std::optional<process_stats> process;
};

// The text exposition (version 0.0.4) of every shard, summed together or, with per_worker, one
// series per shard labelled worker="0", "1", ...
std::string render(std::span<const shard* const> shards, const scrape_info& info);

inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

} // namespace spliced::metrics
