#include "spliced/uring/provided_buffers.hpp"

#include <liburing.h>
#include <sys/mman.h>
#include <utility>

namespace spliced::uring {

result<provided_buffers> provided_buffers::create(ring& r, std::uint16_t group, unsigned count,
                                                  std::size_t size) {
    if (count == 0 || count > 32768 || (count & (count - 1)) != 0 || size == 0)
        return errno_code(EINVAL);
    provided_buffers out;
    out.entries_bytes_ = count * sizeof(io_uring_buf);
    void* entries = ::mmap(nullptr, out.entries_bytes_, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (entries == MAP_FAILED)
        return errno_code(errno);
    out.entries_ = static_cast<io_uring_buf_ring*>(entries);
    // Anonymous memory: pages are only backed once a receive has written to them.
    void* memory =
        ::mmap(nullptr, count * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        int err = errno;
        ::munmap(entries, out.entries_bytes_);
        return errno_code(err);
    }
    out.memory_ = static_cast<char*>(memory);
    out.size_ = size;
    out.count_ = count;
    out.group_ = group;
    if (auto registered = r.register_buf_ring(out.entries_, count, group); !registered) {
        ::munmap(out.memory_, count * size);
        ::munmap(entries, out.entries_bytes_);
        return registered.error();
    }
    out.ring_ = &r;
    io_uring_buf_ring_init(out.entries_);
    const int mask = io_uring_buf_ring_mask(count);
    for (unsigned i = 0; i < count; ++i)
        io_uring_buf_ring_add(out.entries_, out.memory_ + i * size, unsigned(size),
                              static_cast<unsigned short>(i), mask, int(i));
    io_uring_buf_ring_advance(out.entries_, int(count));
    return out;
}

provided_buffers::provided_buffers(provided_buffers&& other) noexcept
    : ring_(std::exchange(other.ring_, nullptr)), entries_(std::exchange(other.entries_, nullptr)),
      entries_bytes_(other.entries_bytes_), memory_(std::exchange(other.memory_, nullptr)),
      size_(other.size_), count_(other.count_), group_(other.group_) {}

provided_buffers& provided_buffers::operator=(provided_buffers&& other) noexcept {
    if (this != &other) {
        release();
        ring_ = std::exchange(other.ring_, nullptr);
        entries_ = std::exchange(other.entries_, nullptr);
        entries_bytes_ = other.entries_bytes_;
        memory_ = std::exchange(other.memory_, nullptr);
        size_ = other.size_;
        count_ = other.count_;
        group_ = other.group_;
    }
    return *this;
}

provided_buffers::~provided_buffers() {
    release();
}

void provided_buffers::release() noexcept {
    if (!ring_)
        return;
    ring_->unregister_buf_ring(group_);
    ::munmap(memory_, count_ * size_);
    ::munmap(entries_, entries_bytes_);
    ring_ = nullptr;
}

void provided_buffers::select(io_uring_sqe& sqe) const noexcept {
    sqe.flags |= IOSQE_BUFFER_SELECT;
    sqe.buf_group = group_;
}

bool provided_buffers::carries_buffer(std::uint32_t cqe_flags) noexcept {
    return (cqe_flags & IORING_CQE_F_BUFFER) != 0;
}

std::span<const char> provided_buffers::data(std::uint32_t cqe_flags,
                                             std::size_t length) const noexcept {
    const std::size_t id = cqe_flags >> IORING_CQE_BUFFER_SHIFT;
    return {memory_ + id * size_, length};
}

void provided_buffers::recycle(std::uint32_t cqe_flags) noexcept {
    const auto id = static_cast<unsigned short>(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
    io_uring_buf_ring_add(entries_, memory_ + std::size_t(id) * size_, unsigned(size_), id,
                          io_uring_buf_ring_mask(count_), 0);
    io_uring_buf_ring_advance(entries_, 1);
}

} // namespace spliced::uring
