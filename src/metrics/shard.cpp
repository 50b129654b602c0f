#include "spliced/metrics/shard.hpp"

#include <algorithm>

namespace spliced::metrics {

void latency_histogram::observe_ns(std::uint64_t ns) noexcept {
    auto it = std::lower_bound(latency_bounds_ns.begin(), latency_bounds_ns.end(), ns);
    buckets_[std::size_t(it - latency_bounds_ns.begin())].add();
    count_.add();
    sum_ns_.add(ns);
}

std::string_view tier_name(tier t) noexcept {
    switch (t) {
    case tier::splice:
        return "splice";
    case tier::copy:
        return "copy";
    case tier::small:
        return "small";
    case tier::head:
        return "head";
    }
    return "unknown";
}

std::string_view aborted_name(aborted a) noexcept {
    static constexpr std::string_view names[aborted_count] = {"client_gone", "file_shrank",
                                                              "timeout", "error", "shutdown"};
    return names[std::size_t(a)];
}

std::string_view fallback_name(fallback f) noexcept {
    static constexpr std::string_view names[fallback_count] = {"splice_refused", "no_pipe"};
    return names[std::size_t(f)];
}

std::string_view link_refusal_name(link_refusal r) noexcept {
    return r == link_refusal::signature ? "signature" : "expired";
}

std::size_t code_index(unsigned code) noexcept {
    auto it = std::find(known_codes.begin(), known_codes.end() - 1, code);
    return std::size_t(it - known_codes.begin()); // the final 0 entry stands for "other"
}

} // namespace spliced::metrics
