#pragma once
// Deadlines of one fixed duration, kept in a FIFO: since every entry gets now + the same duration,
// appending keeps the list sorted, so arming, re-arming and expiring are all O(1) (nginx keeps a
// red-black tree; with one duration per list a queue is enough).

#include <boost/intrusive/list.hpp>
#include <chrono>
#include <cstdint>

namespace spliced::server {

using deadline_hook =
    boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

template <class T, deadline_hook T::*Hook, std::uint64_t T::*Deadline>
class deadline_list {
  public:
    explicit deadline_list(std::chrono::milliseconds duration) noexcept
        : duration_ns_(std::uint64_t(duration.count()) * 1'000'000u) {}

    // (Re)arms `item` to expire `duration` after `now_ns`; moves it from any other list.
    void arm(T& item, std::uint64_t now_ns) noexcept {
        (item.*Hook).unlink();
        item.*Deadline = now_ns + duration_ns_;
        list_.push_back(item);
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
        return &item;
    }

  private:
    using member_hook = boost::intrusive::member_hook<T, deadline_hook, Hook>;
    boost::intrusive::list<T, member_hook, boost::intrusive::constant_time_size<false>> list_;
    std::uint64_t duration_ns_;
};

inline void disarm(deadline_hook& hook) noexcept {
    hook.unlink();
}

} // namespace spliced::server
