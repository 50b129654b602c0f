#pragma once
// Sums worker shards at scrape time and renders them in the Prometheus text format.

#include "spliced/metrics/shard.hpp"

#include <span>
#include <string>

namespace spliced::metrics {

struct static_info {
    unsigned queue_depth = 0; // configured SQ entries per worker
    unsigned cq_depth = 0;
};

// The text exposition (version 0.0.4) of every shard summed together.
std::string render(std::span<const shard* const> shards, const static_info& info);

inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

} // namespace spliced::metrics
