#pragma once
// One worker's metrics: written only by that worker with relaxed stores, read by the control
// plane at scrape time (DESIGN.md §9). No mutex, no prometheus-cpp types on the hot path.

#include "spliced/uring/op_kind.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <span>

namespace spliced::metrics {

// A monotonically increasing count with a single writer: load + store, no locked instruction.
class counter {
  public:
    void add(std::uint64_t n = 1) noexcept {
        value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    // Publishes a total that another single-threaded owner already counts (the ring's stats).
    void mirror(std::uint64_t total) noexcept { value_.store(total, std::memory_order_relaxed); }
    std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down, single writer.
class gauge {
  public:
    void set(std::int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
    void add(std::int64_t d) noexcept { set(value() + d); }
    std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::int64_t> value_{0};
};

// Fixed log-spaced buckets from 1 µs to 10 s (1-2.5-5 per decade), in nanoseconds.
inline constexpr std::array<std::uint64_t, 22> latency_bounds_ns = {
    1'000,         2'500,         5'000,         10'000,         25'000,      50'000,
    100'000,       250'000,       500'000,       1'000'000,      2'500'000,   5'000'000,
    10'000'000,    25'000'000,    50'000'000,    100'000'000,    250'000'000, 500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000,
};

class latency_histogram {
  public:
    void observe_ns(std::uint64_t ns) noexcept;
    // Per-bucket (not cumulative) counts; the last one is +Inf.
    std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i].value(); }
    std::uint64_t count() const noexcept { return count_.value(); }
    std::uint64_t sum_ns() const noexcept { return sum_ns_.value(); }

  private:
    std::array<counter, latency_bounds_ns.size() + 1> buckets_;
    counter count_;
    counter sum_ns_;
};

enum class tier : std::uint8_t { splice, copy, small, head };
inline constexpr std::size_t tier_count = 4;
std::string_view tier_name(tier t) noexcept;

// Why a response left its preferred tier, for transfer_fallbacks_total{reason}.
enum class fallback : std::uint8_t { splice_refused, no_pipe };
inline constexpr std::size_t fallback_count = 2;
std::string_view fallback_name(fallback f) noexcept;

// Why a response whose head was (being) sent ended before its last byte, for
// responses_aborted_total{reason}.
enum class aborted : std::uint8_t { client_gone, file_shrank, timeout, error, shutdown };
inline constexpr std::size_t aborted_count = 5;
std::string_view aborted_name(aborted a) noexcept;

enum class method_label : std::uint8_t { get, head, other };
inline constexpr std::size_t method_count = 3;

// The status codes spliced can send, for requests_total{code}; anything else counts as "other".
// 499: a request the client left before a response was chosen (nginx's convention).
inline constexpr std::array<unsigned short, 21> known_codes = {
    200, 204, 206, 301, 304, 400, 403, 404, 405, 408, 410,
    412, 414, 416, 431, 499, 500, 501, 503, 505, 0,
};

// Why a request under --secure-link-prefix was refused, for secure_link_refused_total{reason}:
// no or a wrong signature (403), or a valid one past its expiry (410).
enum class link_refusal : std::uint8_t { signature, expired };
inline constexpr std::size_t link_refusal_count = 2;
std::string_view link_refusal_name(link_refusal r) noexcept;
std::size_t code_index(unsigned code) noexcept;

struct shard {
    std::array<std::array<counter, known_codes.size()>, method_count> requests;
    std::array<counter, tier_count> sent_bytes;
    std::array<counter, fallback_count> transfer_fallbacks;
    std::array<counter, aborted_count> responses_aborted;
    std::array<counter, link_refusal_count> secure_link_refused;
    counter connections_accepted;
    gauge connections_active;
    counter sqes_submitted;
    counter submit_calls;
    counter sq_full_waits;
    counter cq_overflows;
    counter access_log_dropped;    // lines the access log could not keep up with
    counter recv_buffer_shortages; // receives that found every provided buffer taken
    counter open_file_cache_hits;
    counter open_file_cache_misses;
    gauge open_file_cache_entries;
    gauge registered_buffers; // allocated and pinned so far (the pool grows on demand)
    gauge fixed_files_in_use; // fixed-table slots holding files (served or cached), not pipes
    gauge pipes_in_use;       // pipes leased to splice transfers
    gauge buffers_in_use;     // registered buffers (copy and small tiers) leased to transfers
    gauge ops_in_flight;
    std::array<latency_histogram, uring::op_kind_count> completion_latency;
    latency_histogram request_duration;

    void count_request(method_label m, unsigned status_code) noexcept {
        requests[std::size_t(m)][code_index(status_code)].add();
    }
};

} // namespace spliced::metrics
