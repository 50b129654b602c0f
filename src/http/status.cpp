#include "spliced/http/status.hpp"

#include <cerrno>

namespace spliced::http {

std::string_view reason_phrase(status s) noexcept {
    switch (s) {
    case status::ok:
        return "OK";
    case status::no_content:
        return "No Content";
    case status::partial_content:
        return "Partial Content";
    case status::moved_permanently:
        return "Moved Permanently";
    case status::not_modified:
        return "Not Modified";
    case status::bad_request:
        return "Bad Request";
    case status::forbidden:
        return "Forbidden";
    case status::not_found:
        return "Not Found";
    case status::method_not_allowed:
        return "Method Not Allowed";
    case status::request_timeout:
        return "Request Timeout";
    case status::uri_too_long:
        return "URI Too Long";
    case status::gone:
        return "Gone";
    case status::precondition_failed:
        return "Precondition Failed";
    case status::range_not_satisfiable:
        return "Range Not Satisfiable";
    case status::header_fields_too_large:
        return "Request Header Fields Too Large";
    case status::internal_server_error:
        return "Internal Server Error";
    case status::not_implemented:
        return "Not Implemented";
    case status::service_unavailable:
        return "Service Unavailable";
    case status::version_not_supported:
        return "HTTP Version Not Supported";
    }
    return "Unknown";
}

status status_from_errno(int err) noexcept {
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP: // a symlink loop, or RESOLVE_NO_MAGICLINKS refusing a magic link
    case EXDEV: // RESOLVE_BENEATH: the path would leave the root (openat2(2))
    case ENXIO: // a socket or a FIFO/device without a peer
    case ENODEV:
        return status::not_found;
    case EACCES:
    case EPERM:
        return status::forbidden;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        return status::service_unavailable;
    case ENAMETOOLONG:
        return status::uri_too_long;
    default:
        return status::internal_server_error;
    }
}

} // namespace spliced::http
