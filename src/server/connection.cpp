#include "connection.hpp"

#include "worker_state.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace spliced::server {

namespace {

// "203.0.113.7" or "2001:db8::1": the client's address for the access log.
std::string peer_address(int fd) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        return "-";
    char text[INET6_ADDRSTRLEN] = "-";
    if (addr.ss_family == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, text, sizeof text);
    else if (addr.ss_family == AF_INET6)
        ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, text,
                    sizeof text);
    return text;
}

} // namespace

connection::connection(worker_state& w, int socket_fd) noexcept : w_(w), fd_(socket_fd) {
    recv_op_.count_in(&callbacks_);
    cancel_op_.count_in(&callbacks_);
}

// Only from the worker, once nothing can call back (callbacks_ asserts it).
connection::~connection() {
    if (x_) {
        x_->recycle(w_);
        w_.exchanges.give(std::move(x_));
    }
    ::close(fd_);
}

void connection::start() noexcept {
    if (w_.log.enabled()) {
        try {
            peer_ = peer_address(fd_);
        } catch (const std::bad_alloc&) {
            // The log line names no peer; the connection is served all the same.
        }
    }
    w_.header_deadlines.arm(*this, w_.now_ns);
    receive();
}

// Null when no exchange can be had (out of memory): the caller closes, since no request can
// even begin.
exchange* connection::engage() noexcept {
    if (!x_) {
        try {
            x_ = w_.exchanges.take(w_);
        } catch (const std::bad_alloc&) {
            return nullptr;
        }
        x_->attach(callbacks_, *this, *this);
    }
    return x_.get();
}

// Idle again: the exchange goes back to the worker's spares. Nothing of it may be in use.
void connection::disengage() noexcept {
    if (x_ && x_->empty() && !x_->busy() && !x_->reply().file())
        w_.exchanges.give(std::move(x_));
}

// ---- receive and parse ---------------------------------------------------------------------

// With nothing buffered, the receive takes one of the worker's provided buffers when data
// arrives (an idle connection holds no buffer of its own); bytes of an unfinished head are
// appended to the exchange's buffer directly, so that none can arrive without room.
void connection::receive() noexcept {
    auto& sqe = recv_op_.sqe();
    if (w_.recv_buffers.enabled() && !recv_into_exchange_ && (!x_ || x_->empty())) {
        io_uring_prep_recv(&sqe, fd_, nullptr, 0, 0);
        w_.recv_buffers.select(sqe);
        w_.ring.push(recv_op_);
        return;
    }
    recv_into_exchange_ = false;
    exchange* x = engage();
    if (!x) {
        close_now();
        return;
    }
    std::span<char> room;
    try {
        room = x->receive_space(w_.cfg.max_header_bytes + 1);
    } catch (const std::bad_alloc&) {
        x->discard();
        x->record().begin(w_.now_ns, nullptr, false);
        unresolved(http::status::service_unavailable, {});
        return;
    }
    io_uring_prep_recv(&sqe, fd_, room.data(), room.size(), 0);
    w_.ring.push(recv_op_);
}

void connection::on_recv(int res, std::uint32_t flags) noexcept {
    // A provided buffer goes back to the kernel however the receive ended; its bytes are copied
    // out first.
    struct recycle_guard {
        uring::provided_buffers& buffers;
        std::uint32_t flags;
        ~recycle_guard() {
            if (uring::provided_buffers::carries_buffer(flags))
                buffers.recycle(flags);
        }
    } recycle{w_.recv_buffers, flags};
    if (state_ == state::closing)
        return;
    if (res == -ENOBUFS) { // every provided buffer is taken: this one receive brings its own
        w_.shard.recv_buffer_shortages.add();
        recv_into_exchange_ = true;
        receive();
        return;
    }
    if (res <= 0) {
        close_now(); // the client closed (0) or the socket failed
        return;
    }
    if (state_ == state::lingering) {
        if (x_)
            x_->discard(); // read and discard until the client closes or the linger ends
        receive();
        return;
    }
    exchange* x = engage();
    if (!x) {
        close_now();
        return;
    }
    if (x->empty())
        w_.header_deadlines.arm(*this, w_.now_ns); // the head's clock starts at its first byte
    const auto length = static_cast<std::size_t>(res);
    if (!uring::provided_buffers::carries_buffer(flags)) {
        x->received(length);
    } else {
        // Only an empty exchange buffer receives this way, and a provided buffer is never larger
        // than the head limit (config::recv_buffer_bytes).
        try {
            x->received_copy(w_.recv_buffers.data(flags, length), w_.cfg.max_header_bytes + 1);
        } catch (const std::bad_alloc&) {
            x->record().begin(w_.now_ns, nullptr, false);
            unresolved(http::status::service_unavailable, {});
            return;
        }
    }
    parse();
}

