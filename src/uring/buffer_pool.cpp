#include "spliced/uring/buffer_pool.hpp"

#include <sys/mman.h>
#include <sys/uio.h>
#include <utility>

namespace spliced::uring {

result<buffer_pool> buffer_pool::create(ring& r, unsigned count, std::size_t size) {
    buffer_pool pool;
    const std::size_t total = std::size_t(count) * size;
    void* memory =
        ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
        return errno_code(errno);
    pool.base_ = static_cast<char*>(memory);
    pool.size_ = size;
    pool.count_ = count;
    std::vector<iovec> iovecs(count);
    for (unsigned i = 0; i < count; ++i)
        iovecs[i] = {pool.base_ + std::size_t(i) * size, size};
    if (auto registered = r.register_buffers(iovecs); !registered)
        return registered.error(); // the destructor unmaps
    pool.free_.reserve(count);
    for (unsigned i = count; i-- > 0;)
        pool.free_.push_back(int(i));
    return pool;
}

buffer_pool::buffer_pool(buffer_pool&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), size_(other.size_), count_(other.count_),
      free_(std::move(other.free_)) {}

buffer_pool::~buffer_pool() {
    if (base_)
        ::munmap(base_, std::size_t(count_) * size_);
}

int buffer_pool::acquire() noexcept {
    if (free_.empty())
        return -1;
    int index = free_.back();
    free_.pop_back();
    return index;
}

} // namespace spliced::uring
