#pragma once
// HTTP status codes spliced sends, their reason phrases, and the one errno → status mapping.

#include <string_view>

namespace spliced::http {

enum class status : unsigned short {
    ok = 200,
    no_content = 204,
    partial_content = 206,
    moved_permanently = 301,
    not_modified = 304,
    bad_request = 400,
    forbidden = 403,
    not_found = 404,
    method_not_allowed = 405,
    gone = 410,
    precondition_failed = 412,
    request_timeout = 408,
    uri_too_long = 414,
    range_not_satisfiable = 416,
    header_fields_too_large = 431,
    internal_server_error = 500,
    not_implemented = 501,
    service_unavailable = 503,
    version_not_supported = 505,
};

constexpr unsigned code(status s) noexcept {
    return static_cast<unsigned>(s);
}

std::string_view reason_phrase(status s) noexcept;

// The single place where an errno from opening or inspecting a file becomes a status
// (DESIGN.md §10): ENOENT/ENOTDIR/ELOOP/EXDEV (an escape attempt under RESOLVE_BENEATH) → 404,
// EACCES/EPERM → 403, EMFILE/ENFILE/ENOBUFS → 503, ENAMETOOLONG → 414, anything else → 500.
status status_from_errno(int err) noexcept;

} // namespace spliced::http
