#include "resolver.hpp"

#include "spliced/http/conditional.hpp"
#include "spliced/http/secure_link.hpp"
#include "worker_state.hpp"

#include <sys/stat.h>

namespace spliced::server {

void resolver::attach(callback_count& owner, resolve_client& client) noexcept {
    opener_.attach(owner);
    client_ = &client;
}

void resolver::resolve(const http::request_head& head) noexcept {
    abandoned_ = false;
    head_ = &head;
    if (head.method == http::method::options) {
        client_->unresolved(http::status::no_content, "Allow: GET, HEAD\r\n");
        return;
    }
    if (head.method == http::method::other) {
        client_->unresolved(http::status::method_not_allowed, "Allow: GET, HEAD\r\n");
        return;
    }
    try {
        auto path = http::normalize_target(head.target);
        if (!path) {
            give_up(http::status::bad_request);
            return;
        }
        path_ = std::move(*path);
    } catch (const std::bad_alloc&) {
        give_up(http::status::service_unavailable);
        return;
    }
    if (path_.hidden && !w_.cfg.serve_hidden) {
        give_up(http::status::not_found); // never 403: that would confirm the file exists
        return;
    }
    if (!w_.cfg.secure_link_prefix.empty() && !signed_link_holds())
        return;
    tried_index_ = false;
    open();
}

// Under --secure-link-prefix, the request's link must be signed and unexpired: 403 and 410
// otherwise (counted). The normalized path is what is signed, so another file's path in any
// encoding cannot carry this one's signature. False when the request was answered.
bool resolver::signed_link_holds() noexcept {
    const auto& cfg = w_.cfg;
    if (!http::under_prefix(cfg.secure_link_prefix, path_.absolute))
        return true;
    http::link_verdict verdict;
    try {
        verdict =
            http::check_link(cfg.secure_link_secret, path_.absolute, path_.query, w_.date_second);
    } catch (const std::bad_alloc&) {
        give_up(http::status::service_unavailable);
        return false;
    }
    if (verdict == http::link_verdict::valid)
        return true;
    const bool expired = verdict == http::link_verdict::expired;
    w_.shard
        .secure_link_refused[std::size_t(expired ? metrics::link_refusal::expired
                                                 : metrics::link_refusal::signature)]
        .add();
    give_up(expired ? http::status::gone : http::status::forbidden);
    return false;
}

// Opens path_.relative + suffix. Out of memory for the path: 503, like every allocation that
// fails on the data path.
void resolver::open(std::string_view suffix) noexcept {
    std::string relative;
    try {
        relative.reserve(path_.relative.size() + suffix.size());
        relative.append(path_.relative).append(suffix);
    } catch (const std::bad_alloc&) {
        if (original_) {
            w_.release(*original_);
            original_.reset();
        }
        give_up(http::status::service_unavailable);
        return;
    }
    opener_.open(std::move(relative));
}

void resolver::abandon() noexcept {
    abandoned_ = true;
    opener_.abandon();
    if (original_) { // no operation refers to it: only a sibling's open can be in flight
        w_.release(*original_);
        original_.reset();
    }
}

void resolver::file_opened(result<opened_file> file) noexcept {
    if (abandoned_) {
        if (file)
            w_.release(*file);
        return;
    }
    if (original_) {
        sibling_opened(std::move(file));
        return;
    }
    if (!file) {
        int err = file.error().value();
        // A missing index means the directory has nothing to serve: 404, whatever the errno.
        give_up(tried_index_ && err != EACCES ? http::status::not_found
                                              : http::status_from_errno(err));
        return;
    }
    const auto mode = file->mode;
    if (S_ISREG(mode) && path_.trailing_slash && !tried_index_) {
        // "/a.txt/", "/a.txt/.", "/a.txt//": a file has nothing below it. Serving it would give
        // one file many URLs (for caches) and let a rule on a path prefix be dodged.
        w_.release(*file);
        give_up(http::status::not_found);
        return;
    }
    if (S_ISREG(mode)) {
        // A range of encoded bytes is what RFC 9110 allows and what no downloader can use: a
        // Range request gets the file itself unless --precompressed-ranges encoded.
        const bool ranged = head_->range && !w_.cfg.precompressed_ranges_encoded;
        if (!w_.cfg.precompressed.empty() && head_->accept_encoding && !ranged) {
            original_ = *file;
            next_encoding_ = 0;
            try_next_sibling();
            return;
        }
        client_->resolved(*file, {});
        return;
    }
    w_.release(*file);
    if (!S_ISDIR(mode) || tried_index_) {
        give_up(http::status::not_found); // FIFOs, devices, sockets are never served
        return;
    }
    directory_opened();
}

// A directory named without its trailing slash is redirected to DIR/; one named with it serves
// its index file.
void resolver::directory_opened() noexcept {
    if (!path_.trailing_slash) {
        try {
            // The decoded path is re-encoded: a directory name must never inject a header.
            location_ = "Location: " + http::percent_encode_path(path_.absolute) + "/";
            if (!path_.query.empty() && path_.query.find_first_of("\r\n") == std::string::npos)
                location_ += "?" + path_.query;
            location_ += "\r\n";
        } catch (const std::bad_alloc&) {
            give_up(http::status::service_unavailable);
            return;
        }
        client_->unresolved(http::status::moved_permanently, location_);
        return;
    }
    tried_index_ = true;
    try {
        path_.relative = path_.relative == "." ? w_.cfg.index : path_.relative + "/" + w_.cfg.index;
    } catch (const std::bad_alloc&) {
        give_up(http::status::service_unavailable);
        return;
    }
    open();
}

// Opens FILE.br (or the next configured sibling the client accepts); with none left, serves the
// original. The original stays open meanwhile, so its mtime is the one the sibling is held to.
void resolver::try_next_sibling() noexcept {
    const auto& accepted = *head_->accept_encoding;
    const auto& siblings = w_.cfg.precompressed;
    while (next_encoding_ < siblings.size()) {
        const auto& [coding, suffix] = siblings[next_encoding_++];
        if (http::accepts_encoding(accepted, coding)) {
            open(suffix);
            return;
        }
    }
    auto original = *original_;
    original_.reset();
    client_->resolved(original, {});
}

void resolver::sibling_opened(result<opened_file> sibling) noexcept {
    const auto& original = original_->entry->headers.id;
    if (sibling && sibling->entry &&
        std::pair(sibling->entry->headers.id.mtime_sec, sibling->entry->headers.id.mtime_nsec) >=
            std::pair(original.mtime_sec, original.mtime_nsec)) {
        w_.release(*original_);
        original_.reset();
        client_->resolved(*sibling, w_.cfg.precompressed[next_encoding_ - 1].first);
        return;
    }
    if (sibling)
        w_.release(*sibling); // older than the original, or not a regular file
    try_next_sibling();
}

} // namespace spliced::server
