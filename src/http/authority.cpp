#include "spliced/http/authority.hpp"

#include <arpa/inet.h>
#include <array>

namespace spliced::http {

namespace {

bool is_alpha(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}
bool is_hex(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_unreserved(char c) noexcept {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
bool is_sub_delim(char c) noexcept {
    return c != '\0' && std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
}

bool valid_reg_name(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return false;
            i += 2;
        } else if (!is_unreserved(c) && !is_sub_delim(c)) {
            return false;
        }
    }
    return true;
}

// "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
bool valid_ip_future(std::string_view s) noexcept {
    if (s.size() < 4 || (s[0] | 0x20) != 'v')
        return false;
    std::size_t i = 1;
    while (i < s.size() && is_hex(s[i]))
        ++i;
    if (i == 1 || i >= s.size() - 1 || s[i] != '.')
        return false;
    for (++i; i < s.size(); ++i)
        if (!is_unreserved(s[i]) && !is_sub_delim(s[i]) && s[i] != ':')
            return false;
    return true;
}

bool valid_ipv6(std::string_view s) noexcept {
    std::array<char, INET6_ADDRSTRLEN + 1> text{};
    if (s.empty() || s.size() >= text.size())
        return false;
    s.copy(text.data(), s.size());
    in6_addr address{};
    return ::inet_pton(AF_INET6, text.data(), &address) == 1; // zone IDs are not URI syntax
}

} // namespace

bool valid_authority(std::string_view authority, bool empty_host_ok) noexcept {
    std::string_view host = authority, port;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos)
            return false;
        auto literal = authority.substr(1, close - 1);
        if (!valid_ipv6(literal) && !valid_ip_future(literal))
            return false;
        auto rest = authority.substr(close + 1);
        if (!rest.empty() && rest.front() != ':')
            return false;
        port = rest.empty() ? rest : rest.substr(1);
        host = authority.substr(0, close + 1);
    } else {
        if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
            host = authority.substr(0, colon);
            port = authority.substr(colon + 1);
        }
        if (!valid_reg_name(host))
            return false; // also a second ':' ("host:9000:80"), '/', '\', '@' (userinfo)
    }
    if (host.empty() && !empty_host_ok)
        return false;
    for (char c : port)
        if (!is_digit(c))
            return false;
    return true;
}

std::optional<std::string_view> absolute_form_authority(std::string_view target) noexcept {
    for (std::string_view scheme : {"http://", "https://"}) {
        if (target.size() < scheme.size())
            continue;
        bool same = true;
        for (std::size_t i = 0; i < scheme.size() && same; ++i)
            same = (target[i] | 0x20) == scheme[i];
        if (!same)
            continue;
        auto rest = target.substr(scheme.size());
        return rest.substr(0, rest.find_first_of("/?#"));
    }
    return std::nullopt;
}

} // namespace spliced::http
