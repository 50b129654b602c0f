#pragma once
// Deadlines of one fixed duration, kept in a FIFO: since every entry gets now + the same duration,
// appending keeps the list sorted, so arming, re-arming and expiring are all O(1) (nginx keeps a
// red-black tree; with one duration per list a queue is enough).
//
// An armed deadline will call its item back (pop_expired), so membership in any list is counted
// once in the item's callback_count: entered when first armed, left when it expires or is
// disarmed. Moving between lists keeps the one count.

#include "spliced/core/callback_count.hpp"

#include <boost/intrusive/list.hpp>
#include <chrono>
#include <cstdint>

namespace spliced::server {

// auto_unlink lets an item leave whichever list holds it without knowing which; an item destroyed
// while armed still trips the assertion in its callback_count.
using deadline_hook =
    boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

template <class T, deadline_hook T::*Hook, std::uint64_t T::*Deadline, callback_count T::*Count>
class deadline_list {
  public:
    explicit deadline_list(std::chrono::milliseconds duration) noexcept
        : duration_ns_(std::uint64_t(duration.count()) * 1'000'000u) {}

    // (Re)arms `item` to expire `duration` after `now_ns`; moves it from any other list.
    void arm(T& item, std::uint64_t now_ns) noexcept {
        if (!unlink(item))
            (item.*Count).enter();
        item.*Deadline = now_ns + duration_ns_;
        list_.push_back(item);
    }

    // `item` is in no list afterwards.
    static void disarm(T& item) noexcept {
        if (unlink(item))
            (item.*Count).leave();
    }

    // The earliest deadline, or 0 when empty.
    std::uint64_t next_deadline() const noexcept {
        return list_.empty() ? 0 : list_.front().*Deadline;
    }

    // Removes and returns the first expired item, or nullptr.
    T* pop_expired(std::uint64_t now_ns) noexcept {
        if (list_.empty() || list_.front().*Deadline > now_ns)
            return nullptr;
        T& item = list_.front();
        list_.pop_front();
        (item.*Count).leave();
        return &item;
    }

  private:
    using member_hook = boost::intrusive::member_hook<T, deadline_hook, Hook>;

    // Takes `item` out of whichever list holds it; true if it was in one.
    static bool unlink(T& item) noexcept {
        auto& hook = item.*Hook;
        if (!hook.is_linked())
            return false;
        hook.unlink();
        return true;
    }

    boost::intrusive::list<T, member_hook, boost::intrusive::constant_time_size<false>> list_;
    std::uint64_t duration_ns_;
};

} // namespace spliced::server
