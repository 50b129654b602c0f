#include "spliced/http/byte_range.hpp"

#include "text.hpp"

#include <algorithm>
#include <limits>
#include <optional>

namespace spliced::http {

namespace {

constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();

// One range-spec as written, before it meets the file's size.
struct spec {
    bool suffix = false;          // "-N"
    std::uint64_t first = 0;      // saturated at max_u64 when the digits do not fit
    std::uint64_t last = max_u64; // max_u64 for "N-" or digits that do not fit
    bool first_overflowed = false;
};

// Digits only, at least one; a value past 2^64-1 saturates and says so.
std::optional<std::uint64_t> parse_digits(std::string_view s, bool& overflowed) noexcept {
    if (s.empty())
        return std::nullopt;
    std::uint64_t v = 0;
    overflowed = false;
    for (char c : s) {
        if (c < '0' || c > '9')
            return std::nullopt;
        unsigned d = unsigned(c - '0');
        if (v > (max_u64 - d) / 10) {
            overflowed = true;
            v = max_u64;
        } else if (!overflowed) {
            v = v * 10 + d;
        }
    }
    return v;
}

std::optional<spec> parse_spec(std::string_view text) noexcept {
    auto dash = text.find('-');
    if (dash == std::string_view::npos)
        return std::nullopt;
    auto left = text.substr(0, dash);
    auto right = text.substr(dash + 1);
    spec out;
    bool overflow = false;
    if (left.empty()) {
        auto n = parse_digits(right, overflow); // suffix length; too many digits = whole file
        if (!n)
            return std::nullopt;
        out.suffix = true;
        out.last = *n;
        return out;
    }
    auto first = parse_digits(left, overflow);
    if (!first)
        return std::nullopt;
    out.first = *first;
    out.first_overflowed = overflow;
    if (!right.empty()) {
        bool last_overflow = false;
        auto last = parse_digits(right, last_overflow);
        if (!last)
            return std::nullopt;
        out.last = *last;
        // RFC 9110 §14.1.1: last-pos < first-pos makes the whole field invalid.
        if (!overflow && !last_overflow && out.last < out.first)
            return std::nullopt;
    }
    return out;
}

// The spec against the file, or nullopt when it selects no byte of it.
std::optional<byte_range> resolve(const spec& s, std::uint64_t size) noexcept {
    if (s.suffix) {
        if (s.last == 0)
            return std::nullopt;
        std::uint64_t n = std::min(s.last, size);
        return byte_range{size - n, size - 1};
    }
    if (s.first_overflowed || s.first >= size)
        return std::nullopt;
    return byte_range{s.first, std::min(s.last, size - 1)};
}

} // namespace

range_plan plan_ranges(std::string_view header, std::uint64_t size, unsigned max_ranges) {
    range_plan plan;
    auto eq = header.find('=');
    if (eq == std::string_view::npos ||
        !text::iequals(text::trim_ows(header.substr(0, eq)), "bytes"))
        return plan;

    std::vector<spec> specs;
    std::string_view rest = header.substr(eq + 1);
    while (true) {
        auto comma = rest.find(',');
        auto element = text::trim_ows(rest.substr(0, comma));
        if (!element.empty()) { // RFC 9110 §5.6.1: empty list elements are ignored
            if (specs.size() == max_ranges)
                return plan; // too many: answer with the whole file
            auto s = parse_spec(element);
            if (!s)
                return plan;
            specs.push_back(*s);
        }
        if (comma == std::string_view::npos)
            break;
        rest.remove_prefix(comma + 1);
    }
    if (specs.empty() || size == 0)
        return plan;

    std::uint64_t total = 0;
    for (const auto& s : specs) {
        if (auto r = resolve(s, size)) {
            // Overlapping requests for more than the file are not worth answering. Checked per
            // range, so `total` never exceeds 2 × size and cannot wrap.
            total += r->length();
            if (total > size) {
                plan.ranges.clear();
                return plan;
            }
            plan.ranges.push_back(*r);
        }
    }
    if (plan.ranges.empty()) {
        plan.decision = range_decision::unsatisfiable;
        return plan;
    }
    std::sort(plan.ranges.begin(), plan.ranges.end(),
              [](const byte_range& a, const byte_range& b) { return a.first < b.first; });
    std::vector<byte_range> merged;
    for (const auto& r : plan.ranges) {
        if (!merged.empty() && r.first <= merged.back().last + 1)
            merged.back().last = std::max(merged.back().last, r.last);
        else
            merged.push_back(r);
    }
    plan.ranges = std::move(merged);
    plan.decision = range_decision::partial;
    return plan;
}

std::optional<parsed_content_range> parse_content_range(std::string_view field) noexcept {
    field = text::trim_ows(field);
    auto space = field.find(' ');
    if (space == std::string_view::npos || !text::iequals(field.substr(0, space), "bytes"))
        return std::nullopt;
    auto rest = field.substr(space + 1);
    auto slash = rest.find('/');
    if (slash == std::string_view::npos)
        return std::nullopt;
    auto range_text = rest.substr(0, slash);
    auto complete_text = rest.substr(slash + 1);
    parsed_content_range out;
    bool overflow = false;
    if (complete_text != "*") {
        out.complete_length = parse_digits(complete_text, overflow);
        if (!out.complete_length || overflow)
            return std::nullopt;
    }
    if (range_text == "*")
        return out.complete_length ? std::optional(out) : std::nullopt;
    auto dash = range_text.find('-');
    if (dash == std::string_view::npos)
        return std::nullopt;
    auto first = parse_digits(range_text.substr(0, dash), overflow);
    if (!first || overflow)
        return std::nullopt;
    auto last = parse_digits(range_text.substr(dash + 1), overflow);
    if (!last || overflow || *last < *first)
        return std::nullopt;
    if (out.complete_length && *last >= *out.complete_length)
        return std::nullopt;
    out.range = byte_range{*first, *last};
    return out;
}

} // namespace spliced::http
