#include "splice_transfer.hpp"

#include "spliced/uring/prep.hpp"

#include <array>
#include <climits>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace spliced::server {

void splice_transfer::attach(callback_count& owner) noexcept {
    assert(!busy());
    callbacks_ = &owner;
    uring::count_in(owner, {&file_hop_, &socket_hop_, &poll_op_});
}

void splice_transfer::start(int socket_fd, unsigned file_slot, std::uint64_t offset,
                            std::uint64_t length) noexcept {
    socket_fd_ = socket_fd;
    file_slot_ = file_slot;
    offset_ = offset;
    remaining_ = length;
    in_pipe_ = 0;
    eof_ = need_poll_ = moved_any_ = socket_error_ = writable_ = abandoned_ = false;
    error_ = 0;
    if (length == 0) {
        client_->transfer_done(transfer_end::complete);
        return;
    }
    if (refuse_for_tests_) {
        client_->transfer_done(transfer_end::refused);
        return;
    }
    pipes_->request(*this);
}

void splice_transfer::abandon() noexcept {
    abandoned_ = true;
    pipes_->leave(*this);
}

bool splice_transfer::ops_in_flight() const noexcept {
    return file_hop_.in_flight() || socket_hop_.in_flight() || poll_op_.in_flight();
}

bool splice_transfer::busy() const noexcept {
    return ops_in_flight() || waiting();
}

void splice_transfer::pipe_ready(const uring::pipe_lease& pipe) noexcept {
    pipe_ = pipe;
    has_pipe_ = true;
    step();
}

void splice_transfer::pipe_refused() noexcept {
    client_->transfer_done(transfer_end::no_pipe);
}

// Called after every completion and every hand-over: decides the next operation, or the end.
void splice_transfer::step() noexcept {
    if (ops_in_flight())
        return; // the other hop of the pair is still out
    if (abandoned_) {
        finish(transfer_end::abandoned); // a pipe with bytes left in it is destroyed, not reused
        return;
    }
    if (error_ != 0) {
        finish(socket_error_ ? transfer_end::client_gone
               : (!moved_any_ && (error_ == -EINVAL || error_ == -ENOSYS)) ? transfer_end::refused
                                                                           : transfer_end::failed);
        return;
    }
    if (need_poll_) {
        wait_for_room();
        return;
    }
    if (in_pipe_ > 0) {
        // Leftover from a short socket hop or a cut link: drain it alone.
        uring::prep_splice(socket_hop_.sqe(), {pipe_.read_slot}, socket_fd_, in_pipe_);
        ring_->push(socket_hop_);
        return;
    }
    if (remaining_ == 0 || eof_) {
        finish(remaining_ == 0 ? transfer_end::complete : transfer_end::file_shrank);
        return;
    }
    if (!has_pipe_) {
        pipes_->request(*this); // back from a wait for POLLOUT: pipe_ready() steps again
        return;
    }
    // Each hop is clamped to the pipe's capacity (and so to INT_MAX, splice's length type) and to
    // what the socket has room for, so that the socket hop empties the pipe.
    const std::uint64_t room = socket_room();
    if (room == 0) {
        wait_for_room();
        return;
    }
    writable_ = false;
    auto chunk = static_cast<unsigned>(std::min<std::uint64_t>(
        {remaining_, room, pipe_.capacity, static_cast<std::uint64_t>(INT_MAX)}));
    uring::prep_splice(file_hop_.sqe(), {file_slot_}, offset_, {pipe_.write_slot}, chunk);
    uring::prep_splice(socket_hop_.sqe(), {pipe_.read_slot}, socket_fd_, chunk);
    std::array<uring::operation*, 2> pair{&file_hop_, &socket_hop_};
    ring_->push_chain(pair, /*hard=*/false);
}

// Free space in the socket's send buffer, from its size (SO_SNDBUF, which the kernel autotunes)
// and the bytes still queued (SIOCOUTQ), less an eighth for the kernel's per-segment overhead;
// 0 while less than a quarter of the buffer (or of a pipe, if that is smaller) is free, so that a
// slow client is waited for with POLLOUT rather than fed a trickle. Right after POLLOUT the socket
// is writable by the kernel's own measure: then at least 64 KiB, never 0, so that a wake-up always
// moves bytes.
std::uint64_t splice_transfer::socket_room() const noexcept {
    int size = 0;
    socklen_t len = sizeof size;
    int queued = 0;
    if (::getsockopt(socket_fd_, SOL_SOCKET, SO_SNDBUF, &size, &len) != 0 ||
        ::ioctl(socket_fd_, SIOCOUTQ, &queued) != 0 || size <= 0)
        return pipe_.capacity; // not measurable: let the socket hop say how much it takes
    const std::uint64_t total = std::uint64_t(size);
    const std::uint64_t free =
        total > std::uint64_t(std::max(queued, 0)) ? total - std::uint64_t(std::max(queued, 0)) : 0;
    if (writable_)
        return std::max<std::uint64_t>(free - free / 8, 64 << 10);
    if (free < std::min<std::uint64_t>(total, pipe_.capacity) / 4)
        return 0;
    return free - free / 8;
}

// The client has not taken what was sent: wait for POLLOUT. An empty pipe goes back to the pool
// meanwhile, so that clients who read slowly (or not at all) do not hold pipes that others need.
void splice_transfer::wait_for_room() noexcept {
    need_poll_ = false;
    if (has_pipe_ && in_pipe_ == 0) {
        has_pipe_ = false;
        pipes_->release(pipe_, true);
    }
    io_uring_prep_poll_add(&poll_op_.sqe(), socket_fd_, POLLOUT);
    ring_->push(poll_op_);
}

void splice_transfer::on_file_hop(int res, std::uint32_t) noexcept {
    if (res > 0) {
        in_pipe_ += static_cast<std::uint32_t>(res);
        offset_ += static_cast<std::uint64_t>(res);
        remaining_ -= static_cast<std::uint64_t>(res);
        moved_any_ = true;
    } else if (res == 0) {
        eof_ = true; // the file is shorter than it was at open: send what exists, then stop
    } else if (res != -EAGAIN && res != -EINTR && error_ == 0) {
        error_ = res;
    }
    step();
}

void splice_transfer::on_socket_hop(int res, std::uint32_t) noexcept {
    if (res > 0) {
        in_pipe_ -= static_cast<std::uint32_t>(res);
        client_->transfer_progress(static_cast<std::uint64_t>(res));
    } else if (res == -EAGAIN) {
        need_poll_ = true;
    } else if (res == -ECANCELED || res == -EINTR) {
        // The file hop was short or failed; step() decides from the pipe's contents.
    } else if (error_ == 0) {
        error_ = res == 0 ? -EPIPE : res;
        socket_error_ = true;
    }
    step();
}

void splice_transfer::on_writable(int res, std::uint32_t) noexcept {
    if (res < 0 && error_ == 0) {
        error_ = res;
        socket_error_ = true;
    }
    writable_ = true;
    step();
}

void splice_transfer::finish(transfer_end end) noexcept {
    if (has_pipe_) {
        has_pipe_ = false;
        pipes_->release(pipe_, in_pipe_ == 0);
    }
    client_->transfer_done(end);
}

} // namespace spliced::server
