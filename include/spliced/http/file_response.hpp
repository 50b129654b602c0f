#pragma once
// Deciding a file's response from the request and the file's validators: conditionals, ranges,
// multipart/byteranges layout. Bytes of the body are described, never read: the server moves
// `ranges` from the file, with `pieces` of text between them.

#include "spliced/http/byte_range.hpp"
#include "spliced/http/request_reader.hpp"
#include "spliced/http/response_head.hpp"

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace spliced::http {

struct file_facts {
    std::uint64_t size = 0;
    std::string_view etag;          // strong, quoted
    std::int64_t last_modified = 0; // seconds
    std::string_view last_modified_text;
    std::string_view content_type;
};

struct file_response {
    status code = status::ok;
    // File ranges that make up the body, in order (empty: no file bytes).
    std::vector<byte_range> ranges;
    // multipart/byteranges only: pieces[i] goes before ranges[i], pieces.back() after the last.
    std::vector<std::string> pieces;
    std::string boundary; // set for multipart
    std::uint64_t content_length = 0;
};

// "Content-Disposition: attachment; filename*=UTF-8''<name>\r\n" for the last segment of `path`,
// percent-encoded per RFC 8187 so that any byte of a file name is safe in the header.
std::string content_disposition_attachment(std::string_view path);

// Fresh multipart boundaries: 20 random hex digits (80 bits) each, which no part header contains
// by chance. One per worker; not thread-safe.
class boundary_generator {
  public:
    boundary_generator();
    std::string next();

  private:
    std::mt19937_64 rng_;
};

// `boundary` is used only if the answer is multipart; pass a fresh random token each time.
file_response plan_file_response(const request_head& req, const file_facts& file,
                                 unsigned max_ranges, std::string_view boundary);

// The head for a 200, 206 or 304 `r` (412 and 416 are short error responses: see
// write_simple_response). `extra` holds ready-made header lines.
void write_file_head(response_head& out, const file_response& r, const file_facts& file,
                     std::string_view date, bool keep_alive, unsigned version,
                     std::string_view extra = {});

} // namespace spliced::http
