#include "spliced/metrics/throughput.hpp"

#include <doctest/doctest.h>

using spliced::metrics::throughput_window;

constexpr std::uint64_t s = 1'000'000'000;

TEST_CASE("throughput is zero until there are two samples") {
    throughput_window w;
    CHECK(w.bytes_per_second() == 0);
    w.sample(5 * s, 1000);
    CHECK(w.bytes_per_second() == 0);
    w.sample(6 * s, 3000);
    CHECK(w.bytes_per_second() == doctest::Approx(2000));
}

TEST_CASE("throughput covers only the last ten seconds") {
    throughput_window w;
    // 1 MB/s for 20 s, then 3 MB/s for 5 s, sampled every second.
    std::uint64_t bytes = 0;
    for (std::uint64_t t = 0; t <= 20; ++t) {
        w.sample(t * s, bytes);
        bytes += 1'000'000;
    }
    CHECK(w.bytes_per_second() == doctest::Approx(1'000'000));
    bytes -= 1'000'000;
    for (std::uint64_t t = 21; t <= 25; ++t) {
        bytes += 3'000'000;
        w.sample(t * s, bytes);
    }
    // Window [15 s, 25 s]: 5 s at 1 MB/s and 5 s at 3 MB/s.
    CHECK(w.bytes_per_second() == doctest::Approx(2'000'000));
}

TEST_CASE("an idle server falls to zero once its last traffic leaves the window") {
    throughput_window w;
    w.sample(0, 0);
    w.sample(1 * s, 50'000'000);
    for (std::uint64_t t = 2; t <= 12; ++t)
        w.sample(t * s, 50'000'000);
    CHECK(w.bytes_per_second() == 0);
}

TEST_CASE("irregular sampling and wrap-around of the sample ring") {
    throughput_window w;
    std::uint64_t t = 0;
    for (int i = 0; i < 500; ++i) { // far more samples than the ring holds
        t += (i % 3 + 1) * s / 4;   // 250, 500, 750 ms apart
        w.sample(t, t / 1000);      // 1,000,000 bytes per second of time
    }
    CHECK(w.bytes_per_second() == doctest::Approx(1'000'000));
}
