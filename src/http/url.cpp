#include "spliced/http/url.hpp"

#include "spliced/http/path.hpp"
#include "text.hpp"

#include <charconv>

namespace spliced::http {

namespace {

// Bytes that may stand in a request target as they are (RFC 3986 pchar, '/', '?', '%'); anything
// else must arrive percent-encoded, or it could split the request line.
bool target_byte(char c) noexcept {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && c != '#' && c != '"' && c != '<' && c != '>' && c != '\\' &&
           c != '^' && c != '`' && c != '{' && c != '|' && c != '}';
}

bool host_byte(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? char(c + 32) : c;
}

// "host", "host:port", "[v6]" or "[v6]:port" into `out`.
result<void> parse_authority(std::string_view authority, url& out) {
    std::string_view host = authority;
    std::string_view port;
    if (authority.starts_with('[')) {
        auto close = authority.find(']');
        if (close == std::string_view::npos)
            return errno_code(EINVAL);
        host = authority.substr(1, close - 1);
        auto rest = authority.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':'))
            return errno_code(EINVAL);
        if (!rest.empty())
            port = rest.substr(1);
        for (char c : host)
            if (!(host_byte(c) || c == ':'))
                return errno_code(EINVAL);
    } else {
        auto colon = authority.rfind(':');
        if (colon != std::string_view::npos) {
            host = authority.substr(0, colon);
            port = authority.substr(colon + 1);
        }
        for (char c : host)
            if (!host_byte(c))
                return errno_code(EINVAL);
    }
    if (host.empty())
        return errno_code(EINVAL);
    out.host.clear();
    for (char c : host)
        out.host.push_back(lower(c));
    out.port = 80;
    if (!port.empty()) {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
            return errno_code(EINVAL);
        out.port = static_cast<std::uint16_t>(value);
    }
    out.authority.clear();
    for (char c : authority)
        out.authority.push_back(lower(c));
    if (out.authority.ends_with(":")) // "host:" means the default port (RFC 3986 §3.2.3)
        out.authority.pop_back();
    return {};
}

} // namespace

result<url> parse_url(std::string_view text) {
    auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos)
        return errno_code(EINVAL);
    if (!text::iequals(text.substr(0, scheme_end), "http"))
        return errno_code(EPROTONOSUPPORT);
    auto rest = text.substr(scheme_end + 3);
    if (auto hash = rest.find('#'); hash != std::string_view::npos)
        rest = rest.substr(0, hash); // a fragment never goes to the server
    auto path_start = rest.find_first_of("/?");
    auto authority = rest.substr(0, path_start);
    if (authority.find('@') != std::string_view::npos)
        return errno_code(EINVAL); // credentials in URLs end up in logs and process lists
    url out;
    if (auto ok = parse_authority(authority, out); !ok)
        return ok.error();
    std::string_view target =
        path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
    for (char c : target)
        if (!target_byte(c))
            return errno_code(EINVAL);
    // "http://h" and "http://h?q" ask for "/" and "/?q" (RFC 9112 §3.2.1).
    const bool needs_slash = target.empty() || target.front() == '?';
    out.target.reserve(target.size() + 1);
    out.target.assign(needs_slash ? 1 : 0, '/');
    out.target.append(target.data(), target.size());
    return out;
}

std::optional<std::string> file_name_for(const url& u) {
    std::string_view path = u.target;
    path = path.substr(0, path.find('?'));
    auto segment = path.substr(path.rfind('/') + 1);
    if (segment.empty())
        return std::string("index.html");
    auto decoded = percent_decode(segment);
    if (!decoded || *decoded == "." || *decoded == "..")
        return std::nullopt;
    for (unsigned char c : *decoded)
        if (c == '/' || c < 0x20 || c == 0x7f)
            return std::nullopt;
    return std::move(*decoded);
}

} // namespace spliced::http
