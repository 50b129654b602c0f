#pragma once
// The Range header (RFC 9110 §14): parsing, validation against a file size, coalescing. Pure
// arithmetic on 64-bit offsets: nothing here can overflow, whatever the header says.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace spliced::http {

// [first, last], inclusive, as HTTP writes it; always within the file when produced below.
struct byte_range {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::uint64_t length() const noexcept { return last - first + 1; }
    friend bool operator==(const byte_range&, const byte_range&) = default;
};

enum class range_decision {
    whole,         // ignore Range: 200 with the whole file
    partial,       // 206 with `ranges` (one part, or multipart/byteranges)
    unsatisfiable, // 416 with "Content-Range: bytes */size"
};

struct range_plan {
    range_decision decision = range_decision::whole;
    std::vector<byte_range> ranges; // sorted, non-overlapping, non-adjacent; set when partial
};

// Decides how to answer `Range: header` for a file of `size` bytes. Policy (README "Ranges"):
// - a header that does not parse, or whose unit is not "bytes", is ignored (whole);
// - more than `max_ranges` specs, or specs whose lengths add up to more than the file, are
//   ignored (whole): answering them costs more than the file itself;
// - specs that cannot be satisfied are dropped; if none is left, the answer is 416
//   (`bytes=-0`, `bytes=size-`, a first-pos that does not fit in 64 bits);
// - a range on an empty file is ignored (whole: 200 with an empty body);
// - overlapping or adjacent ranges are merged, so `bytes=0-5,3-9` is one range.
range_plan plan_ranges(std::string_view header, std::uint64_t size, unsigned max_ranges);

// A Content-Range field (RFC 9110 §14.4): "bytes FIRST-LAST/COMPLETE" on a 206, "bytes */COMPLETE"
// on a 416; COMPLETE may be "*" (unknown).
struct parsed_content_range {
    std::optional<byte_range> range;              // absent for "*/COMPLETE"
    std::optional<std::uint64_t> complete_length; // absent for ".../*"
    friend bool operator==(const parsed_content_range&, const parsed_content_range&) = default;
};

// Parses strictly: the unit "bytes" (any case), digits that fit in 64 bits, FIRST <= LAST <
// COMPLETE. Anything else is nullopt; a client must then treat the response as wrong, not guess.
std::optional<parsed_content_range> parse_content_range(std::string_view field) noexcept;

} // namespace spliced::http
