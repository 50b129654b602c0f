#include "spliced/core/duration.hpp"
#include "spliced/core/size.hpp"

#include <charconv>
#include <limits>

namespace spliced {

namespace {

struct number_and_suffix {
    std::uint64_t value;
    std::string_view suffix;
};

std::optional<number_and_suffix> split_number(std::string_view text) noexcept {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data())
        return std::nullopt;
    return number_and_suffix{value, text.substr(std::size_t(end - text.data()))};
}

std::optional<std::uint64_t> checked_multiply(std::uint64_t a, std::uint64_t b) noexcept {
    if (b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b)
        return std::nullopt;
    return a * b;
}

} // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) noexcept {
    auto parsed = split_number(text);
    if (!parsed)
        return std::nullopt;
    std::uint64_t unit_ms = 0;
    if (parsed->suffix == "ms")
        unit_ms = 1;
    else if (parsed->suffix == "s" || parsed->suffix.empty())
        unit_ms = 1000;
    else if (parsed->suffix == "m")
        unit_ms = 60'000;
    else if (parsed->suffix == "h")
        unit_ms = 3'600'000;
    else if (parsed->suffix == "d")
        unit_ms = 86'400'000;
    else
        return std::nullopt;
    auto ms = checked_multiply(parsed->value, unit_ms);
    if (!ms || *ms > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
        return std::nullopt;
    return std::chrono::milliseconds(std::int64_t(*ms));
}

std::optional<std::uint64_t> parse_size(std::string_view text) noexcept {
    auto parsed = split_number(text);
    if (!parsed)
        return std::nullopt;
    std::uint64_t unit = 1;
    if (parsed->suffix.empty())
        unit = 1;
    else if (parsed->suffix == "k" || parsed->suffix == "K" || parsed->suffix == "KiB")
        unit = 1ull << 10;
    else if (parsed->suffix == "m" || parsed->suffix == "M" || parsed->suffix == "MiB")
        unit = 1ull << 20;
    else if (parsed->suffix == "g" || parsed->suffix == "G" || parsed->suffix == "GiB")
        unit = 1ull << 30;
    else
        return std::nullopt;
    return checked_multiply(parsed->value, unit);
}

} // namespace spliced
