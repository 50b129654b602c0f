// Request target normalisation for any target. Properties:
// - an accepted target's relative path is "." or segments joined by '/', none of them empty, "."
//   or "..", no NUL byte, never starting with '/'; the absolute path is '/' + relative (+ '/');
// - percent-encoding the absolute path gives only safe header bytes, and normalising that again
//   gives the same path (redirects built from it land where they say);
// - a target that does not start with '/' or a scheme is refused.
// Input: the target.

#include "fuzz_check.hpp"
#include "spliced/http/path.hpp"

#include <string>
#include <string_view>

namespace {

namespace http = spliced::http;

void check_relative(std::string_view relative) {
    FUZZ_CHECK(!relative.empty());
    FUZZ_CHECK(relative.find('\0') == std::string_view::npos);
    if (relative == ".")
        return;
    FUZZ_CHECK(relative.front() != '/');
    std::size_t start = 0;
    for (;;) {
        auto slash = relative.find('/', start);
        auto segment = relative.substr(start, slash - start);
        FUZZ_CHECK(!segment.empty() && segment != "." && segment != "..");
        if (slash == std::string_view::npos)
            break;
        start = slash + 1;
    }
}

bool safe_in_a_header(std::string_view s) {
    for (unsigned char c : s)
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '"' || c == '\\')
            return false;
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view target(reinterpret_cast<const char*>(data), size);
    auto normalized = http::normalize_target(target);
    if (!normalized) {
        return 0;
    }
    FUZZ_CHECK(!target.empty());
    FUZZ_CHECK(target.front() == '/' || target.front() == 'h' || target.front() == 'H');
    check_relative(normalized->relative);
    std::string expected_absolute(1, '/');
    if (normalized->relative != ".")
        expected_absolute.append(normalized->relative);
    if (normalized->trailing_slash && normalized->relative != ".")
        expected_absolute += '/';
    FUZZ_CHECK(normalized->absolute == expected_absolute);

    auto encoded = http::percent_encode_path(normalized->absolute);
    FUZZ_CHECK(safe_in_a_header(encoded));
    auto again = http::normalize_target(encoded);
    FUZZ_CHECK(again);
    FUZZ_CHECK(again->relative == normalized->relative);
    FUZZ_CHECK(again->absolute == normalized->absolute);
    FUZZ_CHECK(again->trailing_slash == normalized->trailing_slash);
    return 0;
}
