#pragma once
// One response: its head, ready to send, and its body as segments: the file's ranges, with the
// multipart pieces between them (piece 0, range 0, piece 1, ..., range n-1, closing piece).
// Planning is http's (http/file_response.hpp: conditionals, ranges, multipart layout); this
// class adds what the server knows (date, cache headers, encodings, the file being served) and
// holds the file open until the response ends.
//
// Planning allocates (head text, ranges, pieces) and so may throw std::bad_alloc; the caller then
// answers unavailable(), which needs no memory (DESIGN.md: the data path fails a request with
// 503, never the process).

#include "file_opener.hpp"
#include "spliced/http/date.hpp"
#include "spliced/http/file_response.hpp"
#include "spliced/http/response_head.hpp"

#include <array>
#include <optional>
#include <span>
#include <string_view>

namespace spliced::server {

class response {
  public:
    struct segment {
        enum class kind : std::uint8_t { end, text, range } what = kind::end;
        std::string_view text;  // kind::text: a multipart piece
        http::byte_range range; // kind::range: bytes of the file
    };

    // 200, 206 or 304 for `file` (which the response holds from here on), or 412/416 as a simple
    // response (the file is released then). `path` is the file's normalised path.
    void plan_file(worker_state& w, const http::request_head& req, const opened_file& file,
                   std::string_view encoding, std::string_view path, bool keep_alive);
    // A short response: the head and a one-line text body (none for HEAD or 204).
    void plan_simple(worker_state& w, http::status s, std::string_view extra, bool keep_alive,
                     unsigned version, bool with_body);
    // Out of memory while planning: a ready-made 503 that allocates nothing, closing the
    // connection. Releases nothing: the caller releases the file first.
    void plan_unavailable(const http::http_date& date) noexcept;
    static constexpr std::size_t unavailable_capacity = 160;

    http::status code() const noexcept { return code_; }
    std::string_view head() const noexcept { return head_bytes_; }
    // Bytes of the body that travel inside head(): a simple response's text line.
    std::uint64_t body_in_head() const noexcept { return body_in_head_; }
    // File bytes follow the head (a GET of a non-empty file response).
    bool has_body() const noexcept { return has_body_; }
    // The one range of a body without multipart pieces, if that is what the body is.
    const http::byte_range* single_range() const noexcept;
    // The ranges of a 206, for the access log.
    std::span<const http::byte_range> partial_ranges() const noexcept;

    // The next segment of the body (kind::end once all are handed out).
    segment next() noexcept;

    // The file being served, if any; released once no operation reads it.
    const std::optional<opened_file>& file() const noexcept { return file_; }
    void release_file(worker_state& w) noexcept;

  private:
    static std::string_view repr_digest(worker_state& w, fs::open_file_cache::entry& e,
                                        const http::request_head& req) noexcept;
    http::response_head head_;    // capacity kept across responses: the kernel reads it while sent
    std::string_view head_bytes_; // in head_ or unavailable_
    std::array<char, unavailable_capacity> unavailable_; // plan_unavailable's head
    http::file_response plan_;
    std::optional<opened_file> file_;
    http::status code_ = http::status::ok;
    std::uint64_t body_in_head_ = 0;
    std::size_t step_ = 0; // segments handed out
    bool has_body_ = false;
};

} // namespace spliced::server
