// Range planning (RFC 9110 §14) for any header and any file size. Properties:
// - a partial plan has 1..max_ranges ranges, each inside the file, sorted, neither overlapping
//   nor adjacent, adding up to no more than the file; other decisions carry no ranges;
// - a range on an empty file is never partial or unsatisfiable (README "Ranges");
// - planning is a fixed point: writing a partial plan back as a header and planning it again
//   gives the same ranges;
// - a header whose unit is not "bytes" is ignored.
// Input: byte 0 picks how the file size is read (small, or 64 bits from bytes 1..8), byte 9 the
// range limit, the rest is the header value.

#include "fuzz_check.hpp"
#include "spliced/http/byte_range.hpp"

#include <cstring>
#include <string>

namespace {

using spliced::http::plan_ranges;
using spliced::http::range_decision;
using spliced::http::range_plan;

void check_shape(const range_plan& plan, std::uint64_t size, unsigned max_ranges) {
    if (plan.decision != range_decision::partial) {
        FUZZ_CHECK(plan.ranges.empty());
        return;
    }
    FUZZ_CHECK(!plan.ranges.empty());
    FUZZ_CHECK(plan.ranges.size() <= max_ranges);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < plan.ranges.size(); ++i) {
        const auto& r = plan.ranges[i];
        FUZZ_CHECK(r.first <= r.last);
        FUZZ_CHECK(r.last < size);
        if (i > 0)
            FUZZ_CHECK(plan.ranges[i - 1].last + 1 < r.first); // sorted, a gap between
        total += r.length();
    }
    FUZZ_CHECK(total <= size);
}

// The unit before '=', OWS around it tolerated as the parser does, compared case-insensitively.
bool has_bytes_unit(std::string_view h) {
    auto eq = h.find('=');
    if (eq == std::string_view::npos)
        return false;
    auto unit = spliced::fuzz::trim_ows(h.substr(0, eq));
    if (unit.size() != 5)
        return false;
    for (std::size_t i = 0; i < 5; ++i)
        if ((unit[i] | 0x20) != "bytes"[i])
            return false;
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 10)
        return 0;
    std::uint64_t file_size = 0;
    switch (data[0] % 4) {
    case 0:
        file_size = data[1]; // small files make overlaps and suffixes meet the ends
        break;
    case 1:
        file_size = 0;
        break;
    default:
        std::memcpy(&file_size, data + 1, sizeof file_size);
        break;
    }
    const unsigned max_ranges = 1 + data[9] % 64;
    const std::string_view header(reinterpret_cast<const char*>(data + 10), size - 10);

    const auto plan = plan_ranges(header, file_size, max_ranges);
    check_shape(plan, file_size, max_ranges);
    if (file_size == 0)
        FUZZ_CHECK(plan.decision == range_decision::whole);
    if (!has_bytes_unit(header))
        FUZZ_CHECK(plan.decision == range_decision::whole);

    if (plan.decision == range_decision::partial) {
        std::string again = "bytes=";
        for (const auto& r : plan.ranges)
            again += std::to_string(r.first) + '-' + std::to_string(r.last) + ',';
        again.pop_back();
        const auto replanned = plan_ranges(again, file_size, max_ranges);
        FUZZ_CHECK(replanned.decision == range_decision::partial);
        FUZZ_CHECK(replanned.ranges == plan.ranges);
    }
    return 0;
}
