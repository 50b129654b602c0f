#include "spliced/uring/slot_closer.hpp"

#include <new>

namespace spliced::uring {

void slot_closer::close(unsigned slot) noexcept {
    close_op* op = nullptr;
    if (!free_.empty()) {
        op = free_.back();
        free_.pop_back();
    } else {
        // Bounded by the number of slots: at most one close per slot is ever in flight.
        try {
            ops_.reserve(ops_.size() + 1);
            free_.reserve(ops_.size() + 1); // closed() never allocates
            ops_.push_back(std::make_unique<close_op>(*this));
        } catch (const std::bad_alloc&) {
            // No memory for an asynchronous close: empty the slot synchronously instead.
            const int none = -1;
            (void)ring_->update_files(slot, std::span<const int>(&none, 1));
            slots_->release(slot);
            return;
        }
        op = ops_.back().get();
    }
    op->slot = slot;
    io_uring_prep_close_direct(&op->sqe(), slot);
    ring_->push(*op);
}

void slot_closer::closed(close_op& op) noexcept {
    // Whatever the result, the slot's file is gone: -EBADF means it was already empty.
    slots_->release(op.slot);
    free_.push_back(&op);
}

} // namespace spliced::uring
