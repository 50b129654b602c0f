#pragma once
// The copy tier (DESIGN.md §4), the fallback where splice is refused and a tier of its own with
// --transfer copy: READ_FIXED of a chunk into a registered buffer, then SEND of exactly the bytes
// read. The buffer goes back to the pool after each chunk's send, so transfers share a small pool
// fairly; when it is empty they wait in FIFO order (backpressure), never fail or allocate.
//
// A buffer is never held for a client: SENDs do not wait (MSG_DONTWAIT). When the socket is full,
// the buffer goes back at once, what was not sent is read again later (page cache), and the
// transfer waits for POLLOUT holding nothing, so stalled clients cannot starve the pool.
//
// The small tier is the same machinery with the response head in front: the head is copied into
// the buffer, the body read right after it, and head and body leave in one SEND.

#include "leases.hpp"
#include "spliced/uring/operation.hpp"
#include "spliced/uring/ring.hpp"
#include "transfer.hpp"

#include <cassert>
#include <cstdint>
#include <string_view>

namespace spliced::server {

class copy_transfer final : private buffer_waiter {
  public:
    copy_transfer(uring::ring& r, transfer_client& client) noexcept : ring_(&r), client_(&client) {}
    ~copy_transfer() { assert(!busy() && "a copy transfer freed while it may be called back"); }
    copy_transfer(const copy_transfer&) = delete;
    copy_transfer& operator=(const copy_transfer&) = delete;

    // Counts this transfer's operations and queue membership in `owner`; only while idle.
    void attach(callback_count& owner) noexcept;
    // Moves the range through buffers of `pool`. `head`, if any, goes out in front of the first
    // chunk and must stay valid until the transfer ends; with a head, a body that fits the buffer
    // beside it is one READ_FIXED and one SEND.
    void start(buffer_broker& pool, int socket_fd, unsigned file_slot, std::uint64_t offset,
               std::uint64_t length, std::string_view head = {}) noexcept;
    // Stops: leaves the buffer queue and starts nothing more (see transfer.hpp). The owner
    // cancels the socket's operations; a read ends by itself.
    void abandon() noexcept;
    // An operation in flight, or a place in a buffer queue: something will still call back.
    bool busy() const noexcept { return ops_in_flight() || waiting(); }

  private:
    bool ops_in_flight() const noexcept {
        return read_op_.in_flight() || send_op_.in_flight() || poll_op_.in_flight();
    }
    void buffer_ready(int index) noexcept override;
    callback_count& callbacks() noexcept override { return *callbacks_; }
    void on_read(int res, std::uint32_t) noexcept;
    void on_sent(int res, std::uint32_t) noexcept;
    void on_writable(int res, std::uint32_t) noexcept;
    void send_rest() noexcept;
    void wait_for_room() noexcept;
    bool end_if_abandoned() noexcept;
    void next_chunk() noexcept;
    void finish(transfer_end end) noexcept;

    uring::ring* ring_;
    buffer_broker* buffers_ = nullptr; // the pool of the current transfer
    transfer_client* client_;
    callback_count* callbacks_ = nullptr; // the owner's (attach)
    bool abandoned_ = false;              // the owner has closed: no new operation, no new lease
    unsigned read_retries_ = 0;           // consecutive -EAGAIN answers to this chunk's read
    int socket_fd_ = -1;
    unsigned file_slot_ = 0;
    std::uint64_t offset_ = 0;    // next file byte to read
    std::uint64_t remaining_ = 0; // file bytes not yet read
    int buffer_ = -1;             // index of the held buffer, -1 when none
    std::string_view head_;       // head bytes not yet sent (copied into each chunk's buffer)
    std::uint32_t head_left_ = 0; // head bytes in the buffer not yet sent
    std::uint32_t chunk_ = 0;     // bytes in the buffer to send (head bytes included)
    std::uint32_t chunk_sent_ = 0;

    uring::member_operation<copy_transfer, &copy_transfer::on_read> read_op_{uring::op_kind::read,
                                                                             *this};
    uring::member_operation<copy_transfer, &copy_transfer::on_sent> send_op_{uring::op_kind::send,
                                                                             *this};
    uring::member_operation<copy_transfer, &copy_transfer::on_writable> poll_op_{
        uring::op_kind::poll, *this};
};

} // namespace spliced::server
