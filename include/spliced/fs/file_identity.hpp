#pragma once
// What identifies one version of a file to HTTP caches: a strong ETag and Last-Modified.

#include "spliced/http/date.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

struct statx;

namespace spliced::fs {

struct file_identity {
    std::uint64_t size = 0;
    std::int64_t mtime_sec = 0;
    std::uint32_t mtime_nsec = 0;
    std::uint64_t inode = 0;
};

file_identity identity_of(const struct statx& st) noexcept;

// A strong validator that changes when a file is replaced or rewritten: "<size>-<mtime ns>" in
// hex, quoted (RFC 9110 §8.8.3). Size and nanosecond mtime catch rewrites that keep the length and
// renames of another file into place.
struct etag {
    std::array<char, 2 + 16 + 1 + 16> text{};
    std::size_t length = 0;
    std::string_view view() const noexcept { return {text.data(), length}; }
};

etag make_etag(const file_identity& id) noexcept;

// The validator of an encoded representation of the file tagged `tag` (a precompressed sibling
// served for it): "<size>-<mtime ns>-<coding>", so that caches never confuse the two.
std::string etag_for_coding(std::string_view tag, std::string_view coding);

inline http::http_date last_modified(const file_identity& id) noexcept {
    return http::format_http_date(id.mtime_sec);
}

} // namespace spliced::fs
