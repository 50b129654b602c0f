#include "spliced/client/retry_policy.hpp"

#include <doctest/doctest.h>

using spliced::client::retry_policy;
using namespace std::chrono;

TEST_CASE("retry_policy: backoff doubles with jitter, gives up after N in a row") {
    retry_policy p(3, seconds(60), 0);
    auto first = p.failed(1, std::nullopt, 1);
    auto second = p.failed(2, std::nullopt, 2);
    auto third = p.failed(3, std::nullopt, 3);
    REQUIRE(first);
    REQUIRE(second);
    REQUIRE(third);
    CHECK(*first >= milliseconds(125));
    CHECK(*first <= milliseconds(375));
    CHECK(*second >= milliseconds(250));
    CHECK(*second <= milliseconds(750));
    CHECK(*third >= milliseconds(500));
    CHECK(*third <= milliseconds(1500));
    CHECK(p.recovering());
    CHECK_FALSE(p.failed(4, std::nullopt, 4));
    CHECK(p.total_failures() == 4);
}

TEST_CASE("retry_policy: connections cut by one outage count once") {
    retry_policy p(2, seconds(60), 0);
    CHECK_FALSE(p.recovering());
    // Four connections, all started at 1, fail at 10, 11, 12 and 13: one failure.
    for (std::uint64_t at : {10, 11, 12, 13})
        CHECK(p.failed(at, std::nullopt, 1));
    CHECK(p.total_failures() == 4);
    CHECK(p.recovering());
    CHECK(p.failed(20, std::nullopt, 15));       // a new attempt, started after: the second
    CHECK_FALSE(p.failed(30, std::nullopt, 25)); // the third in a row: give up
}

TEST_CASE("retry_policy: progress starts the count again; Retry-After replaces the delay") {
    retry_policy p(1, seconds(60), 0);
    CHECK(p.failed(1, std::nullopt, 1));
    p.progressed(2);
    CHECK_FALSE(p.recovering());
    CHECK(p.failed(3, seconds(7), 3) == milliseconds(7000));
    CHECK_FALSE(p.failed(4, std::nullopt, 4));
}

TEST_CASE("retry_policy: gives up after max_time without progress") {
    const std::uint64_t s = 1'000'000'000;
    retry_policy p(100, seconds(10), 0);
    CHECK(p.failed(9 * s, std::nullopt, 9 * s));
    CHECK_FALSE(p.failed(11 * s, std::nullopt, 11 * s));
    for (int i = 0; i < 40; ++i)
        p.progressed(11 * s);
    auto again = p.failed(12 * s, std::nullopt, 12 * s);
    REQUIRE(again);
    CHECK(*again <= milliseconds(375)); // and the delays start small again
}
