#pragma once
// spliced_send_throughput_bytes_per_second: bytes per second over the last 10 s, so a dashboard
// can show it without PromQL. The control plane samples the summed byte counter about once per
// second; the rate is the difference between the newest sample and the oldest one still inside
// the window, over the time between them. The workers do nothing for it.

#include <array>
#include <cstdint>

namespace spliced::metrics {

class throughput_window {
  public:
    explicit throughput_window(std::uint64_t span_ns = 10'000'000'000) noexcept
        : span_ns_(span_ns) {}

    // `total_bytes` never decreases; samples come in time order.
    void sample(std::uint64_t now_ns, std::uint64_t total_bytes) noexcept;
    // 0 until two samples exist.
    double bytes_per_second() const noexcept;

  private:
    struct point {
        std::uint64_t ns = 0;
        std::uint64_t bytes = 0;
    };
    static constexpr std::size_t capacity = 64; // > span / sampling interval, with room to spare

    std::uint64_t span_ns_;
    std::array<point, capacity> points_{};
    std::size_t newest_ = 0; // index of the newest sample
    std::size_t count_ = 0;
};

} // namespace spliced::metrics
