#pragma once
// What spliced-get makes of a response head: pure functions of the head, what was asked and what
// is pinned, so every rule about validators lives in one place and is tested as a table
// (RFC 9110 §8.8 validators, §13.1 preconditions, §14.4 Content-Range, §15 status codes).

#include "spliced/http/byte_range.hpp"
#include "spliced/http/response_reader.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace spliced::client {

// The representation a download is bound to, from its first response.
struct pinned {
    std::uint64_t size = 0;
    std::string etag;          // strong ETag, or empty
    std::string last_modified; // used as a validator only when no strong ETag was offered
    bool ranges = true;        // the origin answers Range with 206
    friend bool operator==(const pinned&, const pinned&) = default;
};

enum class verdict {
    body,      // write the body at [offset, offset + length)
    whole,     // 200: the origin ignored Range; the body is the whole file from 0
    empty,     // the file is empty (416 "bytes */0" or a 200 of length 0)
    changed,   // the file is no longer the pinned one (412, other validators or size)
    unchanged, // 304: the file is still the one of the last run (--if-changed asked)
    retry,     // try again later (408, 429, 5xx listed in the issue; honour retry_after)
    refused,   // a final HTTP error (404, 403, …): not retried
    malformed, // the head contradicts what was asked (wrong Content-Range, length, …)
};

struct check {
    verdict what = verdict::malformed;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    std::optional<pinned> pin;                       // set by check_probe when it pins
    std::optional<std::chrono::seconds> retry_after; // for retry, when the server said
};

// The first response of a run: asked `Range: bytes=0-0` (and `If-Range` when `resuming`). Pins
// size and validators (a weak ETag is no validator for ranges; a Last-Modified is used only when
// it is at least a second older than Date would make it strong — we cannot know, so it is used as
// a fallback only when no ETag at all is sent). `changed` when resuming and the pin differs.
check check_probe(const http::response_head& h, const std::optional<pinned>& resuming);

// A piece response to `Range: bytes=asked.first-asked.last` with `If-Match` (or
// `If-Unmodified-Since`) from `pin`.
check check_piece(const http::response_head& h, http::byte_range asked, const pinned& pin);

// Retry-After as delay-seconds (RFC 9110 §10.2.3); HTTP-dates relative to `now_seconds`.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::int64_t now_seconds);

} // namespace spliced::client
