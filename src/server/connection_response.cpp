// The response half of a connection: what the opened file (or error) becomes, and how its head
// and body reach the socket. The request half (receive, parse, keep-alive, close) is in
// connection.cpp.
#include "connection.hpp"
#include "spliced/fs/file_identity.hpp"
#include "spliced/http/conditional.hpp"
#include "spliced/http/mime.hpp"
#include "worker_state.hpp"

#include <string>
#include <sys/stat.h>

namespace spliced::server {

// ---- the opened file ------------------------------------------------------------------------

void connection::file_opened(result<opened_file> file) noexcept {
    if (state_ == state::closing) {
        if (file)
            w_.release(*file);
        return;
    }
    if (x_->original_) {
        sibling_opened(std::move(file));
        return;
    }
    if (!file) {
        int err = file.error().value();
        // A missing index means the directory has nothing to serve: 404, whatever the errno.
        respond_simple(x_->tried_index_ && err != EACCES ? http::status::not_found
                                                         : http::status_from_errno(err));
        return;
    }
    const auto mode = file->mode;
    if (S_ISREG(mode)) {
        if (!w_.cfg.precompressed.empty() && x_->reader_.head().accept_encoding) {
            x_->original_ = *file;
            x_->next_encoding_ = 0;
            try_next_sibling();
            return;
        }
        serve_file(*file);
        return;
    }
    w_.release(*file);
    if (!S_ISDIR(mode) || x_->tried_index_) {
        respond_simple(http::status::not_found); // FIFOs, devices, sockets are never served
        return;
    }
    if (!x_->path_.trailing_slash) {
        // The decoded path is re-encoded: a directory name must never inject a header.
        std::string location = "Location: " + http::percent_encode_path(x_->path_.absolute) + "/";
        if (!x_->path_.query.empty() && x_->path_.query.find_first_of("\r\n") == std::string::npos)
            location += "?" + x_->path_.query;
        location += "\r\n";
        respond_simple(http::status::moved_permanently, location);
        return;
    }
    x_->tried_index_ = true;
    x_->path_.relative =
        x_->path_.relative == "." ? w_.cfg.index : x_->path_.relative + "/" + w_.cfg.index;
    x_->opener_.open(x_->path_.relative);
}

// ---- precompressed siblings ----------------------------------------------------------------

// Opens FILE.br (or the next configured sibling the client accepts); with none left, serves the
// original. The original stays open meanwhile, so its mtime is the one the sibling is held to.
void connection::try_next_sibling() noexcept {
    const auto& accepted = *x_->reader_.head().accept_encoding;
    const auto& siblings = w_.cfg.precompressed;
    while (x_->next_encoding_ < siblings.size()) {
        const auto& [coding, suffix] = siblings[x_->next_encoding_++];
        if (http::accepts_encoding(accepted, coding)) {
            x_->opener_.open(x_->path_.relative + suffix);
            return;
        }
    }
    auto original = *x_->original_;
    x_->original_.reset();
    serve_file(original);
}

void connection::sibling_opened(result<opened_file> sibling) noexcept {
    const auto& original = x_->original_->entry->headers.id;
    if (sibling && sibling->entry &&
        std::pair(sibling->entry->headers.id.mtime_sec, sibling->entry->headers.id.mtime_nsec) >=
            std::pair(original.mtime_sec, original.mtime_nsec)) {
        w_.release(*x_->original_);
        x_->original_.reset();
        serve_file(*sibling, w_.cfg.precompressed[x_->next_encoding_ - 1].first);
        return;
    }
    if (sibling)
        w_.release(*sibling); // older than the original, or not a regular file
    try_next_sibling();
}

// ---- head ----------------------------------------------------------------------------------

void connection::serve_file(const opened_file& file, std::string_view encoding) noexcept {
    x_->file_ = file;
    const auto& headers = file.entry->headers; // made once, when the file was opened
    const auto& id = headers.id;
    std::string_view etag = headers.tag.view();
    std::string_view mime = headers.mime;
    std::string encoded_etag;
    if (!encoding.empty()) {
        // An encoded representation gets its own validator, "<size>-<mtime>-br", and the type of
        // the file it encodes (not of FILE.br).
        encoded_etag.assign(etag.substr(0, etag.size() - 1));
        encoded_etag.push_back('-');
        encoded_etag.append(encoding);
        encoded_etag.push_back('"');
        etag = encoded_etag;
        mime = http::mime_type_for(x_->path_.relative);
    }
    const http::file_facts facts{id.size, etag, id.mtime_sec, http::view(headers.modified), mime};
    // A boundary is only ever needed for a multipart answer to a Range request.
    const std::string boundary = x_->reader_.head().range ? w_.new_boundary() : std::string();
    x_->response_ =
        http::plan_file_response(x_->reader_.head(), facts, w_.cfg.max_ranges, boundary);
    x_->part_ = 0;
    x_->piece_sent_ = false;
    if (x_->response_.code == http::status::precondition_failed) {
        release_file();
        respond_simple(x_->response_.code);
        return;
    }
    if (x_->response_.code == http::status::range_not_satisfiable) {
        release_file();
        std::string unsatisfied = "Content-Range: bytes */" + std::to_string(id.size) + "\r\n";
        respond_simple(x_->response_.code, unsatisfied);
        return;
    }
    x_->status_code_ = http::code(x_->response_.code);
    std::string extra = w_.cache_headers;
    if (!w_.cfg.precompressed.empty()) {
        // Any file may have an encoded sibling: caches must key on Accept-Encoding.
        extra += "Vary: Accept-Encoding\r\n";
        if (!encoding.empty() && x_->response_.code != http::status::not_modified)
            extra.append("Content-Encoding: ").append(encoding).append("\r\n");
    }
    if (w_.cfg.content_disposition_attachment && x_->response_.code != http::status::not_modified)
        extra += http::content_disposition_attachment(x_->path_.relative);
    http::write_file_head(x_->head_, x_->response_, facts, http::view(w_.date), x_->keep_alive_,
                          x_->version_, extra);
    const bool body = x_->method_ == http::method::get && !x_->response_.ranges.empty();
    if (!body || !start_small())
        send_head(body);
}

// The small tier, where auto picks it: one range of at most auto_small_max bytes that fits a
// small-tier buffer beside the head goes out with the head in a single SEND (copy_transfer reads
// it in right after the head).
bool connection::start_small() noexcept {
    if (w_.cfg.transfer != transfer_mode::automatic || x_->response_.ranges.size() != 1 ||
        !x_->response_.pieces.empty())
        return false;
    const auto& range = x_->response_.ranges.front();
    if (range.length() > w_.cfg.auto_small_max ||
        x_->head_.bytes().size() + range.length() > w_.cfg.small_buffer_size)
        return false;
    state_ = state::sending_body;
    x_->tier_ = metrics::tier::small;
    w_.send_deadlines.arm(*this, w_.now_ns);
    x_->copy_.start(w_.small_queue, fd_, x_->file_->slot, range.first, range.length(),
                    x_->head_.bytes());
    return true;
}

void connection::respond_simple(http::status s, std::string_view extra) noexcept {
    x_->status_code_ = http::code(s);
    if (s == http::status::bad_request)
        x_->keep_alive_ =
            false; // whoever sent a malformed request gets no second try on this stream
    if (s == http::status::service_unavailable)
        extra = "Retry-After: 1\r\n";
    const bool with_body = x_->method_ != http::method::head;
    http::write_simple_response(x_->head_, s, http::view(w_.date), x_->keep_alive_, x_->version_,
                                extra, with_body);
    if (with_body) // the short text body rides with the head: "404 Not Found\n"
        x_->body_sent_ = 3 + 1 + http::reason_phrase(s).size() + 1;
    send_head(false);
}

void connection::send_head(bool more_follows) noexcept {
    state_ = state::sending_head;
    x_->head_more_ = more_follows;
    // MSG_MORE lets the head share a segment with the first body bytes (DESIGN.md §5).
    send_bytes(x_->head_.bytes(), more_follows);
}

void connection::send_bytes(std::string_view bytes, bool more_follows) noexcept {
    x_->outgoing_ = bytes;
    x_->outgoing_more_ = more_follows;
    w_.send_deadlines.arm(*this, w_.now_ns);
    io_uring_prep_send(&x_->send_op_.sqe(), fd_, x_->outgoing_.data(), x_->outgoing_.size(),
                       MSG_NOSIGNAL | (more_follows ? MSG_MORE : 0));
    w_.ring.push(x_->send_op_);
}

void connection::on_send(int res, std::uint32_t) noexcept {
    if (state_ == state::closing)
        return;
    if (res <= 0) {
        finish(request_end::client_gone); // the head, or a multipart piece, could not be sent
        close_now();
        return;
    }
    auto sent = static_cast<std::size_t>(res);
    w_.shard.sent_bytes[std::size_t(metrics::tier::head)].add(sent);
    if (state_ == state::sending_body)
        x_->body_sent_ += sent; // multipart pieces are body bytes
    if (sent < x_->outgoing_.size()) {
        send_bytes(x_->outgoing_.substr(sent), x_->outgoing_more_);
        return;
    }
    if (state_ == state::sending_head && !x_->head_more_)
        finish_response();
    else
        send_body();
}

// ---- body ----------------------------------------------------------------------------------

// The body is ranges of the file, with multipart pieces between them: piece 0, range 0, piece 1,
// ..., range n-1, closing piece. Each step starts the next; transfer_done and on_send come back.
void connection::send_body() noexcept {
    state_ = state::sending_body;
    const bool multipart = !x_->response_.pieces.empty();
    if (x_->part_ < x_->response_.ranges.size()) {
        if (multipart && !x_->piece_sent_) {
            x_->piece_sent_ = true;
            send_bytes(x_->response_.pieces[x_->part_], true);
            return;
        }
        const auto& range = x_->response_.ranges[x_->part_];
        start_range(range);
        return;
    }
    if (multipart && x_->part_ == x_->response_.ranges.size()) {
        ++x_->part_;
        send_bytes(x_->response_.pieces.back(), false);
        return;
    }
    finish_response();
}

// The tier for this range: copy when asked for (or, under auto, for a body up to auto_copy_max),
// splice otherwise (transfer_done falls back to copy for a file whose file system refuses splice).
void connection::start_range(const http::byte_range& range) noexcept {
    if (w_.cfg.transfer == transfer_mode::copy ||
        (w_.cfg.transfer == transfer_mode::automatic && range.length() <= w_.cfg.auto_copy_max)) {
        start_copy(range.first, range.length());
    } else {
        x_->tier_ = metrics::tier::splice;
        x_->splice_.start(fd_, x_->file_->slot, range.first, range.length());
    }
}

void connection::start_copy(std::uint64_t offset, std::uint64_t length) noexcept {
    x_->tier_ = metrics::tier::copy;
    x_->copy_.start(w_.buffer_queue, fd_, x_->file_->slot, offset, length);
}

void connection::transfer_progress(std::uint64_t bytes) noexcept {
    w_.shard.sent_bytes[std::size_t(x_->tier_)].add(bytes);
    x_->body_sent_ += bytes;
    w_.send_deadlines.arm(*this, w_.now_ns);
}

void connection::head_progress(std::uint64_t bytes) noexcept {
    w_.shard.sent_bytes[std::size_t(metrics::tier::head)].add(bytes);
    w_.send_deadlines.arm(*this, w_.now_ns);
}

void connection::transfer_done(transfer_end end) noexcept {
    if (state_ == state::closing) {
        release_file(); // the last operation that read the file's slot has completed
        return;
    }
    if (end == transfer_end::refused && w_.cfg.transfer == transfer_mode::automatic) {
        // Nothing of this range has moved yet: the copy tier sends exactly the same bytes.
        w_.shard.transfer_fallbacks[std::size_t(metrics::fallback::splice_refused)].add();
        const auto& range = x_->response_.ranges[x_->part_];
        start_copy(range.first, range.length());
        return;
    }
    if (end == transfer_end::no_pipe) {
        // No pipe can be made (descriptors exhausted) and none is left to wait for: the copy
        // tier sends the rest of the range from where the splice tier stopped, whatever
        // --transfer says, rather than keep the client waiting for a pipe that never comes.
        w_.shard.transfer_fallbacks[std::size_t(metrics::fallback::no_pipe)].add();
        const auto at = x_->splice_.position();
        start_copy(at.offset, at.remaining);
        return;
    }
    if (end == transfer_end::complete) {
        ++x_->part_;
        x_->piece_sent_ = false;
        send_body();
        return;
    }
    // Headers are out: the only honest way to end a body that cannot be completed is to close
    // (never pad, DESIGN.md §10).
    finish(end == transfer_end::client_gone   ? request_end::client_gone
           : end == transfer_end::file_shrank ? request_end::file_shrank
                                              : request_end::error);
    release_file();
    close_now();
}

// ---- access log ----------------------------------------------------------------------------

void connection::log_request(bool completed) noexcept {
    if (!w_.log.enabled())
        return;
    const auto& head = x_->reader_.head();
    std::string ranges;
    if (x_->response_.code == http::status::partial_content) {
        for (const auto& r : x_->response_.ranges) {
            if (!ranges.empty())
                ranges.push_back(',');
            ranges += std::to_string(r.first) + "-" + std::to_string(r.last);
        }
    }
    access_entry e;
    e.remote_addr = peer_;
    e.method = x_->head_parsed_ ? std::string_view(head.method_text) : std::string_view("-");
    e.target = x_->head_parsed_ ? std::string_view(head.target) : std::string_view("-");
    e.version = x_->version_;
    e.status = x_->status_code_;
    e.body_bytes = x_->body_sent_;
    if (x_->head_parsed_) {
        e.referer = head.referer;
        e.user_agent = head.user_agent;
    }
    e.seconds = double(w_.now_ns - x_->request_start_ns_) / 1e9;
    e.range = ranges;
    e.completed = completed;
    try {
        w_.log.record(e, w_.time_local);
    } catch (...) {
        // Out of memory for a log line: the request itself is unaffected.
    }
}

} // namespace spliced::server
