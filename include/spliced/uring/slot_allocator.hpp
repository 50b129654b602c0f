#pragma once
// Hands out indexes of the ring's sparse fixed-file table. Slots are chosen here rather than by
// the kernel (IORING_FILE_INDEX_ALLOC is broken for some ops in liburing 2.3, DESIGN.md §3), so
// every slot has exactly one owner: whoever acquired it, until it is released.

#include <optional>
#include <vector>

namespace spliced::uring {

class slot_allocator {
  public:
    // Slots [first, first + count) of the table.
    explicit slot_allocator(unsigned count, unsigned first = 0) : capacity_(count) {
        free_.reserve(count);
        for (unsigned i = count; i-- > 0;)
            free_.push_back(first + i); // lowest index first
    }

    std::optional<unsigned> acquire() noexcept {
        if (free_.empty())
            return std::nullopt;
        unsigned slot = free_.back();
        free_.pop_back();
        return slot;
    }

    // The slot must be empty in the kernel's table (closed) before it is released.
    void release(unsigned slot) noexcept { free_.push_back(slot); }

    std::size_t available() const noexcept { return free_.size(); }
    std::size_t capacity() const noexcept { return capacity_; }

  private:
    std::size_t capacity_;
    std::vector<unsigned> free_; // capacity reserved up front: release() never allocates
};

} // namespace spliced::uring
