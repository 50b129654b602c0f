#pragma once
// The backpressure both transfer tiers share: a bounded pool (pipes, registered buffers) hands
// its leases to waiting transfers strictly in arrival order. A transfer that finds the pool empty,
// or others already waiting, queues here instead of failing; abandoning unlinks it.

#include <boost/intrusive/list.hpp>

namespace spliced::server {

using waiter_hook =
    boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

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
            give(w, *lease);
        }
    }

  private:
    boost::intrusive::list<Waiter, boost::intrusive::member_hook<Waiter, waiter_hook, Hook>,
                           boost::intrusive::constant_time_size<false>>
        list_;
};

} // namespace spliced::server
