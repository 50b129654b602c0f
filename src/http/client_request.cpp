#include "spliced/http/client_request.hpp"

#include <charconv>

namespace spliced::http {

namespace {

bool safe(std::string_view value) noexcept {
    return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void field(std::string& out, std::string_view name, std::string_view value) {
    if (!safe(value))
        return;
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
}

void optional_field(std::string& out, std::string_view name,
                    const std::optional<std::string>& value) {
    if (value)
        field(out, name, *value);
}

void number(std::string& out, std::uint64_t n) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    out.append(digits, end);
}

} // namespace

std::string write_request(const client_request& r) {
    std::string out;
    out.reserve(256 + r.target.size());
    out.append(r.head ? "HEAD " : "GET ");
    out.append(safe(r.target) && !r.target.empty() ? r.target : std::string("/"));
    out.append(" HTTP/1.1\r\n");
    field(out, "Host", r.authority);
    if (r.range) {
        out.append("Range: bytes=");
        number(out, r.range->first);
        out.push_back('-');
        number(out, r.range->last);
        out.append("\r\n");
    }
    optional_field(out, "If-Match", r.if_match);
    optional_field(out, "If-Range", r.if_range);
    optional_field(out, "If-Unmodified-Since", r.if_unmodified_since);
    optional_field(out, "If-None-Match", r.if_none_match);
    optional_field(out, "If-Modified-Since", r.if_modified_since);
    if (r.want_repr_digest)
        out.append("Want-Repr-Digest: sha-256=10\r\n");
    if (!r.user_agent.empty())
        field(out, "User-Agent", r.user_agent);
    // Bytes as stored: a coding would make ranges address the coded bytes (RFC 9110 §14.1.2).
    out.append("Accept-Encoding: identity\r\n\r\n");
    return out;
}

} // namespace spliced::http
