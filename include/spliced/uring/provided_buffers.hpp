#pragma once
// A ring of provided buffers (IORING_REGISTER_PBUF_RING, kernel 5.19+): a RECV with
// IOSQE_BUFFER_SELECT takes the next free buffer of the group when data arrives, not when it is
// submitted. Thousands of idle sockets can each keep a receive armed while sharing a few hundred
// buffers; the CQE names the buffer taken (IORING_CQE_F_BUFFER) and the owner hands it back with
// recycle() once it has copied the bytes out.

#include "spliced/core/result.hpp"
#include "spliced/uring/ring.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

struct io_uring_buf_ring;

namespace spliced::uring {

class provided_buffers {
  public:
    // An empty group: enabled() is false and receives must bring their own buffer.
    provided_buffers() noexcept = default;
    // `count` (a power of two, ≤ 32768) buffers of `size` bytes registered as group `group`.
    // Fails where the kernel has no buffer rings (EINVAL before 5.19).
    static result<provided_buffers> create(ring& r, std::uint16_t group, unsigned count,
                                           std::size_t size);

    provided_buffers(provided_buffers&& other) noexcept;
    provided_buffers& operator=(provided_buffers&& other) noexcept;
    ~provided_buffers();

    bool enabled() const noexcept { return ring_ != nullptr; }
    std::uint16_t group() const noexcept { return group_; }
    std::size_t buffer_size() const noexcept { return size_; }
    unsigned count() const noexcept { return enabled() ? count_ : 0; }

    // Fills `sqe` (a prepared RECV with no buffer) to take its buffer from this group.
    void select(io_uring_sqe& sqe) const noexcept;

    // The buffer a CQE carries (IORING_CQE_F_BUFFER in `cqe_flags`), if it carries one.
    static bool carries_buffer(std::uint32_t cqe_flags) noexcept;
    std::span<const char> data(std::uint32_t cqe_flags, std::size_t length) const noexcept;
    // Gives the CQE's buffer back to the kernel.
    void recycle(std::uint32_t cqe_flags) noexcept;

  private:
    void release() noexcept;

    ring* ring_ = nullptr;
    io_uring_buf_ring* entries_ = nullptr; // page-aligned, shared with the kernel
    std::size_t entries_bytes_ = 0;
    char* memory_ = nullptr; // count × size
    std::size_t size_ = 0;
    unsigned count_ = 0;
    std::uint16_t group_ = 0;
};

} // namespace spliced::uring
