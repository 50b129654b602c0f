#include "spliced/metrics/exposition.hpp"

#include <doctest/doctest.h>
#include <map>
#include <sstream>

using namespace spliced::metrics;

namespace {

// Sample lines "name{labels} value" → value, skipping comments.
std::map<std::string, double> samples(const std::string& text) {
    std::map<std::string, double> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        auto space = line.rfind(' ');
        out[line.substr(0, space)] = std::stod(line.substr(space + 1));
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
    auto s = samples(render(shards, {4096, 16384}));
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
