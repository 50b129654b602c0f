#pragma once
// Closes fixed-file slots in the ring (IORING_OP_CLOSE on a direct descriptor) and returns each
// slot to its allocator only once the kernel has emptied it, so a slot is never handed out while
// it still holds the previous file.

#include "spliced/uring/ring.hpp"
#include "spliced/uring/slot_allocator.hpp"

#include <memory>
#include <vector>

namespace spliced::uring {

class slot_closer {
  public:
    slot_closer(ring& r, slot_allocator& slots) noexcept : ring_(&r), slots_(&slots) {}

    void close(unsigned slot) noexcept;

  private:
    struct close_op final : operation {
        close_op(slot_closer& owner) noexcept : operation(op_kind::close), owner(&owner) {}
        void complete(int, std::uint32_t) noexcept override { owner->closed(*this); }
        slot_closer* owner;
        unsigned slot = 0;
    };
    void closed(close_op& op) noexcept;

    ring* ring_;
    slot_allocator* slots_;
    std::vector<std::unique_ptr<close_op>> ops_; // every op ever made; idle ones are in free_
    std::vector<close_op*> free_;
};

} // namespace spliced::uring
