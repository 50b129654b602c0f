#pragma once
// One in-flight kernel operation: the object whose address is the SQE's user_data
// (STYLE.md: Seastar's kernel_completion, MPD's Uring::Operation).

#include "spliced/core/callback_count.hpp"
#include "spliced/uring/op_kind.hpp"

#include <cassert>
#include <cstdint>
#include <initializer_list>
#include <liburing.h>

namespace spliced::uring {

class ring;

// Lifetime rule (DESIGN.md §11): an operation, and every buffer or descriptor its SQE names,
// outlives its last CQE. An operation may name a callback_count (its owner's): the ring enters it
// when the operation is pushed and leaves it when the final CQE is reaped, so the owner knows
// from one number whether the kernel can still call it back.
class operation {
  public:
    explicit operation(op_kind kind) noexcept : kind_(kind) {}
    operation(const operation&) = delete;
    operation& operator=(const operation&) = delete;

    // The SQE to fill with io_uring_prep_*() before ring::push(); user_data is set by the ring.
    io_uring_sqe& sqe() noexcept {
        sqe_ = io_uring_sqe{};
        return sqe_;
    }

    // The SQE as last prepared, to adjust before pushing it again (a retry).
    io_uring_sqe& prepared() noexcept { return sqe_; }

    // Called once per CQE. For a multishot op, `flags & IORING_CQE_F_MORE` says more will come.
    virtual void complete(int res, std::uint32_t flags) noexcept = 0;

    bool in_flight() const noexcept { return in_flight_; }
    // Counts this operation in `owner` from push to final CQE; set only while not in flight.
    void count_in(callback_count* owner) noexcept {
        assert(!in_flight_);
        owner_count_ = owner;
    }
    op_kind kind() const noexcept { return kind_; }
    // When the SQE was handed to the kernel, or for a multishot op when its previous CQE was
    // reaped (monotonic ns); valid while in flight.
    std::uint64_t submitted_ns() const noexcept { return submitted_ns_; }

  protected:
    ~operation() { assert(!in_flight_ && "an operation freed before its final CQE"); }

  private:
    friend class ring;
    io_uring_sqe sqe_{};
    operation* next_pending_ = nullptr; // link in the ring's queue of not-yet-submitted SQEs
    callback_count* owner_count_ = nullptr;
    std::uint64_t submitted_ns_ = 0;
    std::uint8_t chain_length_ = 1; // on the first op of a linked chain: its length
    bool in_flight_ = false;        // pushed, and its final CQE not yet reaped
    op_kind kind_;
};

// Counts each of `ops` in `owner` (operation::count_in), for owners that embed several.
inline void count_in(callback_count& owner, std::initializer_list<operation*> ops) noexcept {
    for (operation* op : ops)
        op->count_in(&owner);
}

// An operation that forwards its completion to a member function of its owner, so that a
// connection can embed one per kind of request it makes.
template <class Owner, void (Owner::*Handler)(int, std::uint32_t) noexcept>
class member_operation final : public operation {
  public:
    member_operation(op_kind kind, Owner& owner) noexcept : operation(kind), owner_(&owner) {}
    void complete(int res, std::uint32_t flags) noexcept override {
        (owner_->*Handler)(res, flags);
    }

  private:
    Owner* owner_;
};

} // namespace spliced::uring
