#pragma once
// A fixed pool of registered buffers per ring (io_uring_register_buffers) for the copy tier:
// READ_FIXED into a buffer, SEND from it (DESIGN.md §4). The memory is allocated and pinned once
// at startup; nothing is allocated afterwards.

#include "spliced/core/result.hpp"
#include "spliced/uring/ring.hpp"

#include <cstddef>
#include <span>
#include <vector>

namespace spliced::uring {

class buffer_pool {
  public:
    // Allocates `count` buffers of `size` bytes and registers them with `r`. ENOMEM/EPERM from the
    // kernel mean the locked-memory limit (RLIMIT_MEMLOCK, systemd's LimitMEMLOCK) is too low.
    static result<buffer_pool> create(ring& r, unsigned count, std::size_t size);

    buffer_pool(buffer_pool&& other) noexcept;
    buffer_pool& operator=(buffer_pool&&) = delete;
    ~buffer_pool();

    // The index of a free buffer, or -1 when all are in use.
    int acquire() noexcept;
    void release(int index) noexcept { free_.push_back(index); }

    unsigned count() const noexcept { return count_; }

    std::span<char> buffer(int index) noexcept {
        return {base_ + std::size_t(index) * size_, size_};
    }

  private:
    buffer_pool() = default;

    char* base_ = nullptr; // one mmap of count_ × size_ bytes, registered as count_ iovecs
    std::size_t size_ = 0;
    unsigned count_ = 0;
    std::vector<int> free_; // capacity count_: release() never allocates
};

} // namespace spliced::uring
