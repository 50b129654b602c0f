// The request half of a connection: receive, parse, route, keep-alive or close. What the
// response is and how it is sent is in connection_response.cpp.
#include "connection.hpp"

#include "spliced/http/path.hpp"
#include "worker_state.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
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

// Receive buffer a connection starts with: room for a typical request head. Idle keep-alive
// connections are the bulk of a busy origin's connections; this is most of what each one costs.
constexpr std::size_t initial_receive_buffer = 1024;

metrics::method_label label_of(http::method m) noexcept {
    switch (m) {
    case http::method::get:
        return metrics::method_label::get;
    case http::method::head:
        return metrics::method_label::head;
    default:
        return metrics::method_label::other;
    }
}

} // namespace

connection::exchange::exchange(worker_state& w) noexcept
    : in_capacity_(std::min(initial_receive_buffer, w.cfg.max_header_bytes + 1)),
      in_(new char[in_capacity_]), reader_(w.cfg.max_header_bytes), opener_(w, *this),
      splice_(w.ring, w.broker, *this, w.cfg.test_refuse_splice), copy_(w.ring, *this) {}

void connection::exchange::make_room(std::size_t need, std::size_t limit) {
    if (need <= in_capacity_ || in_capacity_ >= limit)
        return;
    const std::size_t grown = std::min(std::max(in_capacity_ * 4, need), limit);
    std::unique_ptr<char[]> bigger(new char[grown]);
    std::memcpy(bigger.get(), in_.get(), in_length_);
    in_ = std::move(bigger);
    in_capacity_ = grown;
}

bool connection::exchange::busy() const noexcept {
    return send_op_.in_flight() || opener_.busy() || splice_.busy() || copy_.busy();
}

void connection::exchange::attach(callback_count& owner) noexcept {
    send_op_.count_in(&owner);
    opener_.attach(owner);
    splice_.attach(owner);
    copy_.attach(owner);
}

connection::connection(worker_state& w, int socket_fd) noexcept : w_(w), fd_(socket_fd) {
    recv_op_.count_in(&callbacks_);
    cancel_op_.count_in(&callbacks_);
}

// Only from the worker, once nothing can call back (callbacks_ asserts it).
connection::~connection() {
    if (x_) {
        release_file();
        if (x_->original_)
            w_.release(*x_->original_);
        x_->original_.reset();
        x_->in_length_ = 0;
        x_->reader_.reset(); // it may hold half a request
        w_.exchanges.give(std::move(x_));
    }
    ::close(fd_);
}

void connection::start() noexcept {
    if (w_.log.enabled())
        peer_ = peer_address(fd_);
    w_.header_deadlines.arm(*this, w_.now_ns);
    receive();
}

connection::exchange& connection::engage() noexcept {
    if (!x_) {
        x_ = w_.exchanges.take(w_);
        x_->owner_ = this;
        x_->attach(callbacks_);
    }
    return *x_;
}

// Idle again: the exchange goes back to the worker's spares. Nothing of it may be in use.
void connection::disengage() noexcept {
    if (x_ && x_->in_length_ == 0 && !x_->busy() && !x_->file_ && !x_->original_)
        w_.exchanges.give(std::move(x_));
}

// ---- receive and parse ---------------------------------------------------------------------

// With nothing buffered, the receive takes one of the worker's provided buffers when data
// arrives (an idle connection holds no buffer of its own); bytes of an unfinished head are
// appended to the exchange's buffer directly, so that none can arrive without room.
void connection::receive() noexcept {
    auto& sqe = recv_op_.sqe();
    if (w_.recv_buffers.enabled() && !recv_into_exchange_ && (!x_ || x_->in_length_ == 0)) {
        io_uring_prep_recv(&sqe, fd_, nullptr, 0, 0);
        w_.recv_buffers.select(sqe);
        w_.ring.push(recv_op_);
        return;
    }
    recv_into_exchange_ = false;
    auto& x = engage();
    // Most heads fit the first buffer; a long one grows it, never past one byte beyond the limit
    // (which lets the reader see "too long"). No receive is in flight here.
    x.make_room(x.in_length_ + 1, w_.cfg.max_header_bytes + 1);
    io_uring_prep_recv(&sqe, fd_, x.in_.get() + x.in_length_, x.in_capacity_ - x.in_length_, 0);
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
            x_->in_length_ = 0; // read and discard until the client closes or the linger ends
        receive();
        return;
    }
    auto& x = engage();
    if (x.in_length_ == 0)
        w_.header_deadlines.arm(*this, w_.now_ns); // the head's clock starts at its first byte
    const auto length = static_cast<std::size_t>(res);
    if (uring::provided_buffers::carries_buffer(flags)) {
        // Only an empty exchange buffer receives this way, and a provided buffer is never larger
        // than the head limit (config::recv_buffer_bytes): grow to fit, then copy.
        x.make_room(length, w_.cfg.max_header_bytes + 1);
        std::memcpy(x.in_.get(), w_.recv_buffers.data(flags, length).data(), length);
    }
    x.in_length_ += length;
    parse();
}

