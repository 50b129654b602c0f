#include "spliced/metrics/exposition.hpp"

#include <limits>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <string>
#include <vector>

namespace spliced::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::string_view op_name(std::size_t kind) noexcept {
    static constexpr std::string_view names[uring::op_kind_count] = {
        "accept", "recv", "send",  "splice",       "read",   "openat",  "statx",
        "close",  "poll", "write", "files_update", "cancel", "connect",
    };
    return names[kind];
}

template <class Read>
std::uint64_t sum(std::span<const shard* const> shards, Read read) {
    std::uint64_t total = 0;
    for (const shard* s : shards)
        total += static_cast<std::uint64_t>(read(*s));
    return total;
}

MetricFamily scalar(std::string name, std::string help, MetricType type, double value) {
    ClientMetric m;
    if (type == MetricType::Counter)
        m.counter.value = value;
    else
        m.gauge.value = value;
    return {std::move(name), std::move(help), type, {m}};
}

// `pick` selects the same histogram in every shard; buckets are summed, then made cumulative.
template <class Pick>
ClientMetric histogram_metric(std::span<const shard* const> shards, Pick pick) {
    ClientMetric m;
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= latency_bounds_ns.size(); ++b) {
        cumulative += sum(shards, [&](const shard& s) { return pick(s).bucket(b); });
        ClientMetric::Bucket bucket;
        bucket.cumulative_count = cumulative;
        bucket.upper_bound = b < latency_bounds_ns.size() ? double(latency_bounds_ns[b]) / 1e9
                                                          : std::numeric_limits<double>::infinity();
        m.histogram.bucket.push_back(bucket);
    }
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum =
        double(sum(shards, [&](const shard& s) { return pick(s).sum_ns(); })) / 1e9;
    return m;
}

// Counters and gauges that are one number per shard, summed at scrape time.
struct scalar_spec {
    std::string_view name;
    std::string_view help;
    MetricType type;
    double (*read)(const shard&);
};

constexpr scalar_spec shard_scalars[] = {
    {"spliced_connections_accepted_total", "Connections accepted.", MetricType::Counter,
     [](const shard& s) { return double(s.connections_accepted.value()); }},
    {"spliced_connections_active", "Connections open now.", MetricType::Gauge,
     [](const shard& s) { return double(s.connections_active.value()); }},
    {"spliced_sqes_submitted_total", "SQEs handed to the kernel.", MetricType::Counter,
     [](const shard& s) { return double(s.sqes_submitted.value()); }},
    {"spliced_submit_calls_total", "io_uring_enter calls that submitted or waited.",
     MetricType::Counter, [](const shard& s) { return double(s.submit_calls.value()); }},
    {"spliced_sq_full_waits_total", "Loop turns on which queued work waited for SQ space.",
     MetricType::Counter, [](const shard& s) { return double(s.sq_full_waits.value()); }},
    {"spliced_cq_overflows_total",
     "Completions that found the CQ full and were held back by the kernel (none are lost; raise "
     "--cq-depth).",
     MetricType::Counter, [](const shard& s) { return double(s.cq_overflows.value()); }},
    {"spliced_registered_buffers",
     "Registered (pinned) buffers allocated so far; the pool grows with demand up to --buffers.",
     MetricType::Gauge, [](const shard& s) { return double(s.registered_buffers.value()); }},
    {"spliced_fixed_files_in_use",
     "Fixed-table slots holding a file now, being served or kept by the open-file cache (pipes "
     "not included); idle, it equals spliced_open_file_cache_entries.",
     MetricType::Gauge, [](const shard& s) { return double(s.fixed_files_in_use.value()); }},
    {"spliced_pipes_in_use", "Pipes leased to splice transfers now (0 when idle).",
     MetricType::Gauge, [](const shard& s) { return double(s.pipes_in_use.value()); }},
    {"spliced_buffers_in_use",
     "Registered buffers (copy and small tiers) leased to transfers now (0 when idle).",
     MetricType::Gauge, [](const shard& s) { return double(s.buffers_in_use.value()); }},
    {"spliced_access_log_dropped_lines_total",
     "Access log lines dropped because the log's file fell too far behind (never queued "
     "unbounded).",
     MetricType::Counter, [](const shard& s) { return double(s.access_log_dropped.value()); }},
    {"spliced_recv_buffer_shortages_total",
     "Receives that found every provided receive buffer taken and were repeated into the "
     "connection's own buffer (raise --recv-buffers if this grows steadily).",
     MetricType::Counter, [](const shard& s) { return double(s.recv_buffer_shortages.value()); }},
    {"spliced_ops_in_flight", "Operations submitted and not yet completed.", MetricType::Gauge,
     [](const shard& s) { return double(s.ops_in_flight.value()); }},
    {"spliced_open_file_cache_hits_total",
     "File lookups served from the open-file cache (fresh, or confirmed by one STATX).",
     MetricType::Counter, [](const shard& s) { return double(s.open_file_cache_hits.value()); }},
    {"spliced_open_file_cache_misses_total",
     "File lookups that had to open the file (not cached, or changed on disk).",
     MetricType::Counter, [](const shard& s) { return double(s.open_file_cache_misses.value()); }},
    {"spliced_open_file_cache_entries", "Files held open in the open-file caches now.",
     MetricType::Gauge, [](const shard& s) { return double(s.open_file_cache_entries.value()); }},
};

