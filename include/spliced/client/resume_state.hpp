#pragma once
// The state file beside FILE.part that lets an interrupted download resume (aria2's .aria2
// control file): which URL, which representation (size and the validators pinned from the first
// response) and which byte ranges of FILE.part are present. It never claims a byte that is not
// durable: save_resume_state() makes FILE.part's data durable first, then replaces the state
// file by rename, then makes the rename durable.

#include "spliced/core/result.hpp"
#include "spliced/http/byte_range.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spliced::client {

struct resume_state {
    std::string url;
    std::uint64_t size = 0;
    std::string etag;          // the strong ETag pinned, quoted; empty when none was offered
    std::string last_modified; // as the server sent it; empty when none was offered
    std::uint64_t piece_size = 0;
    std::vector<http::byte_range> present; // sorted, disjoint, within [0, size)
    friend bool operator==(const resume_state&, const resume_state&) = default;
};

// The text form: a version line, then "key value" lines. Fails (EINVAL) when a value holds a
// line break, which the file format could not carry.
result<std::string> to_text(const resume_state& state);
// Fails (EINVAL) on another version, a missing or repeated key, a number that does not parse, or
// ranges that overlap, are out of order or leave the file: a damaged state file is never half
// believed.
result<resume_state> parse_resume_state(std::string_view text);

// fdatasync(part_fd), then `name`.tmp in `dir_fd` written and fsynced, renamed over `name`, and
// `dir_fd` fsynced. On failure the previous state file, if any, is still whole.
result<void> save_resume_state(int part_fd, int dir_fd, const std::string& name,
                               const resume_state& state);
// nullopt when there is no state file; an error when it cannot be read or does not parse.
result<std::optional<resume_state>> load_resume_state(int dir_fd, const std::string& name);

} // namespace spliced::client
