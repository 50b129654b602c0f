#include "spliced/http/path.hpp"

#include "spliced/http/authority.hpp"
#include "text.hpp"

#include <vector>

namespace spliced::http {

namespace {

// Drops "scheme://authority" from an absolute-form target (RFC 9112 §3.2.2).
std::string_view strip_absolute_form(std::string_view target) noexcept {
    auto authority = absolute_form_authority(target);
    if (!authority)
        return target;
    auto rest = target.substr(std::size_t(authority->data() + authority->size() - target.data()));
    return rest.empty() || rest.front() != '/' ? std::string_view("/") : rest;
}

} // namespace

result<std::string> percent_decode(std::string_view path) {
    std::string out;
    out.reserve(path.size());
    for (std::size_t i = 0; i < path.size(); ++i) {
        char c = path[i];
        if (c == '%') {
            if (i + 2 >= path.size())
                return errno_code(EINVAL);
            int hi = text::hex_value(path[i + 1]);
            int lo = text::hex_value(path[i + 2]);
            if (hi < 0 || lo < 0)
                return errno_code(EINVAL);
            c = char(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0')
            return errno_code(EINVAL);
        out.push_back(c);
    }
    return out;
}

std::string percent_encode_path(std::string_view decoded) {
    // RFC 3986 unreserved, "/" and the sub-delimiters that are harmless in a path.
    return text::percent_encode(decoded, "-._~/!$&'()*+,;=:@");
}

result<normalized_path> normalize_target(std::string_view target) {
    target = strip_absolute_form(target);
    std::string_view query;
    if (auto cut = target.find_first_of("?#"); cut != std::string_view::npos) {
        if (target[cut] == '?')
            query = target.substr(cut + 1, target.find('#', cut) - cut - 1);
        target = target.substr(0, cut);
    }
    if (target.empty() || target.front() != '/')
        return errno_code(EINVAL);

    auto decoded = percent_decode(target);
    if (!decoded)
        return decoded.error();

    std::vector<std::string_view> segments;
    std::string_view rest = *decoded;
    while (!rest.empty()) {
        auto slash = rest.find('/');
        auto segment = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
        if (segment.empty() || segment == ".")
            continue;
        if (segment == "..") {
            if (segments.empty())
                return errno_code(EINVAL);
            segments.pop_back();
            continue;
        }
        segments.push_back(segment);
    }

    normalized_path out;
    out.query.assign(query);
    const std::string_view& full = *decoded;
    auto last_segment = full.substr(full.rfind('/') + 1);
    out.trailing_slash = full.back() == '/' || last_segment == "." || last_segment == "..";
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (segments[i].front() == '.' && !(i == 0 && segments[i] == ".well-known"))
            out.hidden = true;
    }
    for (auto segment : segments) {
        if (!out.relative.empty())
            out.relative.push_back('/');
        out.relative.append(segment);
    }
    out.absolute.reserve(out.relative.size() + 2);
    out.absolute.push_back('/');
    out.absolute.append(out.relative);
    if (out.trailing_slash && !out.relative.empty())
        out.absolute.push_back('/');
    if (out.relative.empty())
        out.relative.push_back('.');
    return out;
}

} // namespace spliced::http