// A counter family with one series per value of one label (`n` values), each summed over shards.
template <class Name, class Read>
MetricFamily labelled_counters(std::span<const shard* const> shards, std::string name,
                               std::string help, const std::string& label, std::size_t n,
                               Name name_of, Read read) {
    MetricFamily family{std::move(name), std::move(help), MetricType::Counter, {}};
    for (std::size_t i = 0; i < n; ++i) {
        ClientMetric metric;
        metric.label = {{label, std::string(name_of(i))}};
        metric.counter.value = double(sum(shards, [&](const shard& s) { return read(s, i); }));
        family.metric.push_back(std::move(metric));
    }
    return family;
}

std::string_view method_name(std::size_t m) noexcept {
    static constexpr std::string_view names[method_count] = {"GET", "HEAD", "other"};
    return names[m];
}

} // namespace

// Every family whose values come from the shards, summed over `shards`.
static std::vector<MetricFamily> shard_families(std::span<const shard* const> shards) {
    std::vector<MetricFamily> families;

    MetricFamily requests{"spliced_requests_total",
                          "Requests answered, by method and status code.",
                          MetricType::Counter,
                          {}};
    for (std::size_t m = 0; m < method_count; ++m) {
        for (std::size_t c = 0; c < known_codes.size(); ++c) {
            auto n = sum(shards, [&](const shard& s) { return s.requests[m][c].value(); });
            if (n == 0)
                continue;
            ClientMetric metric;
            metric.label = {{"code", known_codes[c] ? std::to_string(known_codes[c]) : "other"},
                            {"method", std::string(method_name(m))}};
            metric.counter.value = double(n);
            requests.metric.push_back(std::move(metric));
        }
    }
    families.push_back(std::move(requests));

    families.push_back(labelled_counters(
        shards, "spliced_sent_bytes_total",
        "Bytes the kernel accepted for sending, by transfer tier (head: response heads).", "tier",
        tier_count, [](std::size_t t) { return tier_name(tier(t)); },
        [](const shard& s, std::size_t t) { return s.sent_bytes[t].value(); }));
    families.push_back(labelled_counters(
        shards, "spliced_transfer_fallbacks_total",
        "Responses moved to another transfer tier, by reason.", "reason", fallback_count,
        [](std::size_t f) { return fallback_name(fallback(f)); },
        [](const shard& s, std::size_t f) { return s.transfer_fallbacks[f].value(); }));
    families.push_back(labelled_counters(
        shards, "spliced_responses_aborted_total",
        "Responses that ended before their last byte (the connection was closed), by reason.",
        "reason", aborted_count, [](std::size_t a) { return aborted_name(aborted(a)); },
        [](const shard& s, std::size_t a) { return s.responses_aborted[a].value(); }));
    families.push_back(labelled_counters(
        shards, "spliced_secure_link_refused_total",
        "Requests under --secure-link-prefix refused: no or a wrong signature (403), or a valid "
        "one past its expiry (410).",
        "reason", link_refusal_count,
        [](std::size_t r) { return link_refusal_name(link_refusal(r)); },
        [](const shard& s, std::size_t r) { return s.secure_link_refused[r].value(); }));

    for (const auto& spec : shard_scalars) {
        double total = 0;
        for (const shard* one : shards)
            total += spec.read(*one);
        families.push_back(
            scalar(std::string(spec.name), std::string(spec.help), spec.type, total));
    }

    MetricFamily completion{"spliced_completion_latency_seconds",
                            "Time from SQE submission to CQE reap, by operation.",
                            MetricType::Histogram,
                            {}};
    for (std::size_t kind = 0; kind < uring::op_kind_count; ++kind) {
        auto m = histogram_metric(shards, [kind](const shard& s) -> const latency_histogram& {
            return s.completion_latency[kind];
        });
        m.label.push_back({"op", std::string(op_name(kind))});
        completion.metric.push_back(std::move(m));
    }
    families.push_back(std::move(completion));

    MetricFamily duration{"spliced_request_duration_seconds",
                          "Time from request parsed to last byte accepted by the kernel.",
                          MetricType::Histogram,
                          {}};
    duration.metric.push_back(histogram_metric(
        shards, [](const shard& s) -> const latency_histogram& { return s.request_duration; }));
    families.push_back(std::move(duration));
    return families;
}

