#include "copy_transfer.hpp"

#include "spliced/uring/prep.hpp"

#include <algorithm>
#include <cerrno>
#include <poll.h>
#include <sys/socket.h>
#include <utility>

namespace spliced::server {

void copy_transfer::attach(callback_count& owner) noexcept {
    assert(!busy());
    callbacks_ = &owner;
    uring::count_in(owner, {&read_op_, &send_op_, &poll_op_});
}

void copy_transfer::start(buffer_broker& pool, int socket_fd, unsigned file_slot,
                          std::uint64_t offset, std::uint64_t length,
                          std::string_view head) noexcept {
    buffers_ = &pool;
    abandoned_ = false;
    socket_fd_ = socket_fd;
    head_ = head;
    head_left_ = 0;
    file_slot_ = file_slot;
    offset_ = offset;
    remaining_ = length;
    next_chunk();
}

void copy_transfer::abandon() noexcept {
    abandoned_ = true;
    if (buffers_)
        buffers_->leave(*this);
}

// An abandoned transfer starts nothing: each completion only reports how it ended.
bool copy_transfer::end_if_abandoned() noexcept {
    if (!abandoned_)
        return false;
    finish(transfer_end::abandoned);
    return true;
}

// Every completion comes back through here before anything new starts.
void copy_transfer::next_chunk() noexcept {
    if (end_if_abandoned())
        return;
    if (remaining_ == 0 && head_.empty()) {
        finish(transfer_end::complete);
        return;
    }
    buffers_->request(*this);
}

void copy_transfer::buffer_ready(int index) noexcept {
    buffer_ = index;
    read_retries_ = 0;
    auto buffer = buffers_->buffer(index);
    // The caller keeps the head shorter than a buffer (the small tier's condition).
    head_left_ = static_cast<std::uint32_t>(head_.copy(buffer.data(), buffer.size()));
    const auto room = buffer.size() - head_left_;
    chunk_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(remaining_, room));
    if (chunk_ == 0) { // only head bytes are left
        chunk_sent_ = 0;
        chunk_ = head_left_;
        send_rest();
        return;
    }
    uring::prep_read_fixed(read_op_.sqe(), {file_slot_}, buffer.data() + head_left_, chunk_,
                           offset_, index);
    ring_->push(read_op_);
}

// Reads that cannot complete without blocking, retried this many times through io-wq before
// the transfer fails.
constexpr unsigned max_read_retries = 4;

void copy_transfer::on_read(int res, std::uint32_t) noexcept {
    if (end_if_abandoned())
        return;
    if ((res == -EAGAIN || res == -EINTR) && read_retries_ < max_read_retries) {
        // The file is O_NONBLOCK (a FIFO must never hang a ring). A file system without
        // non-blocking reads (FUSE, NFS) answers -EAGAIN to every inline attempt, so pushing the
        // same SQE again would spin: the retry goes to an io-wq worker (IOSQE_ASYNC), where the
        // read may block (io_uring/rw.c clears IOCB_NOWAIT there), bounded like every io-wq op.
        ++read_retries_;
        read_op_.prepared().flags |= IOSQE_ASYNC;
        ring_->push(read_op_);
        return;
    }
    if (res < 0) {
        finish(transfer_end::failed);
        return;
    }
    if (res == 0) {
        finish(transfer_end::file_shrank); // what existed has been sent; never pad
        return;
    }
    // A short read is not the end: send what came, read on from there.
    const auto read = static_cast<std::uint32_t>(res);
    offset_ += read;
    remaining_ -= read;
    chunk_ = head_left_ + read;
    chunk_sent_ = 0;
    send_rest();
}

void copy_transfer::send_rest() noexcept {
    auto buffer = buffers_->buffer(buffer_);
    // MSG_DONTWAIT: a full socket answers -EAGAIN (or takes part) instead of keeping the buffer.
    io_uring_prep_send(&send_op_.sqe(), socket_fd_, buffer.data() + chunk_sent_,
                       chunk_ - chunk_sent_,
                       MSG_NOSIGNAL | MSG_DONTWAIT | (remaining_ > 0 ? MSG_MORE : 0));
    ring_->push(send_op_);
}

void copy_transfer::on_sent(int res, std::uint32_t) noexcept {
    if (end_if_abandoned())
        return;
    if (res == -EAGAIN) {
        wait_for_room();
        return;
    }
    if (res <= 0) {
        finish(transfer_end::client_gone);
        return;
    }
    auto sent = static_cast<std::uint32_t>(res);
    chunk_sent_ += sent;
    if (head_left_ > 0) {
        const auto head = std::min(sent, head_left_);
        head_left_ -= head;
        head_.remove_prefix(head);
        sent -= head;
        client_->head_progress(head);
    }
    if (sent > 0)
        client_->transfer_progress(sent);
    if (chunk_sent_ < chunk_) {
        wait_for_room(); // the socket took what it had room for
        return;
    }
    // The buffer goes back after every chunk: with a small pool, transfers take turns.
    buffers_->release(std::exchange(buffer_, -1));
    next_chunk();
}

// The socket is full: the buffer goes back now, the body bytes it still held are read again after
// POLLOUT (the head's unsent bytes are still in head_), and nothing is held meanwhile.
void copy_transfer::wait_for_room() noexcept {
    const std::uint32_t unsent_body = chunk_ - chunk_sent_ - head_left_;
    offset_ -= unsent_body;
    remaining_ += unsent_body;
    head_left_ = 0;
    buffers_->release(std::exchange(buffer_, -1));
    io_uring_prep_poll_add(&poll_op_.sqe(), socket_fd_, POLLOUT);
    ring_->push(poll_op_);
}

void copy_transfer::on_writable(int res, std::uint32_t) noexcept {
    if (end_if_abandoned())
        return;
    if (res < 0) {
        finish(transfer_end::client_gone);
        return;
    }
    next_chunk();
}

void copy_transfer::finish(transfer_end end) noexcept {
    if (buffer_ >= 0)
        buffers_->release(std::exchange(buffer_, -1));
    client_->transfer_done(end);
}

} // namespace spliced::server
