#include "spliced/client/response_check.hpp"

#include "spliced/http/conditional.hpp"

#include <charconv>

namespace spliced::client {

namespace {

bool retryable(unsigned status) noexcept {
    switch (status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
        return true;
    default:
        return false;
    }
}

bool strong(const std::optional<std::string>& etag) noexcept {
    return etag && etag->size() >= 2 && etag->front() == '"' && etag->back() == '"';
}

check status_only(const http::response_head& h) {
    check out;
    if (retryable(h.status)) {
        out.what = verdict::retry;
        if (h.retry_after)
            out.retry_after = parse_retry_after(*h.retry_after, 0);
    } else if (h.status == 412) {
        out.what = verdict::changed;
    } else if (h.status == 304) {
        out.what = verdict::unchanged;
    } else {
        out.what = h.status >= 400 ? verdict::refused : verdict::malformed;
    }
    return out;
}

pinned pin_of(const http::response_head& h, std::uint64_t size, bool ranges) {
    pinned p;
    p.size = size;
    p.ranges = ranges;
    if (strong(h.etag))
        p.etag = *h.etag;
    else if (!h.etag && h.last_modified)
        p.last_modified = *h.last_modified;
    return p;
}

// The pin a resumed run started with still holds for this response.
bool same_version(const pinned& now, const pinned& before) noexcept {
    return now.size == before.size && now.etag == before.etag &&
           now.last_modified == before.last_modified;
}

} // namespace

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::int64_t now_seconds) {
    std::uint64_t seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc() && end == value.data() + value.size() && !value.empty())
        return std::chrono::seconds(std::min<std::uint64_t>(seconds, 24 * 3600));
    if (auto date = http::parse_http_date(value); date && now_seconds > 0)
        return std::chrono::seconds(std::max<std::int64_t>(*date - now_seconds, 0));
    return std::nullopt;
}

check check_probe(const http::response_head& h, const std::optional<pinned>& resuming) {
    check out;
    if (h.content_encoding && *h.content_encoding != "identity")
        return out; // asked for identity; a coded body is not the file's bytes
    if (h.status == 206) {
        auto cr = h.content_range ? http::parse_content_range(*h.content_range) : std::nullopt;
        if (!cr || !cr->range || !cr->complete_length || cr->range->first != 0 ||
            cr->range->last != 0 || h.content_length != 1u)
            return out;
        out.pin = pin_of(h, *cr->complete_length, true);
        if (resuming && !same_version(*out.pin, *resuming)) {
            out.what = verdict::changed;
            return out;
        }
        out.what = verdict::body;
        out.length = 1;
        return out;
    }
    if (h.status == 416) {
        auto cr = h.content_range ? http::parse_content_range(*h.content_range) : std::nullopt;
        if (cr && !cr->range && cr->complete_length == 0u) {
            out.pin = pin_of(h, 0, true);
            out.what = resuming && resuming->size != 0 ? verdict::changed : verdict::empty;
        }
        return out;
    }
    if (h.status == 200) {
        if (!h.content_length)
            return out; // a body without a length cannot be checked for completeness
        out.pin = pin_of(h, *h.content_length, false);
        if (*h.content_length == 0) {
            out.what = resuming && resuming->size != 0 ? verdict::changed : verdict::empty;
            return out;
        }
        // With If-Range a 200 means the validator failed — unless the origin ignores Range
        // altogether, which the same validators tell apart.
        out.what =
            resuming && !same_version(*out.pin, *resuming) ? verdict::changed : verdict::whole;
        out.length = *h.content_length;
        return out;
    }
    return status_only(h);
}

check check_piece(const http::response_head& h, http::byte_range asked, const pinned& pin) {
    check out;
    if (h.status != 206) {
        if (h.status == 200)
            return out; // If-Match held but Range was ignored: not the piece asked for
        return status_only(h);
    }
    if (h.content_encoding && *h.content_encoding != "identity")
        return out;
    auto cr = h.content_range ? http::parse_content_range(*h.content_range) : std::nullopt;
    if (!cr || !cr->range || *cr->range != asked || cr->complete_length != pin.size ||
        h.content_length != asked.length())
        return out;
    // A response for another version is not a piece of this one, whatever its precondition said.
    if (!pin.etag.empty() && h.etag != pin.etag) {
        out.what = verdict::changed;
        return out;
    }
    if (pin.etag.empty() && !pin.last_modified.empty() && h.last_modified != pin.last_modified) {
        out.what = verdict::changed;
        return out;
    }
    out.what = verdict::body;
    out.offset = asked.first;
    out.length = asked.length();
    return out;
}

} // namespace spliced::client