// The names and help texts of Prometheus' own client libraries, so that dashboards, alerts and
// autoscaling recipes written for any exporter work unchanged.
static void append_process_families(const process_stats& p, std::vector<MetricFamily>& families) {
    families.push_back(scalar("process_cpu_seconds_total",
                              "Total user and system CPU time spent in seconds.",
                              MetricType::Counter, p.cpu_seconds));
    families.push_back(scalar("process_open_fds", "Number of open file descriptors.",
                              MetricType::Gauge, p.open_fds));
    families.push_back(scalar("process_max_fds", "Maximum number of open file descriptors.",
                              MetricType::Gauge, p.max_fds));
    families.push_back(scalar("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                              MetricType::Gauge, p.virtual_bytes));
    families.push_back(scalar("process_resident_memory_bytes", "Resident memory size in bytes.",
                              MetricType::Gauge, p.resident_bytes));
    families.push_back(scalar("process_start_time_seconds",
                              "Start time of the process since unix epoch in seconds.",
                              MetricType::Gauge, p.start_time_seconds));
    MetricFamily workers{"spliced_worker_cpu_seconds_total",
                         "User and system CPU time of each worker thread (its ring's submitter and "
                         "completion reaper), from /proc/self/task; io-wq threads are not in it.",
                         MetricType::Counter,
                         {}};
    for (std::size_t w = 0; w < p.worker_cpu_seconds.size(); ++w) {
        if (!p.worker_cpu_seconds[w])
            continue;
        ClientMetric m;
        m.counter.value = *p.worker_cpu_seconds[w];
        m.label = {{"worker", std::to_string(w)}};
        workers.metric.push_back(std::move(m));
    }
    families.push_back(std::move(workers));
}

std::string render(std::span<const shard* const> shards, const scrape_info& info) {
    std::vector<MetricFamily> families;
    if (!info.per_worker || shards.empty()) {
        families = shard_families(shards);
    } else {
        // The same families per shard, in the same order: merge them series by series.
        for (std::size_t w = 0; w < shards.size(); ++w) {
            auto mine = shard_families(shards.subspan(w, 1));
            for (std::size_t f = 0; f < mine.size(); ++f) {
                for (auto& m : mine[f].metric)
                    m.label.push_back({"worker", std::to_string(w)});
                if (w == 0)
                    families.push_back(std::move(mine[f]));
                else
                    for (auto& m : mine[f].metric)
                        families[f].metric.push_back(std::move(m));
            }
        }
    }

    families.push_back(scalar("spliced_queue_depth", "Configured SQ entries per worker ring.",
                              MetricType::Gauge, double(info.queue_depth)));
    families.push_back(scalar("spliced_cq_depth", "Configured CQ entries per worker ring.",
                              MetricType::Gauge, double(info.cq_depth)));
    families.push_back(
        scalar("spliced_send_throughput_bytes_per_second",
               "Bytes the kernel accepted for sending per second, over the last 10 s "
               "(all tiers, heads included).",
               MetricType::Gauge, info.send_throughput));
    MetricFamily build = scalar("spliced_build_info",
                                "Always 1; the labels say what is running: spliced and liburing "
                                "versions, kernel release, io_uring setup flags in force.",
                                MetricType::Gauge, 1);
    build.metric.front().label = {{"kernel", info.kernel},
                                  {"liburing", info.liburing},
                                  {"setup_flags", info.setup_flags},
                                  {"version", info.version}};
    families.push_back(std::move(build));
    if (info.process)
        append_process_families(*info.process, families);

    return prometheus::TextSerializer().Serialize(families);
}

} // namespace spliced::metrics
