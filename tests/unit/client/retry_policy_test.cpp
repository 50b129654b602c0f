#include "spliced/client/retry_policy.hpp"

#include <doctest/doctest.h>

using spliced::client::retry_policy;
using namespace std::chrono;

TEST_CASE("retry_policy: backoff doubles with jitter, gives up after N in a row") {
    retry_policy p(3, seconds(60), 0);
    auto first = p.failed(1, std::nullopt);
    auto second = p.failed(2, std::nullopt);
    auto third = p.failed(3, std::nullopt);
    REQUIRE(first);
    REQUIRE(second);
    REQUIRE(third);
    CHECK(*first >= milliseconds(125));
    CHECK(*first <= milliseconds(375));
    CHECK(*second >= milliseconds(250));
    CHECK(*second <= milliseconds(750));
    CHECK(*third >= milliseconds(500));
    CHECK(*third <= milliseconds(1500));
    CHECK_FALSE(p.failed(4, std::nullopt));
    CHECK(p.total_failures() == 4);
}

TEST_CASE("retry_policy: progress starts the count again; Retry-After replaces the delay") {
    retry_policy p(1, seconds(60), 0);
    CHECK(p.failed(1, std::nullopt));
    p.progressed(2);
    CHECK(p.failed(3, seconds(7)) == milliseconds(7000));
    CHECK_FALSE(p.failed(4, std::nullopt));
}

TEST_CASE("retry_policy: gives up after max_time without progress") {
    const std::uint64_t s = 1'000'000'000;
    retry_policy p(100, seconds(10), 0);
    CHECK(p.failed(9 * s, std::nullopt));
    CHECK_FALSE(p.failed(11 * s, std::nullopt));
    for (int i = 0; i < 40; ++i)
        p.progressed(11 * s);
    auto again = p.failed(12 * s, std::nullopt);
    REQUIRE(again);
    CHECK(*again <= milliseconds(375)); // and the delays start small again
}
