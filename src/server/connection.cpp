#include "connection.hpp"

#include "spliced/fs/file_identity.hpp"
#include "spliced/http/conditional.hpp"
#include "spliced/http/mime.hpp"
#include "spliced/http/path.hpp"
#include "worker_state.hpp"

#include <algorithm>
#include <cstring>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
        ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, text, sizeof text);
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
      in_(new char[in_capacity_]), reader_(w.cfg.max_header_bytes),
      opener_(w.ring, w.slots, w.closer, w.root_fd, *this), transfer_(w.ring, w.broker, *this) {}

connection::~connection() {
    release_file();
    if (original_)
        w_.closer.close(original_->slot);
    ::close(fd_);
}

bool connection::busy() const noexcept {
    return recv_op_.in_flight() || send_op_.in_flight() || opener_.busy() || transfer_.busy();
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

void connection::file_opened(result<opened_file> file) noexcept {
    if (state_ == state::closing) {
        if (file)
            w_.closer.close(file->slot);
        return;
    }
    if (original_) {
        sibling_opened(std::move(file));
        return;
    }
    if (!file) {
        int err = file.error().value();
        // A missing index means the directory has nothing to serve: 404, whatever the errno.
        respond_simple(tried_index_ && err != EACCES ? http::status::not_found
                                                     : http::status_from_errno(err));
        return;
    }
    const auto mode = file->stat.stx_mode;
    if (S_ISREG(mode)) {
        if (!w_.cfg.precompressed.empty() && reader_.head().accept_encoding) {
            original_ = *file;
            next_encoding_ = 0;
            try_next_sibling();
            return;
        }
        serve_file(*file);
        return;
    }
    w_.closer.close(file->slot);
    if (!S_ISDIR(mode) || tried_index_) {
        respond_simple(http::status::not_found); // FIFOs, devices, sockets are never served
        return;
    }
    if (!path_.trailing_slash) {
        // The decoded path is re-encoded: a directory name must never inject a header.
        std::string location = "Location: " + http::percent_encode_path(path_.absolute) + "/";
        if (!path_.query.empty() && path_.query.find_first_of("\r\n") == std::string::npos)
            location += "?" + path_.query;
        location += "\r\n";
        respond_simple(http::status::moved_permanently, location);
        return;
    }
    tried_index_ = true;
    path_.relative = path_.relative == "." ? w_.cfg.index : path_.relative + "/" + w_.cfg.index;
    opener_.open(path_.relative);
}

// ---- precompressed siblings ----------------------------------------------------------------

// Opens FILE.br (or the next configured sibling the client accepts); with none left, serves the
// original. The original stays open meanwhile, so its mtime is the one the sibling is held to.
void connection::try_next_sibling() noexcept {
    const auto& accepted = *reader_.head().accept_encoding;
    const auto& siblings = w_.cfg.precompressed;
    while (next_encoding_ < siblings.size()) {
        const auto& [coding, suffix] = siblings[next_encoding_++];
        if (http::accepts_encoding(accepted, coding)) {
            opener_.open(path_.relative + suffix);
            return;
        }
    }
    auto original = *original_;
    original_.reset();
    serve_file(original);
}

void connection::sibling_opened(result<opened_file> sibling) noexcept {
    const auto& original = original_->stat.stx_mtime;
    if (sibling && S_ISREG(sibling->stat.stx_mode) &&
        std::pair(sibling->stat.stx_mtime.tv_sec, sibling->stat.stx_mtime.tv_nsec) >=
            std::pair(original.tv_sec, original.tv_nsec)) {
        w_.closer.close(original_->slot);
        original_.reset();
        serve_file(*sibling, w_.cfg.precompressed[next_encoding_ - 1].first);
        return;
    }
    if (sibling)
        w_.closer.close(sibling->slot); // older than the original, or not a regular file
    try_next_sibling();
}

// ---- head ----------------------------------------------------------------------------------

void connection::serve_file(const opened_file& file, std::string_view encoding) noexcept {
    file_slot_ = file.slot;
    const auto id = fs::identity_of(file.stat);
    // An encoded representation gets its own validator: "<size>-<mtime>-br".
    std::string etag(fs::make_etag(id).view());
    if (!encoding.empty()) {
        etag.pop_back();
        etag.push_back('-');
        etag.append(encoding);
        etag.push_back('"');
    }
    const auto modified = fs::last_modified(id);
    const http::file_facts facts{id.size, etag, id.mtime_sec, http::view(modified),
                                 http::mime_type_for(path_.relative)};
    response_ = http::plan_file_response(reader_.head(), facts, w_.cfg.max_ranges,
                                         w_.new_boundary());
    part_ = 0;
    piece_sent_ = false;
    if (response_.code == http::status::precondition_failed) {
        release_file();
        respond_simple(response_.code);
        return;
    }
    if (response_.code == http::status::range_not_satisfiable) {
        release_file();
        std::string unsatisfied = "Content-Range: bytes */" + std::to_string(id.size) + "\r\n";
        respond_simple(response_.code, unsatisfied);
        return;
    }
    status_code_ = http::code(response_.code);
    std::string extra = w_.cache_headers;
    if (!w_.cfg.precompressed.empty()) {
        // Any file may have an encoded sibling: caches must key on Accept-Encoding.
        extra += "Vary: Accept-Encoding\r\n";
        if (!encoding.empty() && response_.code != http::status::not_modified)
            extra.append("Content-Encoding: ").append(encoding).append("\r\n");
    }
    if (w_.cfg.content_disposition_attachment && response_.code != http::status::not_modified)
        extra += http::content_disposition_attachment(path_.relative);
    http::write_file_head(head_, response_, facts, http::view(w_.date), keep_alive_, version_,
                          extra);
    send_head(method_ == http::method::get && !response_.ranges.empty());
}

void connection::respond_simple(http::status s, std::string_view extra) noexcept {
    status_code_ = http::code(s);
    if (s == http::status::bad_request)
        keep_alive_ = false; // whoever sent a malformed request gets no second try on this stream
    if (s == http::status::service_unavailable)
        extra = "Retry-After: 1\r\n";
    const bool with_body = method_ != http::method::head;
    http::write_simple_response(head_, s, http::view(w_.date), keep_alive_, version_, extra,
                                with_body);
    if (with_body) // the short text body rides with the head: "404 Not Found\n"
        body_sent_ = 3 + 1 + http::reason_phrase(s).size() + 1;
    send_head(false);
}

void connection::send_head(bool more_follows) noexcept {
    state_ = state::sending_head;
    head_more_ = more_follows;
    // MSG_MORE lets the head share a segment with the first body bytes (DESIGN.md §5).
    send_bytes(head_.bytes(), more_follows);
}

void connection::send_bytes(std::string_view bytes, bool more_follows) noexcept {
    outgoing_ = bytes;
    outgoing_more_ = more_follows;
    w_.send_deadlines.arm(*this, w_.now_ns);
    io_uring_prep_send(&send_op_.sqe(), fd_, outgoing_.data(), outgoing_.size(),
                       MSG_NOSIGNAL | (more_follows ? MSG_MORE : 0));
    w_.ring.push(send_op_);
}

void connection::on_send(int res, std::uint32_t) noexcept {
    if (state_ == state::closing)
        return;
    if (res <= 0) {
        close_now();
        return;
    }
    auto sent = static_cast<std::size_t>(res);
    w_.shard.sent_bytes[std::size_t(metrics::tier::head)].add(sent);
    if (state_ == state::sending_body)
        body_sent_ += sent; // multipart pieces are body bytes
    if (sent < outgoing_.size()) {
        send_bytes(outgoing_.substr(sent), outgoing_more_);
        return;
    }
    if (state_ == state::sending_head && !head_more_)
        finish_response();
    else
        send_body();
}

// ---- body ----------------------------------------------------------------------------------

// The body is ranges of the file, with multipart pieces between them: piece 0, range 0, piece 1,
// ..., range n-1, closing piece. Each step starts the next; transfer_done and on_send come back.
void connection::send_body() noexcept {
    state_ = state::sending_body;
    const bool multipart = !response_.pieces.empty();
    if (part_ < response_.ranges.size()) {
        if (multipart && !piece_sent_) {
            piece_sent_ = true;
            send_bytes(response_.pieces[part_], true);
            return;
        }
        const auto& range = response_.ranges[part_];
        transfer_.start(fd_, *file_slot_, range.first, range.length());
        return;
    }
    if (multipart && part_ == response_.ranges.size()) {
        ++part_;
        send_bytes(response_.pieces.back(), false);
        return;
    }
    finish_response();
}

// ---- body ----------------------------------------------------------------------------------

void connection::transfer_progress(std::uint64_t bytes) noexcept {
    w_.shard.sent_bytes[std::size_t(metrics::tier::splice)].add(bytes);
    body_sent_ += bytes;
    w_.send_deadlines.arm(*this, w_.now_ns);
}

void connection::transfer_done(transfer_end end) noexcept {
    if (state_ == state::closing) {
        release_file();
        return;
    }
    if (end == transfer_end::complete) {
        ++part_;
        piece_sent_ = false;
        send_body();
        return;
    }
    // Headers are out: the only honest way to end a body that cannot be completed is to close
    // (never pad, DESIGN.md §10).
    w_.shard.count_request(label_of(method_), status_code_);
    log_request(false);
    release_file();
    close_now();
}

// ---- finish: keep-alive or close -----------------------------------------------------------

void connection::finish_response() noexcept {
    w_.shard.count_request(label_of(method_), status_code_);
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

void connection::begin_request(bool parsed) noexcept {
    head_parsed_ = parsed;
    body_sent_ = 0;
    response_ = {};
}

void connection::log_request(bool completed) noexcept {
    if (!w_.log.enabled())
        return;
    const auto& head = reader_.head();
    std::string ranges;
    if (response_.code == http::status::partial_content) {
        for (const auto& r : response_.ranges) {
            if (!ranges.empty())
                ranges.push_back(',');
            ranges += std::to_string(r.first) + "-" + std::to_string(r.last);
        }
    }
    access_entry e;
    e.remote_addr = peer_;
    e.method = head_parsed_ ? std::string_view(head.method_text) : std::string_view("-");
    e.target = head_parsed_ ? std::string_view(head.target) : std::string_view("-");
    e.version = version_;
    e.status = status_code_;
    e.body_bytes = body_sent_;
    if (head_parsed_) {
        e.referer = head.referer;
        e.user_agent = head.user_agent;
    }
    e.seconds = double(w_.now_ns - request_start_ns_) / 1e9;
    e.range = ranges;
    e.completed = completed;
    try {
        w_.log.record(e, w_.time_local);
    } catch (...) {
        // Out of memory for a log line: the request itself is unaffected.
    }
}

void connection::release_file() noexcept {
    if (file_slot_) {
        w_.closer.close(*file_slot_);
        file_slot_.reset();
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

void connection::abort() noexcept {
    close_now();
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
    transfer_.abandon();
    if (!transfer_.busy())
        release_file();
    if (original_) { // no operation refers to it: only the sibling's open can be in flight
        w_.closer.close(original_->slot);
        original_.reset();
    }
    // Every operation on the socket ends promptly once it is shut down; the worker frees this
    // connection when the last of their CQEs has arrived.
    ::shutdown(fd_, SHUT_RDWR);
    w_.schedule_free(*this);
}

} // namespace spliced::server