void connection::parse() noexcept {
    auto& x = *x_;
    auto outcome = x.reader().feed(x.buffered());
    switch (outcome.result) {
    case http::request_reader::state::need_more:
        receive();
        return;
    case http::request_reader::state::error:
        // The byte stream cannot be trusted past a bad head: answer, then close.
        x.discard();
        x.record().begin(w_.now_ns, nullptr, false);
        unresolved(outcome.error, {});
        return;
    case http::request_reader::state::done:
        break;
    }
    // Pipelined bytes after this request stay in the buffer for the next one.
    x.consume(outcome.consumed);
    const auto& head = x.reader().head();
    x.record().begin(w_.now_ns, &head, head.keep_alive && !w_.retiring);
    disarm_timer();
    state_ = state::resolving;
    x.route().resolve(head);
}

// ---- respond -------------------------------------------------------------------------------

void connection::resolved(const opened_file& file, std::string_view encoding) noexcept {
    auto& x = *x_;
    try {
        x.reply().plan_file(w_, x.reader().head(), file, encoding, x.route().path().relative,
                            x.record().keep_alive());
    } catch (const std::bad_alloc&) {
        x.reply().release_file(w_);
        x.record().refuse_keep_alive();
        x.reply().plan_unavailable(w_.date);
    }
    respond();
}

void connection::unresolved(http::status s, std::string_view extra) noexcept {
    auto& x = *x_;
    auto& record = x.record();
    if (s == http::status::bad_request)
        record.refuse_keep_alive(); // a malformed request gets no second try on this stream
    try {
        x.reply().plan_simple(w_, s, extra, record.keep_alive(), record.version(),
                              record.method() != http::method::head);
    } catch (const std::bad_alloc&) {
        record.refuse_keep_alive();
        x.reply().plan_unavailable(w_.date);
    }
    respond();
}

void connection::respond() noexcept {
    auto& x = *x_;
    x.record().answer(http::code(x.reply().code()));
    x.record().add_body(x.reply().body_in_head());
    state_ = state::sending;
    w_.send_deadlines.arm(*this, w_.now_ns);
    x.sender().start(x.reply(), fd_);
}

void connection::sent(std::uint64_t body_bytes) noexcept {
    x_->record().add_body(body_bytes);
    w_.send_deadlines.arm(*this, w_.now_ns);
}

// ---- keep-alive or close -------------------------------------------------------------------

void connection::response_sent() noexcept {
    finish(request_end::complete);
    x_->reply().release_file(w_);
    if (!x_->record().keep_alive() || w_.draining) {
        linger();
        return;
    }
    state_ = state::reading;
    x_->reader().reset();
    if (!x_->empty()) {
        w_.header_deadlines.arm(*this, w_.now_ns);
        parse(); // a pipelined request is already here
        return;
    }
    disengage();
    w_.idle_deadlines.arm(*this, w_.now_ns);
    receive();
}

// Headers are out: the only honest way to end a response that cannot be completed is to close
// (never pad, DESIGN.md §10).
void connection::send_failed(request_end why) noexcept {
    finish(why);
    close_now();
}

void connection::file_released() noexcept {
    x_->reply().release_file(w_);
}

// The one end of every request (request_record::finish): counted, timed and logged once.
void connection::finish(request_end how) noexcept {
    if (!x_)
        return;
    const bool answered = state_ == state::sending;
    x_->record().finish(
        how, answered,
        answered ? x_->reply().partial_ranges() : std::span<const http::byte_range>(), peer_, w_);
}

void connection::linger() noexcept {
    // Half-close, then read and discard until the client closes: closing with unread input would
    // send a reset that can destroy the response before the client reads it (nginx's
    // lingering_close).
    state_ = state::lingering;
    ::shutdown(fd_, SHUT_WR);
    x_->discard();
    w_.linger_deadlines.arm(*this, w_.now_ns);
    receive();
}

void connection::abort(request_end why) noexcept {
    finish(why);
    close_now();
}

void connection::disarm_timer() noexcept {
    connection_deadlines::disarm(*this);
}

void connection::drain() noexcept {
    if (state_ == state::reading && (!x_ || x_->empty()))
        close_now();
}

// Closing (DESIGN.md §11): the request in progress ends, the connection leaves its deadline
// list and every lease queue, nothing new starts from any later completion (every handler checks
// closing(), the sender and the resolver are abandoned), and what is in flight on the socket is
// cancelled. The worker frees the connection when callbacks_ reaches zero.
void connection::close_now() noexcept {
    if (state_ == state::closing)
        return;
    finish(request_end::client_gone); // unless something more precise already ended it
    state_ = state::closing;
    disarm_timer();
    if (x_) {
        x_->sender().abandon();
        x_->route().abandon();
        // A transfer still in flight reads the file's slot: file_released() releases it then.
        if (!x_->sender().reads_file())
            x_->reply().release_file(w_);
    }
    if (busy()) {
        // Every request on this socket, in the SQ or in the kernel: receive, send, poll and the
        // socket hop of a splice (its fd is the socket). A file hop or a read ends by itself.
        io_uring_prep_cancel_fd(&cancel_op_.sqe(), fd_, IORING_ASYNC_CANCEL_ALL);
        w_.ring.push(cancel_op_);
    }
    // The shutdown also ends anything the cancel could not reach (io_uring_prep_cancel(3):
    // -EALREADY for a request already running), and tells the client at once.
    ::shutdown(fd_, SHUT_RDWR);
    w_.schedule_free(*this);
}

} // namespace spliced::server
