// What recording one completion costs the data path (issue 5): the ring's observer stores one
// latency into the worker's fixed-bucket histogram (relaxed single-writer atomics, no lock), and
// counters add with a load + store.
//
//   build-release/perf/metrics_record [--benchmark_repetitions=5]
#include "spliced/metrics/shard.hpp"

#include <benchmark/benchmark.h>
#include <cstdint>
#include <memory>

namespace {

using spliced::metrics::shard;

// Latencies spread over the buckets (1 µs … 10 s), as real completions are.
std::uint64_t next_latency(std::uint64_t& x) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return 500 + x % 50'000'000;
}

void record_completion(benchmark::State& state) {
    auto s = std::make_unique<shard>();
    std::uint64_t x = 88172645463325252ull;
    std::size_t kind = 0;
    for (auto _ : state) {
        s->completion_latency[kind].observe_ns(next_latency(x));
        kind = (kind + 1) % spliced::uring::op_kind_count;
    }
    benchmark::DoNotOptimize(s->completion_latency[0].count());
}
BENCHMARK(record_completion);

void count_bytes(benchmark::State& state) {
    auto s = std::make_unique<shard>();
    std::uint64_t n = 1;
    for (auto _ : state)
        s->sent_bytes[0].add(n++);
    benchmark::DoNotOptimize(s->sent_bytes[0].value());
}
BENCHMARK(count_bytes);

// The baseline the two above are paid on top of: producing the latency value itself.
void latency_only(benchmark::State& state) {
    std::uint64_t x = 88172645463325252ull;
    for (auto _ : state)
        benchmark::DoNotOptimize(next_latency(x));
}
BENCHMARK(latency_only);

} // namespace

BENCHMARK_MAIN();
