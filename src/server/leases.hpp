#pragma once
// Leases: the backpressure both transfer tiers share. A bounded pool (pipes, registered buffers)
// hands its leases to waiting transfers strictly in arrival order; a transfer that finds the pool
// empty, or others already waiting, queues here instead of failing.
//
// Membership is something that will call the waiter back, so it is counted in the waiter's
// callback_count (`callbacks()`) from the moment it is queued until it is served or leaves: an
// owner freed while queued would be handed a lease after its death (src/server/README.md).

#include "spliced/core/callback_count.hpp"
#include "spliced/uring/buffer_pool.hpp"
#include "spliced/uring/pipe_pool.hpp"

#include <boost/intrusive/list.hpp>
#include <optional>
#include <span>

namespace spliced::server {

// Safe mode (not auto_unlink): destroying a waiter that is still queued asserts instead of
// silently unlinking, and linking one twice asserts too.
using waiter_hook =
    boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>>;

template <class Waiter, waiter_hook Waiter::*Hook>
class waiter_queue {
  public:
    // `take()` yields a lease or nothing (anything testable and dereferenceable); `give(w, lease)`
    // hands it over. Gives at once if nobody is ahead of `w`, else queues `w`.
    template <class Take, class Give>
    void request(Waiter& w, Take take, Give give) noexcept {
        if (list_.empty()) {
            if (auto lease = take()) {
                give(w, *lease);
                return;
            }
        }
        w.callbacks().enter();
        list_.push_back(w);
    }

    // After a release: serves waiters in order for as long as `take()` yields a lease.
    template <class Take, class Give>
    void serve(Take take, Give give) noexcept {
        while (!list_.empty()) {
            auto lease = take();
            if (!lease)
                return;
            Waiter& w = list_.front();
            list_.pop_front();
            w.callbacks().leave();
            give(w, *lease);
        }
    }

    // Every waiter leaves the queue, each told so by `refuse(w)`: the pool can serve nobody.
    template <class Refuse>
    void refuse_all(Refuse refuse) noexcept {
        while (!list_.empty()) {
            Waiter& w = list_.front();
            list_.pop_front();
            w.callbacks().leave();
            refuse(w);
        }
    }

    // `w` stops waiting, if it was.
    void leave(Waiter& w) noexcept {
        if (!(w.*Hook).is_linked())
            return;
        list_.erase(list_.iterator_to(w));
        w.callbacks().leave();
    }

  private:
    using list_type =
        boost::intrusive::list<Waiter, boost::intrusive::member_hook<Waiter, waiter_hook, Hook>,
                               boost::intrusive::constant_time_size<false>>;
    list_type list_;
};

// What a splice transfer is to the pipe broker.
class pipe_waiter {
  public:
    virtual void pipe_ready(const uring::pipe_lease& pipe) noexcept = 0;
    // No pipe exists and none can be made: no release will ever serve this waiter.
    virtual void pipe_refused() noexcept = 0;
    virtual callback_count& callbacks() noexcept = 0;
    bool waiting() const noexcept { return lease_hook.is_linked(); }

    waiter_hook lease_hook; // linked while queued in a pipe_broker

  protected:
    ~pipe_waiter() = default;
};

// What a copy transfer is to a buffer broker.
class buffer_waiter {
  public:
    virtual void buffer_ready(int index) noexcept = 0;
    virtual callback_count& callbacks() noexcept = 0;
    bool waiting() const noexcept { return lease_hook.is_linked(); }

    waiter_hook lease_hook; // linked while queued in a buffer_broker

  protected:
    ~buffer_waiter() = default;
};

// Hands pipes to splice transfers in arrival order.
class pipe_broker {
  public:
    explicit pipe_broker(uring::pipe_pool& pool) noexcept : pool_(&pool) {}
    // Gives `w` a pipe now or when one is released. When no pipe exists and none can be made, no
    // release will ever come: `w` is refused (pipe_refused) instead of waiting forever.
    void request(pipe_waiter& w) noexcept;
    void release(const uring::pipe_lease& pipe, bool empty) noexcept;
    void leave(pipe_waiter& w) noexcept { waiters_.leave(w); }
    unsigned in_use() const noexcept { return leased_; }

  private:
    result<uring::pipe_lease> take() noexcept;
    void refuse_if_stuck() noexcept;

    unsigned leased_ = 0;
    int last_error_ = 0; // errno of the last failed take()
    uring::pipe_pool* pool_;
    waiter_queue<pipe_waiter, &pipe_waiter::lease_hook> waiters_;
};

// Hands registered buffers to copy transfers in arrival order.
class buffer_broker {
  public:
    explicit buffer_broker(uring::buffer_pool& pool) noexcept : pool_(&pool) {}
    void request(buffer_waiter& w) noexcept;
    void release(int index) noexcept;
    void leave(buffer_waiter& w) noexcept { waiters_.leave(w); }
    std::span<char> buffer(int index) noexcept { return pool_->buffer(index); }
    unsigned in_use() const noexcept { return leased_; }

  private:
    std::optional<int> take() noexcept;

    uring::buffer_pool* pool_;
    unsigned leased_ = 0;
    waiter_queue<buffer_waiter, &buffer_waiter::lease_hook> waiters_;
};

} // namespace spliced::server
