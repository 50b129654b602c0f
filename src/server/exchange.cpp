#include "exchange.hpp"

#include "worker_state.hpp"

#include <algorithm>
#include <cstring>

namespace spliced::server {

namespace {

// Receive buffer an exchange starts with: room for a typical request head.
constexpr std::size_t initial_receive_buffer = 1024;

} // namespace

exchange::exchange(worker_state& w) noexcept
    : in_capacity_(std::min(initial_receive_buffer, w.cfg.max_header_bytes + 1)),
      in_(new char[in_capacity_]), reader_(w.cfg.max_header_bytes), resolver_(w), sender_(w) {}

void exchange::recycle(worker_state& w) noexcept {
    response_.release_file(w);
    resolver_.abandon(); // releases a file held while its siblings were tried
    in_length_ = 0;
    reader_.reset(); // it may hold half a request
}

std::span<char> exchange::receive_space(std::size_t limit) {
    make_room(in_length_ + 1, limit);
    return {in_.get() + in_length_, in_capacity_ - in_length_};
}

void exchange::received_copy(std::span<const char> bytes, std::size_t limit) {
    make_room(bytes.size(), limit);
    std::memcpy(in_.get(), bytes.data(), bytes.size());
    in_length_ = bytes.size();
}

void exchange::consume(std::size_t bytes) noexcept {
    std::memmove(in_.get(), in_.get() + bytes, in_length_ - bytes);
    in_length_ -= bytes;
}

// Most heads fit the first buffer; a long one grows it, never past `limit` (one byte beyond the
// head limit, which lets the reader see "too long").
void exchange::make_room(std::size_t need, std::size_t limit) {
    if (need <= in_capacity_ || in_capacity_ >= limit)
        return;
    const std::size_t grown = std::min(std::max(in_capacity_ * 4, need), limit);
    std::unique_ptr<char[]> bigger(new char[grown]);
    std::memcpy(bigger.get(), in_.get(), in_length_);
    in_ = std::move(bigger);
    in_capacity_ = grown;
}

} // namespace spliced::server
