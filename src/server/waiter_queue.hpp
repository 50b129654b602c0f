#pragma once
// The backpressure both transfer tiers share: a bounded pool (pipes, registered buffers) hands
// its leases to waiting transfers strictly in arrival order. A transfer that finds the pool empty,
// or others already waiting, queues here instead of failing.
//
// Membership is something that will call the waiter back, so it is counted in the waiter's
// callback_count (`waiter.callbacks()`) from the moment it is queued until it is served or leaves:
// an owner freed while queued would be handed a lease after its death.

#include "spliced/core/callback_count.hpp"

#include <boost/intrusive/list.hpp>

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

} // namespace spliced::server
