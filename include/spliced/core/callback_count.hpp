#pragma once
// How many things may still call an object back: operations the kernel has not completed and
// memberships in queues that will hand it something (a pipe, a buffer, a deadline). The object
// may be freed only at zero (DESIGN.md §11; nginx's r->count, Seastar's gate). Single-threaded.

#include <cassert>
#include <cstdint>

namespace spliced {

class callback_count {
  public:
    callback_count() = default;
    callback_count(const callback_count&) = delete;
    callback_count& operator=(const callback_count&) = delete;
    ~callback_count() { assert(count_ == 0 && "freed while something may still call it back"); }

    void enter() noexcept { ++count_; }
    void leave() noexcept {
        assert(count_ > 0);
        --count_;
    }
    std::uint32_t value() const noexcept { return count_; }
    bool zero() const noexcept { return count_ == 0; }

  private:
    std::uint32_t count_ = 0;
};

} // namespace spliced
