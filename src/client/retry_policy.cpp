#include "spliced/client/retry_policy.hpp"

#include <algorithm>

namespace spliced::client {

retry_policy::retry_policy(unsigned retries, std::chrono::milliseconds max_time,
                           std::uint64_t now_ns)
    : retries_(retries), max_time_ns_(std::uint64_t(max_time.count()) * 1'000'000),
      last_progress_ns_(now_ns) {}

std::optional<std::chrono::milliseconds>
retry_policy::failed(std::uint64_t now_ns, std::optional<std::chrono::seconds> retry_after,
                     std::uint64_t attempt_started_ns) {
    ++total_;
    if (in_a_row_ == 0 || attempt_started_ns > last_counted_ns_) {
        ++in_a_row_; // otherwise: it was running when the last failure was counted
        last_counted_ns_ = now_ns;
    }
    if (in_a_row_ > retries_ || now_ns > last_progress_ns_ + max_time_ns_)
        return std::nullopt;
    if (retry_after)
        return std::chrono::duration_cast<std::chrono::milliseconds>(*retry_after);
    double base = std::min(250.0 * double(1u << std::min(in_a_row_ - 1, 7u)), 30'000.0);
    double jittered = base * std::uniform_real_distribution<double>(0.5, 1.5)(rng_);
    return std::chrono::milliseconds(std::int64_t(jittered));
}

void retry_policy::progressed(std::uint64_t now_ns) noexcept {
    in_a_row_ = 0;
    last_progress_ns_ = now_ns;
}

} // namespace spliced::client
