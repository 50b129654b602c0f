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

connection::connection(worker_state& w, int socket_fd) noexcept
    : w_(w), fd_(socket_fd),
      in_capacity_(std::min(initial_receive_buffer, w.cfg.max_header_bytes + 1)),
      in_(new char[in_capacity_]), reader_(w.cfg.max_header_bytes), opener_(w, *this),
      splice_(w.ring, w.broker, *this, w.cfg.test_refuse_splice), copy_(w.ring, *this) {}

connection::~connection() {
    release_file();
    if (original_)
        w_.release(*original_);
    ::close(fd_);
}

bool connection::busy() const noexcept {
    return recv_op_.in_flight() || send_op_.in_flight() || opener_.busy() || splice_.busy() ||
           copy_.busy();
}

void connection::start() noexcept {
    if (w_.log.enabled())
        peer_ = peer_address(fd_);
    w_.header_deadlines.arm(*this, w_.now_ns);
    receive();
}

// ---- receive and parse ---------------------------------------------------------------------

void connection::receive() noexcept {
    const std::size_t limit =
        w_.cfg.max_header_bytes + 1; // one past: lets the reader see "too long"
    if (in_length_ == in_capacity_ && in_capacity_ < limit) {
        // Most heads fit the first buffer; a long one grows it, never past the limit. No receive
        // is in flight here, so the kernel holds no pointer into the old buffer.
        std::size_t grown = std::min(in_capacity_ * 4, limit);
        std::unique_ptr<char[]> bigger(new char[grown]);
        std::memcpy(bigger.get(), in_.get(), in_length_);
        in_ = std::move(bigger);
        in_capacity_ = grown;
    }
    io_uring_prep_recv(&recv_op_.sqe(), fd_, in_.get() + in_length_, in_capacity_ - in_length_, 0);
    w_.ring.push(recv_op_);
}

void connection::on_recv(int res, std::uint32_t) noexcept {
    if (state_ == state::closing)
        return;
    if (res <= 0) {
        close_now(); // the client closed (0) or the socket failed
        return;
    }
    if (state_ == state::lingering) {
        in_length_ = 0; // read and discard until the client closes or the linger time ends
        receive();
        return;
    }
    if (in_length_ == 0)
        w_.header_deadlines.arm(*this, w_.now_ns); // the head's clock starts at its first byte
    in_length_ += static_cast<std::size_t>(res);
    parse();
}

void connection::parse() noexcept {
    auto outcome = reader_.feed(std::string_view(in_.get(), in_length_));
    switch (outcome.result) {
    case http::request_reader::state::need_more:
        receive();
        return;
    case http::request_reader::state::error:
        // The byte stream cannot be trusted past a bad head: answer, then close.
        begin_request(false);
        in_length_ = 0;
        keep_alive_ = false;
        version_ = 11;
        method_ = http::method::other;
        request_start_ns_ = w_.now_ns;
        respond_simple(outcome.error);
        return;
    case http::request_reader::state::done:
        break;
    }
    // Pipelined bytes after this request stay in the buffer for the next one.
    std::memmove(in_.get(), in_.get() + outcome.consumed, in_length_ - outcome.consumed);
    in_length_ -= outcome.consumed;
    begin_request(true);
    const auto& head = reader_.head();
    method_ = head.method;
    version_ = head.version;
    keep_alive_ = head.keep_alive && !w_.draining;
    request_start_ns_ = w_.now_ns;
    handle_request();
}

// ---- resolve and open ----------------------------------------------------------------------

void connection::handle_request() noexcept {
    disarm(timer_hook_);
    if (method_ == http::method::options) {
        status_code_ = http::code(http::status::no_content);
        head_.start(http::status::no_content, http::view(w_.date));
        head_.field("Allow", "GET, HEAD");
        head_.finish(keep_alive_, version_);
        send_head(false);
        return;
    }
    if (method_ == http::method::other) {
        respond_simple(http::status::method_not_allowed, "Allow: GET, HEAD\r\n");
        return;
    }
    auto path = http::normalize_target(reader_.head().target);
    if (!path) {
        respond_simple(http::status::bad_request);
        return;
    }
    path_ = std::move(*path);
    tried_index_ = false;
    state_ = state::opening;
    opener_.open(path_.relative);
}

// ---- finish: keep-alive or close -----------------------------------------------------------

void connection::finish_response() noexcept {
    count_request();
    log_request(true);
    w_.shard.request_duration.observe_ns(w_.now_ns - request_start_ns_);
    release_file();
    if (!keep_alive_ || w_.draining) {
        linger();
        return;
    }
    state_ = state::reading;
    reader_.reset();
    if (in_length_ > 0) {
        w_.header_deadlines.arm(*this, w_.now_ns);
        parse(); // a pipelined request is already here
        return;
    }
    w_.idle_deadlines.arm(*this, w_.now_ns);
    receive();
}

void connection::count_request() noexcept {
    w_.shard.count_request(label_of(method_), status_code_);
}

void connection::begin_request(bool parsed) noexcept {
    head_parsed_ = parsed;
    body_sent_ = 0;
    response_ = {};
}

void connection::release_file() noexcept {
    if (file_) {
        w_.release(*file_);
        file_.reset();
    }
}

void connection::linger() noexcept {
    // Half-close, then read and discard until the client closes: closing with unread input would
    // send a reset that can destroy the response before the client reads it (nginx's
    // lingering_close).
    state_ = state::lingering;
    ::shutdown(fd_, SHUT_WR);
    in_length_ = 0;
    w_.linger_deadlines.arm(*this, w_.now_ns);
    receive();
}

void connection::abort(metrics::aborted why) noexcept {
    count_aborted(why);
    close_now();
}

void connection::count_aborted(metrics::aborted why) noexcept {
    if (state_ == state::sending_head || state_ == state::sending_body)
        w_.shard.responses_aborted[std::size_t(why)].add();
}

void connection::drain() noexcept {
    if (state_ == state::reading && in_length_ == 0)
        close_now();
}

void connection::close_now() noexcept {
    if (state_ == state::closing)
        return;
    state_ = state::closing;
    disarm(timer_hook_);
    splice_.abandon();
    copy_.abandon();
    if (!splice_.busy() && !copy_.busy())
        release_file();
    if (original_) { // no operation refers to it: only the sibling's open can be in flight
        w_.release(*original_);
        original_.reset();
    }
    // Every operation on the socket ends promptly once it is shut down; the worker frees this
    // connection when the last of their CQEs has arrived.
    ::shutdown(fd_, SHUT_RDWR);
    w_.schedule_free(*this);
}

} // namespace spliced::server