void connection::parse() noexcept {
    auto outcome = x_->reader_.feed(std::string_view(x_->in_.get(), x_->in_length_));
    switch (outcome.result) {
    case http::request_reader::state::need_more:
        receive();
        return;
    case http::request_reader::state::error:
        // The byte stream cannot be trusted past a bad head: answer, then close.
        begin_request(false);
        x_->in_length_ = 0;
        x_->keep_alive_ = false;
        x_->version_ = 11;
        x_->method_ = http::method::other;
        x_->request_start_ns_ = w_.now_ns;
        respond_simple(outcome.error);
        return;
    case http::request_reader::state::done:
        break;
    }
    // Pipelined bytes after this request stay in the buffer for the next one.
    std::memmove(x_->in_.get(), x_->in_.get() + outcome.consumed,
                 x_->in_length_ - outcome.consumed);
    x_->in_length_ -= outcome.consumed;
    begin_request(true);
    const auto& head = x_->reader_.head();
    x_->method_ = head.method;
    x_->version_ = head.version;
    x_->keep_alive_ = head.keep_alive && !w_.draining;
    x_->request_start_ns_ = w_.now_ns;
    handle_request();
}

// ---- resolve and open ----------------------------------------------------------------------

void connection::handle_request() noexcept {
    disarm_timer();
    if (x_->method_ == http::method::options) {
        x_->status_code_ = http::code(http::status::no_content);
        x_->head_.start(http::status::no_content, http::view(w_.date));
        x_->head_.field("Allow", "GET, HEAD");
        x_->head_.finish(x_->keep_alive_, x_->version_);
        send_head(false);
        return;
    }
    if (x_->method_ == http::method::other) {
        respond_simple(http::status::method_not_allowed, "Allow: GET, HEAD\r\n");
        return;
    }
    auto path = http::normalize_target(x_->reader_.head().target);
    if (!path) {
        respond_simple(http::status::bad_request);
        return;
    }
    x_->path_ = std::move(*path);
    x_->tried_index_ = false;
    state_ = state::opening;
    x_->opener_.open(x_->path_.relative);
}

// ---- finish: keep-alive or close -----------------------------------------------------------

void connection::finish_response() noexcept {
    finish(request_end::complete);
    release_file();
    if (!x_->keep_alive_ || w_.draining) {
        linger();
        return;
    }
    state_ = state::reading;
    x_->reader_.reset();
    if (x_->in_length_ > 0) {
        w_.header_deadlines.arm(*this, w_.now_ns);
        parse(); // a pipelined request is already here
        return;
    }
    disengage();
    w_.idle_deadlines.arm(*this, w_.now_ns);
    receive();
}

void connection::begin_request(bool parsed) noexcept {
    x_->in_request_ = true;
    x_->head_parsed_ = parsed;
    x_->status_code_ = 0;
    x_->body_sent_ = 0;
    x_->response_ = {};
}

namespace {

metrics::aborted aborted_for(request_end how) noexcept {
    switch (how) {
    case request_end::file_shrank:
        return metrics::aborted::file_shrank;
    case request_end::timeout:
        return metrics::aborted::timeout;
    case request_end::error:
        return metrics::aborted::error;
    case request_end::shutdown:
        return metrics::aborted::shutdown;
    case request_end::complete:
    case request_end::client_gone:
        break;
    }
    return metrics::aborted::client_gone;
}

// The status counted and logged for a request that ended before a response was chosen (nginx's
// convention for 499: the client closed the request).
unsigned unanswered_status(request_end how) noexcept {
    switch (how) {
    case request_end::timeout:
        return 408;
    case request_end::shutdown:
        return 503;
    case request_end::client_gone:
        return 499;
    default:
        return 500;
    }
}

} // namespace

// The one end of every request (DESIGN.md §12): whatever ended it, it is counted, timed and
// logged here exactly once.
void connection::finish(request_end how) noexcept {
    if (!x_ || !x_->in_request_)
        return;
    x_->in_request_ = false;
    const bool completed = how == request_end::complete;
    if (!completed) {
        if (state_ == state::sending_head || state_ == state::sending_body)
            w_.shard.responses_aborted[std::size_t(aborted_for(how))].add();
        if (x_->status_code_ == 0)
            x_->status_code_ = unanswered_status(how);
    }
    w_.shard.count_request(label_of(x_->method_), x_->status_code_);
    w_.shard.request_duration.observe_ns(w_.now_ns - x_->request_start_ns_);
    log_request(completed);
}

void connection::release_file() noexcept {
    if (x_->file_) {
        w_.release(*x_->file_);
        x_->file_.reset();
    }
}

void connection::linger() noexcept {
    // Half-close, then read and discard until the client closes: closing with unread input would
    // send a reset that can destroy the response before the client reads it (nginx's
    // lingering_close).
    state_ = state::lingering;
    ::shutdown(fd_, SHUT_WR);
    x_->in_length_ = 0;
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
    if (state_ == state::reading && (!x_ || x_->in_length_ == 0))
        close_now();
}

// Closing (DESIGN.md §11): the request in progress ends, the connection leaves its deadline
// list and every lease queue, nothing new starts from any later completion (every handler checks
// closing(), the transfers and the opener are abandoned), and what is in flight on the socket is
// cancelled. The worker frees the connection when callbacks_ reaches zero.
void connection::close_now() noexcept {
    if (state_ == state::closing)
        return;
    finish(request_end::client_gone); // unless something more precise already ended it
    state_ = state::closing;
    disarm_timer();
    if (x_) {
        x_->splice_.abandon();
        x_->copy_.abandon();
        x_->opener_.abandon();
        // A transfer still in flight reads the file's slot: it is released by transfer_done.
        if (!x_->splice_.busy() && !x_->copy_.busy())
            release_file();
        if (x_->original_) { // no operation refers to it: only the sibling's open can be in flight
            w_.release(*x_->original_);
            x_->original_.reset();
        }
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
