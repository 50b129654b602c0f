#pragma once
// A pool of same-size registered buffers (READ_FIXED into a buffer, SEND from it; DESIGN.md §4)
// owning slots [first, first + count) of the ring's sparse buffer table (ring::
// register_sparse_buffers). Memory is allocated and registered (pinned) only as concurrent demand
// reaches it, one buffer at a time, and then kept: an idle or splice-only server pins next to
// nothing, a busy copy tier grows to --buffers and stays there. Growth that the kernel refuses
// (RLIMIT_MEMLOCK) ends growth; the pool then serves with what it has.

#include "spliced/core/result.hpp"
#include "spliced/uring/ring.hpp"

#include <cstddef>
#include <span>
#include <vector>

namespace spliced::uring {

class buffer_pool {
  public:
    // Takes table slots [first, first + count) and fills the first `initial` (≤ count) at once;
    // fails if the kernel refuses. ENOMEM/EPERM mean the locked-memory limit (RLIMIT_MEMLOCK,
    // systemd's LimitMEMLOCK) is too low.
    static result<buffer_pool> create(ring& r, unsigned first, unsigned count, std::size_t size,
                                      unsigned initial);

    buffer_pool(buffer_pool&& other) noexcept;
    buffer_pool& operator=(buffer_pool&&) = delete;
    ~buffer_pool();

    // The ring moved (into the worker): register further buffers with it there.
    void bind(ring& r) noexcept { ring_ = &r; }

    // The table index of a free buffer (what READ_FIXED takes), growing the pool by one if all
    // allocated ones are in use; -1 when `count` are in use or growth was refused.
    int acquire() noexcept;
    void release(int index) noexcept { free_.push_back(index); }

    unsigned count() const noexcept { return unsigned(buffers_.size()); }
    std::size_t buffer_size() const noexcept { return size_; }
    unsigned allocated() const noexcept { return allocated_; }
    // Why growth stopped early (errno), 0 while it may still grow.
    int growth_error() const noexcept { return growth_error_; }

    std::span<char> buffer(int index) noexcept {
        return {buffers_[std::size_t(index) - first_], size_};
    }

  private:
    buffer_pool() = default;
    bool grow() noexcept;

    ring* ring_ = nullptr;
    unsigned first_ = 0; // table index of this pool's slot 0
    std::size_t size_ = 0;
    std::vector<char*> buffers_; // one mapping per slot once allocated, nullptr before
    unsigned allocated_ = 0;     // slots [0, allocated_) hold registered buffers
    int growth_error_ = 0;
    std::vector<int> free_; // capacity count: release() never allocates
};

} // namespace spliced::uring
