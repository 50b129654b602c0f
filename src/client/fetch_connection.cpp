#include "spliced/client/fetch_connection.hpp"

#include "spliced/core/clock.hpp"

#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <system_error>
#include <unistd.h>

namespace spliced::client {

fetch_connection::fetch_connection(uring::ring& ring, fetch_events& events,
                                   const sockaddr_storage& peer, socklen_t peer_length,
                                   file_target file, buffer b, receive_path path)
    : ring_(ring), events_(events), peer_(peer), peer_length_(peer_length), file_(file),
      buffer_(b.data), buffer_size_(b.size), buffer_index_(b.index), path_(path) {
    uring::count_in(pending_, {&connect_op_, &send_op_, &recv_op_, &write_op_, &cancel_op_,
                               &splice_in_op_, &splice_out_op_});
    if (path_ == receive_path::splice) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0)
            throw std::system_error(errno, std::generic_category(), "pipe2");
        pipe_read_.reset(fds[0]);
        pipe_write_.reset(fds[1]);
        // As large as the buffer of the other paths, where the pipe limits allow.
        int size = ::fcntl(fds[1], F_SETPIPE_SZ, int(buffer_size_));
        pipe_size_ = std::size_t(size > 0 ? size : ::fcntl(fds[1], F_GETPIPE_SZ));
    }
}

fetch_connection::~fetch_connection() {
    assert(pending_.zero() && "a fetch_connection freed with operations in flight");
}

