#pragma once
// The request head a download client sends (RFC 9110 §13.1 preconditions, §14.2 Range,
// RFC 9530 §4 Want-Repr-Digest). Written by hand: a GET head is a handful of fields, and the
// values come from a parsed URL and from the server's own validators.

#include "spliced/http/byte_range.hpp"

#include <optional>
#include <string>

namespace spliced::http {

struct client_request {
    bool head = false;                   // HEAD instead of GET
    std::string target;                  // origin-form
    std::string authority;               // Host
    std::optional<byte_range> range;     // "Range: bytes=first-last"
    std::optional<std::string> if_match; // the pinned strong ETag: 412 if the file changed
    std::optional<std::string> if_range; // the pinned ETag or date: 200 (whole) if it changed
    std::optional<std::string> if_unmodified_since; // when only a strong date is pinned
    std::optional<std::string> if_none_match;       // --if-changed
    std::optional<std::string> if_modified_since;   // --if-changed without an ETag
    bool want_repr_digest = false;                  // "Want-Repr-Digest: sha-256=10"
    std::string user_agent;
};

// The whole head, CRLF-terminated. Values that would contain CR, LF or NUL are dropped rather
// than written (they come from a server's fields, and must never split the request).
std::string write_request(const client_request& r);

} // namespace spliced::http
