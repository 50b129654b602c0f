#include "body_sender.hpp"

#include "worker_state.hpp"

#include <sys/socket.h>

namespace spliced::server {

body_sender::body_sender(worker_state& w) noexcept
    : w_(w), splice_(w.ring, w.broker, *this, w.cfg.test_refuse_splice), copy_(w.ring, *this) {}

void body_sender::attach(callback_count& owner, send_client& client) noexcept {
    send_op_.count_in(&owner);
    splice_.attach(owner);
    copy_.attach(owner);
    client_ = &client;
}

bool body_sender::busy() const noexcept {
    return send_op_.in_flight() || splice_.busy() || copy_.busy();
}

void body_sender::start(response& r, int socket_fd) noexcept {
    response_ = &r;
    socket_fd_ = socket_fd;
    in_body_ = false;
    abandoned_ = false;
    if (r.has_body() && start_small())
        return;
    // MSG_MORE lets the head share a segment with the first body bytes (DESIGN.md §5).
    send_bytes(r.head(), r.has_body());
}

void body_sender::abandon() noexcept {
    abandoned_ = true;
    splice_.abandon();
    copy_.abandon();
}

// The small tier, where auto picks it: one range of at most auto_small_max bytes that fits a
// small-tier buffer beside the head goes out with the head in a single SEND (copy_transfer reads
// it in right after the head).
bool body_sender::start_small() noexcept {
    const http::byte_range* range = response_->single_range();
    if (w_.cfg.transfer != transfer_mode::automatic || !range ||
        range->length() > w_.cfg.auto_small_max ||
        response_->head().size() + range->length() > w_.cfg.small_buffer_size)
        return false;
    in_body_ = true;
    range_ = *range;
    tier_ = metrics::tier::small;
    response_->next(); // the one segment, sent here
    copy_.start(w_.small_queue, socket_fd_, response_->file()->slot, range->first, range->length(),
                response_->head());
    return true;
}

void body_sender::send_bytes(std::string_view bytes, bool more_follows) noexcept {
    outgoing_ = bytes;
    outgoing_more_ = more_follows;
    io_uring_prep_send(&send_op_.sqe(), socket_fd_, outgoing_.data(), outgoing_.size(),
                       MSG_NOSIGNAL | (more_follows ? MSG_MORE : 0));
    w_.ring.push(send_op_);
}

void body_sender::on_send(int res, std::uint32_t) noexcept {
    if (abandoned_)
        return;
    if (res <= 0) {
        client_->send_failed(request_end::client_gone); // the head, or a multipart piece
        return;
    }
    auto sent = static_cast<std::size_t>(res);
    w_.shard.sent_bytes[std::size_t(metrics::tier::head)].add(sent);
    client_->sent(in_body_ ? sent : 0); // multipart pieces are body bytes
    if (sent < outgoing_.size()) {
        send_bytes(outgoing_.substr(sent), outgoing_more_);
        return;
    }
    if (!in_body_ && !response_->has_body()) {
        client_->response_sent();
        return;
    }
    in_body_ = true;
    next_segment();
}

// Each segment starts when the one before it is out: on_send and transfer_done come back here.
void body_sender::next_segment() noexcept {
    const auto next = response_->next();
    switch (next.what) {
    case response::segment::kind::text:
        send_bytes(next.text, true); // a multipart piece; the closing one ends the body
        return;
    case response::segment::kind::range:
        range_ = next.range;
        start_range();
        return;
    case response::segment::kind::end:
        break;
    }
    client_->response_sent();
}

// The tier for this range: copy when asked for (or, under auto, for a body up to auto_copy_max),
// splice otherwise (transfer_done falls back to copy for a file whose file system refuses splice).
void body_sender::start_range() noexcept {
    if (w_.cfg.transfer == transfer_mode::copy ||
        (w_.cfg.transfer == transfer_mode::automatic && range_.length() <= w_.cfg.auto_copy_max)) {
        start_copy(range_.first, range_.length());
        return;
    }
    tier_ = metrics::tier::splice;
    splice_.start(socket_fd_, response_->file()->slot, range_.first, range_.length());
}

void body_sender::start_copy(std::uint64_t offset, std::uint64_t length) noexcept {
    tier_ = metrics::tier::copy;
    copy_.start(w_.buffer_queue, socket_fd_, response_->file()->slot, offset, length);
}

void body_sender::transfer_progress(std::uint64_t bytes) noexcept {
    w_.shard.sent_bytes[std::size_t(tier_)].add(bytes);
    client_->sent(bytes);
}

void body_sender::head_progress(std::uint64_t bytes) noexcept {
    w_.shard.sent_bytes[std::size_t(metrics::tier::head)].add(bytes);
    client_->sent(0);
}

void body_sender::transfer_done(transfer_end end) noexcept {
    if (abandoned_) {
        if (!reads_file())
            client_->file_released(); // the last operation that read the file has completed
        return;
    }
    switch (end) {
    case transfer_end::complete:
        next_segment();
        return;
    case transfer_end::refused:
        if (w_.cfg.transfer != transfer_mode::automatic)
            break;
        // Nothing of this range has moved yet: the copy tier sends exactly the same bytes.
        w_.shard.transfer_fallbacks[std::size_t(metrics::fallback::splice_refused)].add();
        start_copy(range_.first, range_.length());
        return;
    case transfer_end::no_pipe: {
        // No pipe can be made (descriptors exhausted) and none is left to wait for: the copy
        // tier sends the rest of the range from where the splice tier stopped, whatever
        // --transfer says, rather than keep the client waiting for a pipe that never comes.
        w_.shard.transfer_fallbacks[std::size_t(metrics::fallback::no_pipe)].add();
        const auto at = splice_.position();
        start_copy(at.offset, at.remaining);
        return;
    }
    case transfer_end::client_gone:
        client_->send_failed(request_end::client_gone);
        return;
    case transfer_end::file_shrank:
        client_->send_failed(request_end::file_shrank);
        return;
    case transfer_end::failed:
    case transfer_end::abandoned:
        break;
    }
    client_->send_failed(request_end::error);
}

} // namespace spliced::server
