#include "spliced/uring/buffer_pool.hpp"

#include <sys/mman.h>
#include <sys/uio.h>
#include <utility>

namespace spliced::uring {

result<buffer_pool> buffer_pool::create(ring& r, unsigned first, unsigned count, std::size_t size,
                                        unsigned initial) {
    buffer_pool pool;
    pool.ring_ = &r;
    pool.first_ = first;
    pool.size_ = size;
    pool.buffers_.assign(count, nullptr);
    pool.free_.reserve(count);
    while (pool.allocated_ < initial)
        if (!pool.grow())
            return errno_code(pool.growth_error_); // the destructor unmaps what was made
    for (unsigned i = pool.allocated_; i-- > 0;)
        pool.free_.push_back(int(first + i)); // lowest index first
    return pool;
}

buffer_pool::buffer_pool(buffer_pool&& other) noexcept
    : ring_(other.ring_), first_(other.first_), size_(other.size_),
      buffers_(std::move(other.buffers_)), allocated_(std::exchange(other.allocated_, 0)),
      growth_error_(other.growth_error_), free_(std::move(other.free_)) {}

buffer_pool::~buffer_pool() {
    for (unsigned i = 0; i < allocated_; ++i)
        ::munmap(buffers_[i], size_);
}

bool buffer_pool::grow() noexcept {
    if (growth_error_ != 0 || allocated_ == buffers_.size())
        return false;
    void* memory =
        ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        growth_error_ = errno;
        return false;
    }
    if (auto registered = ring_->update_buffer(first_ + allocated_, iovec{memory, size_});
        !registered) {
        ::munmap(memory, size_);
        growth_error_ = registered.error().value();
        return false;
    }
    buffers_[allocated_++] = static_cast<char*>(memory);
    return true;
}

int buffer_pool::acquire() noexcept {
    if (free_.empty()) {
        if (!grow())
            return -1;
        return int(first_ + allocated_ - 1);
    }
    int index = free_.back();
    free_.pop_back();
    return index;
}

} // namespace spliced::uring
