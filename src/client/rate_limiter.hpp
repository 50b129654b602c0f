#pragma once
// --limit-rate: a token bucket of bytes shared by every connection of a download. It holds at
// most a tenth of a second's worth (so a pause is never followed by a burst) and may go below
// zero when several connections spend one allowance at once; connections then wait until it is
// refilled above zero. Single-threaded, like the download.

#include <cstdint>

namespace spliced::client {

class rate_limiter {
  public:
    explicit rate_limiter(std::uint64_t bytes_per_second) noexcept;

    bool limited() const noexcept { return rate_ != 0; }
    // Bytes a connection may receive now (unbounded when not limited).
    std::uint64_t allowance() const noexcept;
    void spend(std::uint64_t bytes) noexcept { tokens_ -= std::int64_t(bytes); }
    // Adds what `now_ns` earned since the last call; true when receiving may go on.
    bool refill(std::uint64_t now_ns) noexcept;

  private:
    std::int64_t rate_;
    std::int64_t most_; // the bucket's size
    std::int64_t tokens_;
    std::uint64_t refilled_ns_ = 0;
};

} // namespace spliced::client
