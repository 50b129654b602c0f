#pragma once
// Request target → a path relative to the served root. Pure string work: the kernel's
// RESOLVE_BENEATH remains the final guard against leaving the root (DESIGN.md §6).

#include "spliced/core/result.hpp"

#include <string>
#include <string_view>

namespace spliced::http {

struct normalized_path {
    // Relative to the root, without a leading slash, "." for the root itself. Never contains
    // "." or ".." segments, empty segments, or NUL bytes.
    std::string relative;
    // The decoded path (always starting with '/'), for redirects and logs.
    std::string absolute;
    // The request named a directory explicitly ("/dir/").
    bool trailing_slash = false;
    // A segment (after decoding and collapsing) begins with '.': "/.env", "/a/.git/config";
    // "/.well-known/..." itself is not (RFC 8615), dot segments below it are.
    bool hidden = false;
    // The query string as sent (without '?'), kept for redirects; empty if none.
    std::string query;
};

// Decodes %HH escapes once. Fails (EINVAL) on a malformed escape or a NUL byte, raw or encoded.
result<std::string> percent_decode(std::string_view encoded);

// Percent-encodes a decoded path for use in a header (Location): every byte outside RFC 3986's
// unreserved set, "/" and a few sub-delimiters is escaped, so CR, LF, spaces and non-ASCII bytes
// can never reach the wire raw.
std::string percent_encode_path(std::string_view decoded);

// Accepts origin-form ("/a/b?q") and absolute-form ("http://host/a/b") targets. Percent-decodes
// exactly once, then collapses "." and ".." segments. Fails (std::errc::invalid_argument) on
// malformed percent-encoding, an encoded or raw NUL, a target that is neither form, or ".."
// climbing above the root. Backslashes are ordinary bytes (Linux file names may contain them).
result<normalized_path> normalize_target(std::string_view target);

} // namespace spliced::http
