#pragma once
// When spliced-get tries again and when it gives up: exponential backoff with jitter, 250 ms
// doubling to 30 s, each delay drawn from 0.5-1.5 × (so connections that failed together do not
// return together); Retry-After replaces the delay when the origin gives one. It gives up after
// `retries` failures in a row, or `max_time`, without a byte of progress.
//
// One outage is one failure: connections that were already running when a failure was counted
// and then fail too are not counted again (four connections cut by one server restart are one
// failure, not four). While failures are outstanding the download sends one connection ahead
// (recovering()), and opens the others again once a byte arrives.

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace spliced::client {

class retry_policy {
  public:
    retry_policy(unsigned retries, std::chrono::milliseconds max_time, std::uint64_t now_ns);

    // A failure at `now_ns`: the delay before the next attempt, or nullopt to give up.
    // `attempt_started_ns`: when the failed connection (or its request) started.
    std::optional<std::chrono::milliseconds> failed(std::uint64_t now_ns,
                                                    std::optional<std::chrono::seconds> retry_after,
                                                    std::uint64_t attempt_started_ns);
    // A byte arrived: the counts start again.
    void progressed(std::uint64_t now_ns) noexcept;
    unsigned total_failures() const noexcept { return total_; }
    // Failed since the last byte of progress: new attempts go one at a time.
    bool recovering() const noexcept { return in_a_row_ > 0; }

  private:
    unsigned retries_;
    std::uint64_t max_time_ns_;
    std::uint64_t last_progress_ns_;
    unsigned in_a_row_ = 0;
    std::uint64_t last_counted_ns_ = 0; // when the last failure that counted happened
    unsigned total_ = 0;
    std::mt19937_64 rng_{std::random_device{}()};
};

} // namespace spliced::client
