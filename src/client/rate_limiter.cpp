#include "rate_limiter.hpp"

#include <algorithm>

namespace spliced::client {

rate_limiter::rate_limiter(std::uint64_t bytes_per_second) noexcept
    : rate_(std::int64_t(bytes_per_second)), most_(std::max<std::int64_t>(rate_ / 10, 4096)),
      tokens_(most_) {}

std::uint64_t rate_limiter::allowance() const noexcept {
    if (!limited())
        return ~std::uint64_t(0);
    return tokens_ > 0 ? std::uint64_t(tokens_) : 0;
}

bool rate_limiter::refill(std::uint64_t now_ns) noexcept {
    if (!limited())
        return true;
    if (refilled_ns_ != 0) {
        auto earned = std::int64_t(double(now_ns - refilled_ns_) * double(rate_) / 1e9);
        tokens_ = std::min(most_, tokens_ + earned);
    }
    refilled_ns_ = now_ns;
    return tokens_ > 0;
}

} // namespace spliced::client
