#include "spliced/metrics/throughput.hpp"

namespace spliced::metrics {

void throughput_window::sample(std::uint64_t now_ns, std::uint64_t total_bytes) noexcept {
    newest_ = count_ == 0 ? 0 : (newest_ + 1) % capacity;
    points_[newest_] = {now_ns, total_bytes};
    if (count_ < capacity)
        ++count_;
}

double throughput_window::bytes_per_second() const noexcept {
    if (count_ < 2)
        return 0;
    const point& last = points_[newest_];
    // Walk back to the oldest sample no older than the window.
    const point* first = &last;
    for (std::size_t back = 1; back < count_; ++back) {
        const point& p = points_[(newest_ + capacity - back) % capacity];
        if (last.ns - p.ns > span_ns_)
            break;
        first = &p;
    }
    if (first == &last)
        return 0;
    return double(last.bytes - first->bytes) * 1e9 / double(last.ns - first->ns);
}

} // namespace spliced::metrics
