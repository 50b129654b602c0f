#include "response.hpp"

#include "spliced/fs/digest_store.hpp"
#include "spliced/fs/file_identity.hpp"
#include "spliced/http/mime.hpp"
#include "spliced/http/repr_digest.hpp"
#include "worker_state.hpp"

#include <algorithm>
#include <new>
#include <string>

namespace spliced::server {

namespace {

// The only response that needs no memory, for a request that could not get any: written into
// response::unavailable_ around the current date.
constexpr std::string_view unavailable_start = "HTTP/1.1 503 Service Unavailable\r\n"
                                               "Server: spliced\r\n"
                                               "Date: ";
constexpr std::string_view unavailable_end = "\r\nContent-Length: 0\r\n"
                                             "Retry-After: 1\r\n"
                                             "Connection: close\r\n\r\n";
static_assert(unavailable_start.size() + std::tuple_size_v<http::http_date> +
                  unavailable_end.size() <=
              response::unavailable_capacity);

} // namespace

void response::plan_file(worker_state& w, const http::request_head& req, const opened_file& file,
                         std::string_view encoding, std::string_view path, bool keep_alive) {
    file_ = file;
    if (w.cfg.test_fail_allocation)
        throw std::bad_alloc(); // --test-fail-allocation: as if the memory ran out here
    const auto& headers = file.entry->headers; // made once, when the file was opened
    std::string_view etag = headers.tag.view();
    std::string_view mime = headers.mime;
    std::string encoded_etag;
    if (!encoding.empty()) {
        // An encoded representation gets its own validator and the type of the file it encodes
        // (not of FILE.br).
        encoded_etag = fs::etag_for_coding(etag, encoding);
        etag = encoded_etag;
        mime = http::mime_type_for(path);
    }
    const http::file_facts facts{headers.id.size, etag, headers.id.mtime_sec,
                                 http::view(headers.modified), mime};
    // A boundary is only ever needed for a multipart answer to a Range request.
    plan_ = http::plan_file_response(req, facts, w.cfg.max_ranges,
                                     req.range ? w.boundaries.next() : std::string());
    step_ = 0;
    if (plan_.code == http::status::precondition_failed) {
        release_file(w);
        plan_simple(w, plan_.code, {}, keep_alive, req.version, req.method != http::method::head);
        return;
    }
    if (plan_.code == http::status::range_not_satisfiable) {
        release_file(w);
        const std::string unsatisfied =
            "Content-Range: bytes */" + std::to_string(headers.id.size) + "\r\n";
        plan_simple(w, plan_.code, unsatisfied, keep_alive, req.version,
                    req.method != http::method::head);
        return;
    }
    std::string extra = w.cache_headers;
    if (!w.cfg.precompressed.empty()) {
        // Any file may have an encoded sibling: caches must key on Accept-Encoding.
        extra += "Vary: Accept-Encoding\r\n";
        if (!encoding.empty() && plan_.code != http::status::not_modified)
            extra.append("Content-Encoding: ").append(encoding).append("\r\n");
    }
    if (w.cfg.content_disposition_attachment && plan_.code != http::status::not_modified)
        extra += http::content_disposition_attachment(path);
    if (w.digests && plan_.code != http::status::not_modified)
        extra += repr_digest(w, *file.entry, req);
    http::write_file_head(head_, plan_, facts, http::view(w.date), keep_alive, req.version, extra);
    code_ = plan_.code;
    head_bytes_ = head_.bytes();
    body_in_head_ = 0;
    has_body_ = req.method == http::method::get && !plan_.ranges.empty();
}

// The Repr-Digest line of the version being served, if it is ready and the client did not refuse
// sha-256; the first response of a version asks the digest thread for it and goes without.
std::string_view response::repr_digest(worker_state& w, fs::open_file_cache::entry& e,
                                       const http::request_head& req) noexcept {
    if (!http::repr_digest_wanted(req.want_repr_digest))
        return {};
    if (!e.digest)
        e.digest = w.digests->request(e.path, e.headers.id, e.dev);
    return e.digest ? e.digest->field() : std::string_view();
}

void response::plan_simple(worker_state& w, http::status s, std::string_view extra, bool keep_alive,
                           unsigned version, bool with_body) {
    plan_ = {};
    step_ = 0;
    if (s == http::status::service_unavailable)
        extra = "Retry-After: 1\r\n";
    if (s == http::status::no_content) { // OPTIONS: no body, so no Content-Length either
        head_.start(s, http::view(w.date));
        head_.buffer().append(extra);
        head_.finish(keep_alive, version);
        with_body = false;
    } else {
        http::write_simple_response(head_, s, http::view(w.date), keep_alive, version, extra,
                                    with_body);
    }
    code_ = s;
    head_bytes_ = head_.bytes();
    // The short text body rides with the head: "404 Not Found\n".
    body_in_head_ = with_body ? 3 + 1 + http::reason_phrase(s).size() + 1 : 0;
    has_body_ = false;
}

void response::plan_unavailable(const http::http_date& date) noexcept {
    char* out = unavailable_.data();
    out = std::copy(unavailable_start.begin(), unavailable_start.end(), out);
    out = std::copy(date.begin(), date.end(), out);
    out = std::copy(unavailable_end.begin(), unavailable_end.end(), out);
    plan_.ranges.clear(); // keeps its memory: clear() never allocates
    plan_.pieces.clear();
    step_ = 0;
    code_ = http::status::service_unavailable;
    head_bytes_ = std::string_view(unavailable_.data(), std::size_t(out - unavailable_.data()));
    body_in_head_ = 0;
    has_body_ = false;
}

const http::byte_range* response::single_range() const noexcept {
    return plan_.ranges.size() == 1 && plan_.pieces.empty() ? &plan_.ranges.front() : nullptr;
}

std::span<const http::byte_range> response::partial_ranges() const noexcept {
    if (code_ != http::status::partial_content)
        return {};
    return plan_.ranges;
}

response::segment response::next() noexcept {
    const std::size_t ranges = plan_.ranges.size();
    const std::size_t i = step_++;
    if (plan_.pieces.empty()) {
        if (i < ranges)
            return {segment::kind::range, {}, plan_.ranges[i]};
        return {};
    }
    if (i < 2 * ranges) { // piece, range, piece, range, ...
        if (i % 2 == 0)
            return {segment::kind::text, plan_.pieces[i / 2], {}};
        return {segment::kind::range, {}, plan_.ranges[i / 2]};
    }
    if (i == 2 * ranges)
        return {segment::kind::text, plan_.pieces.back(), {}};
    return {};
}

void response::release_file(worker_state& w) noexcept {
    if (file_) {
        w.release(*file_);
        file_.reset();
    }
}

} // namespace spliced::server