void fetch_connection::start(std::string request, bool head_request) noexcept {
    assert(idle() && (phase_ == phase::closed || phase_ == phase::idle));
    request_ = std::move(request);
    sent_ = 0;
    head_request_ = head_request;
    reader_.reset();
    filled_ = consumed_ = 0;
    last_progress_ns_ = monotonic_ns();
    if (connected_) {
        send_request();
        return;
    }
    socket_.reset(::socket(peer_.ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
    if (!socket_) {
        fail(-errno);
        return;
    }
    int one = 1; // the request head is one small write; do not let Nagle hold it
    ::setsockopt(socket_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    phase_ = phase::connecting;
    io_uring_prep_connect(&connect_op_.sqe(), socket_.get(),
                          reinterpret_cast<const sockaddr*>(&peer_), peer_length_);
    ring_.push(connect_op_);
}

void fetch_connection::stop() noexcept {
    paused_ = false;
    fail(-ECANCELED);
}

void fetch_connection::resume() noexcept {
    if (!paused_ || stopping_)
        return;
    paused_ = false;
    last_progress_ns_ = monotonic_ns(); // the pause was ours, not a stall of the peer
    write_body();                       // nothing buffered: receives (or splices) the next bytes
}

void fetch_connection::on_connect(int res, std::uint32_t) noexcept {
    if (stopping_ || res < 0)
        return fail(res < 0 ? res : -ECANCELED);
    connected_ = true;
    last_progress_ns_ = monotonic_ns();
    send_request();
}

void fetch_connection::send_request() noexcept {
    phase_ = phase::sending;
    io_uring_prep_send(&send_op_.sqe(), socket_.get(), request_.data() + sent_,
                       request_.size() - sent_, MSG_NOSIGNAL);
    ring_.push(send_op_);
}

void fetch_connection::on_send(int res, std::uint32_t) noexcept {
    if (stopping_ || res <= 0)
        return fail(res < 0 ? res : -EPIPE);
    sent_ += std::size_t(res);
    if (sent_ < request_.size())
        return send_request();
    phase_ = phase::head;
    receive();
}

void fetch_connection::receive() noexcept {
    if (filled_ == buffer_size_)
        return fail(-EPROTO); // a head larger than the buffer (the reader's limit is smaller)
    std::size_t room = buffer_size_ - filled_;
    if (phase_ == phase::body) {
        auto allowed = events_.receive_allowance(*this);
        if (allowed == 0) {
            paused_ = true;
            return;
        }
        room = std::size_t(std::min<std::uint64_t>(room, allowed));
    }
    if (phase_ == phase::body && path_ == receive_path::fixed)
        io_uring_prep_read_fixed(&recv_op_.sqe(), socket_.get(), buffer_ + filled_, unsigned(room),
                                 0, int(buffer_index_));
    else
        io_uring_prep_recv(&recv_op_.sqe(), socket_.get(), buffer_ + filled_, room, 0);
    ring_.push(recv_op_);
}

void fetch_connection::on_recv(int res, std::uint32_t) noexcept {
    if (stopping_)
        return fail(-ECANCELED);
    if (res < 0)
        return fail(res);
    if (res == 0) // the peer closed before the response was whole
        return fail(phase_ == phase::head ? -ECONNRESET : -EPIPE);
    filled_ += std::size_t(res);
    last_progress_ns_ = monotonic_ns();
    if (phase_ == phase::head)
        return take_head();
    received_bytes_ += std::size_t(res);
    write_body();
}

void fetch_connection::take_head() noexcept {
    auto out = reader_.feed({reinterpret_cast<const char*>(buffer_), filled_}, head_request_);
    if (out.result == http::response_reader::state::need_more)
        return receive();
    if (out.result == http::response_reader::state::error)
        return fail(-EPROTO);
    consumed_ = out.consumed;
    received_bytes_ += filled_ - consumed_;
    const auto& head = reader_.head();
    auto target = events_.head_arrived(*this, head);
    // Kept alive only if the body is framed by a length and all of it is what was asked for.
    keep_alive_ = head.keep_alive && head.content_length && *head.content_length == target.length;
    body_left_ = target.length;
    body_offset_ = target.offset;
    phase_ = phase::body;
    write_body();
}

void fetch_connection::write_body() noexcept {
    if (body_left_ == 0) {
        phase_ = phase::idle;
        bool reusable = keep_alive_ && consumed_ == filled_;
        if (!reusable) {
            socket_.reset();
            connected_ = false;
        }
        return events_.response_done(*this, reusable);
    }
    std::size_t available = filled_ - consumed_;
    if (available == 0) {
        filled_ = consumed_ = 0;
        return path_ == receive_path::splice ? splice_in() : receive();
    }
    std::uint64_t n = writable(available);
    if (n == 0)
        return write_body();
    int fd = file_.fd;
    if (file_.direct_align != 0) {
        auto step = plan_direct(n, available);
        if (step == direct_step::receive_more)
            return receive();
        if (step == direct_step::write_direct)
            fd = file_.direct_fd;
    }
    write_length_ = n;
    if (path_ == receive_path::fixed)
        io_uring_prep_write_fixed(&write_op_.sqe(), fd, buffer_ + consumed_, unsigned(n),
                                  body_offset_, int(buffer_index_));
    else
        io_uring_prep_write(&write_op_.sqe(), fd, buffer_ + consumed_, unsigned(n), body_offset_);
    ring_.push(write_op_);
}

// At most `n` body bytes from here, as the response and the piece allow; 0 when the piece ends
// here now (split), and then the rest of this response is dropped and the socket not reused.
std::uint64_t fetch_connection::writable(std::uint64_t n) noexcept {
    n = std::min({n, body_left_, events_.may_write(*this, body_offset_)});
    if (n == 0) {
        keep_alive_ = false;
        body_left_ = 0;
    }
    return n;
}

// O_DIRECT writes whole aligned blocks from an aligned address only; everything else goes
// through the page cache. So: up to the next aligned file offset buffered; from there, whole
// blocks direct (moving the bytes to the buffer's aligned start first if they sit elsewhere,
// as after a response head); a last partial block buffered once the piece or the response ends
// there, or received into until it is whole. `n` (what writable() allows) is trimmed to the
// write. The blocks written directly are never touched by a buffered write: every buffered write
// lies in a block that is either before the first or after the last whole block of its range.
fetch_connection::direct_step fetch_connection::plan_direct(std::uint64_t& n,
                                                            std::size_t available) noexcept {
    const std::uint64_t align = file_.direct_align;
    if (std::uint64_t gap = (align - body_offset_ % align) % align; gap != 0) {
        n = std::min(n, gap);
        return direct_step::write_buffered;
    }
    if (std::uint64_t whole = n - n % align; whole != 0) {
        if (consumed_ % align != 0) { // the buffer's start is aligned (connection_pool)
            std::memmove(buffer_, buffer_ + consumed_, available);
            filled_ = available;
            consumed_ = 0;
        }
        n = whole;
        return direct_step::write_direct;
    }
    // Less than a block: the end of what may be written here, or more is coming.
    bool last = n < available || n == body_left_ || n == events_.may_write(*this, body_offset_);
    if (last)
        return direct_step::write_buffered;
    if (consumed_ != 0) { // room for the rest of the block, whatever consumed_ was
        std::memmove(buffer_, buffer_ + consumed_, available);
        filled_ = available;
        consumed_ = 0;
    }
    return direct_step::receive_more;
}

void fetch_connection::on_write(int res, std::uint32_t) noexcept {
    if (res <= 0)
        return fail(res < 0 ? res : -EIO);
    std::span<const std::byte> bytes(buffer_ + consumed_, std::size_t(res));
    std::uint64_t at = body_offset_;
    consumed_ += std::size_t(res);
    body_offset_ += std::uint64_t(res);
    body_left_ -= std::uint64_t(res);
    events_.written(*this, at, std::uint64_t(res), bytes);
    if (stopping_)
        return fail(-ECANCELED);
    write_body();
}

// receive_path::splice, with nothing buffered: up to a pipeful of the body from the socket.
void fetch_connection::splice_in() noexcept {
    std::uint64_t n = writable(pipe_size_);
    if (n == 0)
        return write_body();
    auto allowed = events_.receive_allowance(*this);
    if (allowed == 0) {
        paused_ = true;
        return;
    }
    n = std::min(n, allowed);
    io_uring_prep_splice(&splice_in_op_.sqe(), socket_.get(), -1, pipe_write_.get(), -1,
                         unsigned(n), 0);
    ring_.push(splice_in_op_);
}

void fetch_connection::on_splice_in(int res, std::uint32_t) noexcept {
    if (stopping_)
        return fail(-ECANCELED);
    if (res <= 0) // 0: the peer closed before the body was whole
        return fail(res < 0 ? res : -EPIPE);
    in_pipe_ = std::size_t(res);
    received_bytes_ += std::size_t(res);
    last_progress_ns_ = monotonic_ns();
    splice_out();
}

void fetch_connection::splice_out() noexcept {
    io_uring_prep_splice(&splice_out_op_.sqe(), pipe_read_.get(), -1, file_.fd,
                         std::int64_t(body_offset_), unsigned(in_pipe_), 0);
    ring_.push(splice_out_op_);
}

void fetch_connection::on_splice_out(int res, std::uint32_t) noexcept {
    if (res <= 0)
        return fail(res < 0 ? res : -EIO);
    std::uint64_t at = body_offset_;
    in_pipe_ -= std::size_t(res);
    body_offset_ += std::uint64_t(res);
    body_left_ -= std::uint64_t(res);
    events_.written(*this, at, std::uint64_t(res), {});
    if (stopping_)
        return fail(-ECANCELED);
    if (in_pipe_ > 0)
        return splice_out(); // a short write: the rest of the pipe first
    write_body();
}

void fetch_connection::fail(int error) noexcept {
    if (!stopping_) {
        stopping_ = true;
        error_ = error;
        if (socket_)
            ::shutdown(socket_.get(), SHUT_RDWR); // ends a RECV or SEND in flight
        if (connect_op_.in_flight() && !cancel_op_.in_flight()) {
            io_uring_prep_cancel(&cancel_op_.sqe(), &connect_op_, 0);
            ring_.push(cancel_op_);
        }
    }
    settle();
}

void fetch_connection::settle() noexcept {
    if (!pending_.zero())
        return; // the last completion calls fail() again
    socket_.reset();
    connected_ = false;
    phase_ = phase::closed;
    stopping_ = false;
    int error = std::exchange(error_, 0);
    events_.failed(*this, error);
}

} // namespace spliced::client
