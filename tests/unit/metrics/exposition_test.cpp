#include "spliced/metrics/exposition.hpp"
// Layering (DESIGN.md): metrics' headers name operation kinds without bringing in liburing.
#ifdef LIB_URING_H
#error "the spliced/metrics headers include <liburing.h>"
#endif

#include <doctest/doctest.h>
#include <map>
#include <sstream>

using namespace spliced::metrics;

namespace {

// Sample lines "name{labels} value" → value, skipping comments. Looking up a series that was not
// rendered fails the test (operator[] would read it as 0).
class sample_set {
  public:
    double operator[](const std::string& series) const {
        auto it = values_.find(series);
        INFO("series: ", series);
        REQUIRE(it != values_.end());
        return it->second;
    }
    bool contains(const std::string& series) const { return values_.count(series) != 0; }
    std::map<std::string, double> values_;
};

sample_set samples(const std::string& text) {
    sample_set out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        auto space = line.rfind(' ');
        out.values_[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return out;
}

} // namespace

TEST_CASE("render sums shards into the contract's metric names") {
    shard a, b;
    a.count_request(method_label::get, 200);
    a.count_request(method_label::get, 200);
    b.count_request(method_label::get, 200);
    b.count_request(method_label::head, 404);
    b.count_request(method_label::other, 299); // not a known code: "other"
    a.sent_bytes[std::size_t(tier::splice)].add(1000);
    b.sent_bytes[std::size_t(tier::splice)].add(24);
    a.connections_active.add(3);
    b.connections_active.add(-1);
    a.completion_latency[std::size_t(spliced::uring::op_kind::recv)].observe_ns(3'000);
    b.completion_latency[std::size_t(spliced::uring::op_kind::recv)].observe_ns(20'000'000'000);
    const shard* shards[] = {&a, &b};
    scrape_info info;
    info.queue_depth = 4096;
    info.cq_depth = 16384;
    auto s = samples(render(shards, info));
    CHECK(s["spliced_requests_total{code=\"200\",method=\"GET\"}"] == 3);
    CHECK(s["spliced_requests_total{code=\"404\",method=\"HEAD\"}"] == 1);
    CHECK(s["spliced_requests_total{code=\"other\",method=\"other\"}"] == 1);
    CHECK(s["spliced_sent_bytes_total{tier=\"splice\"}"] == 1024);
    CHECK(s["spliced_connections_active"] == 2);
    CHECK(s["spliced_queue_depth"] == 4096);
    CHECK(s["spliced_completion_latency_seconds_count{op=\"recv\"}"] == 2);
    CHECK(s["spliced_completion_latency_seconds_bucket{op=\"recv\",le=\"5e-06\"}"] == 1);
    CHECK(s["spliced_completion_latency_seconds_bucket{op=\"recv\",le=\"10\"}"] == 1);
    CHECK(s["spliced_completion_latency_seconds_bucket{op=\"recv\",le=\"+Inf\"}"] == 2);
    CHECK(s["spliced_completion_latency_seconds_sum{op=\"recv\"}"] == doctest::Approx(20.000003));
}

TEST_CASE("per-worker rendering labels each shard and adds the scrape's own gauges") {
    shard a, b;
    a.sent_bytes[std::size_t(tier::copy)].add(7);
    b.sent_bytes[std::size_t(tier::copy)].add(5);
    b.responses_aborted[std::size_t(aborted::file_shrank)].add();
    b.cq_overflows.mirror(3);
    const shard* shards[] = {&a, &b};
    scrape_info info;
    info.per_worker = true;
    info.send_throughput = 1234.5;
    info.version = "1.2.3";
    info.liburing = "2.3";
    info.kernel = "6.18.0";
    info.setup_flags = "SINGLE_ISSUER|DEFER_TASKRUN";
    auto s = samples(render(shards, info));
    CHECK(s["spliced_sent_bytes_total{tier=\"copy\",worker=\"0\"}"] == 7);
    CHECK(s["spliced_sent_bytes_total{tier=\"copy\",worker=\"1\"}"] == 5);
    CHECK_FALSE(s.contains("spliced_sent_bytes_total{tier=\"copy\"}"));
    CHECK(s["spliced_responses_aborted_total{reason=\"file_shrank\",worker=\"1\"}"] == 1);
    CHECK(s["spliced_responses_aborted_total{reason=\"client_gone\",worker=\"0\"}"] == 0);
    CHECK(s["spliced_cq_overflows_total{worker=\"1\"}"] == 3);
    CHECK(s["spliced_send_throughput_bytes_per_second"] == 1234.5);
    CHECK(s["spliced_build_info{kernel=\"6.18.0\",liburing=\"2.3\",setup_flags=\"SINGLE_ISSUER|"
            "DEFER_TASKRUN\",version=\"1.2.3\"}"] == 1);
    // Histograms keep one series per worker too, with the op label first.
    CHECK(s.contains("spliced_completion_latency_seconds_count{op=\"recv\",worker=\"1\"}"));
}
