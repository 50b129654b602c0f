#pragma once
// The splice tier (DESIGN.md §4): file → pipe → socket with IORING_OP_SPLICE, both hops through a
// pooled pipe whose ends are fixed descriptors. Each chunk is one linked pair (file→pipe, then
// pipe→socket); a short first hop cuts the link (-ECANCELED on the second) and whatever sits in the
// pipe is drained by itself before the next pair. -EAGAIN from the non-blocking socket re-arms with
// POLL_ADD(POLLOUT), so no io-wq thread ever waits for a slow client. Chunks are sized to the
// socket's free space, so the pipe is normally empty when the transfer has to wait for its client,
// and an empty pipe goes back to the pool for that wait: pipes are held while bytes move, not
// while clients read, and any number of slow downloads share them.

#include "leases.hpp"
#include "spliced/uring/operation.hpp"
#include "spliced/uring/ring.hpp"
#include "transfer.hpp"

#include <cassert>
#include <cstdint>

namespace spliced::server {

class splice_transfer final : private pipe_waiter {
  public:
    splice_transfer(uring::ring& r, pipe_broker& pipes, transfer_client& client,
                    bool refuse_for_tests = false) noexcept
        : ring_(&r), pipes_(&pipes), client_(&client), refuse_for_tests_(refuse_for_tests) {}
    ~splice_transfer() { assert(!busy() && "a splice transfer freed while it may be called back"); }
    splice_transfer(const splice_transfer&) = delete;
    splice_transfer& operator=(const splice_transfer&) = delete;

    // Counts this transfer's operations and queue membership in `owner`; only while idle.
    void attach(callback_count& owner) noexcept;
    // Sends [offset, offset + length) of the file in fixed slot `file_slot` to `socket_fd`.
    void start(int socket_fd, unsigned file_slot, std::uint64_t offset,
               std::uint64_t length) noexcept;
    // Stops: leaves the pipe queue and starts nothing more (see transfer.hpp). The owner cancels
    // the socket's operations; the file hop ends by itself.
    void abandon() noexcept;
    // An operation in flight, or a place in the pipe queue: something will still call back.
    bool busy() const noexcept;
    transfer_position position() const noexcept { return {offset_, remaining_}; }

  private:
    void pipe_ready(const uring::pipe_lease& pipe) noexcept override;
    void pipe_refused() noexcept override;
    callback_count& callbacks() noexcept override { return *callbacks_; }
    bool ops_in_flight() const noexcept;
    void step() noexcept;
    void finish(transfer_end end) noexcept;
    void on_file_hop(int res, std::uint32_t) noexcept;
    void on_socket_hop(int res, std::uint32_t) noexcept;
    void on_writable(int res, std::uint32_t) noexcept;
    std::uint64_t socket_room() const noexcept;
    void wait_for_room() noexcept;

    uring::ring* ring_;
    pipe_broker* pipes_;
    transfer_client* client_;
    callback_count* callbacks_ = nullptr; // the owner's (attach)
    bool refuse_for_tests_; // --test-refuse-splice: answer as a file system without splice would
    int socket_fd_ = -1;
    unsigned file_slot_ = 0;
    std::uint64_t offset_ = 0;    // next file byte to move into the pipe
    std::uint64_t remaining_ = 0; // file bytes not yet moved into the pipe
    std::uint32_t in_pipe_ = 0;   // bytes in the pipe, not yet taken by the socket
    bool has_pipe_ = false;
    bool eof_ = false;       // the file ended before `remaining_` reached 0
    bool need_poll_ = false; // the socket said -EAGAIN: wait for POLLOUT
    bool writable_ = false;  // POLLOUT fired and no pair has been sent since
    bool moved_any_ = false;
    int error_ = 0; // first hard error, as -errno from a CQE
    bool socket_error_ = false;
    bool abandoned_ = false; // the owner has closed: no new operation, no new lease
    uring::pipe_lease pipe_{};

    uring::member_operation<splice_transfer, &splice_transfer::on_file_hop> file_hop_{
        uring::op_kind::splice, *this};
    uring::member_operation<splice_transfer, &splice_transfer::on_socket_hop> socket_hop_{
        uring::op_kind::splice, *this};
    uring::member_operation<splice_transfer, &splice_transfer::on_writable> poll_op_{
        uring::op_kind::poll, *this};
};

} // namespace spliced::server
