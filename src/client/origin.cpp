#include "origin.hpp"

#include "spliced/http/client_request.hpp"
#include "spliced/http/date.hpp"

namespace spliced::client {

namespace {

http::client_request get(const http::url& url) {
    http::client_request r;
    r.target = url.target;
    r.authority = url.authority;
    r.user_agent = "spliced-get/" SPLICED_VERSION;
    return r;
}

} // namespace

std::string origin::probe_request(const std::optional<pinned>& resuming,
                                  const output_file::validators* previous) const {
    auto r = get(url_);
    r.range = http::byte_range{0, 0};
    r.want_repr_digest = true;
    if (resuming)
        r.if_range = !resuming->etag.empty() ? resuming->etag : resuming->last_modified;
    else if (previous && !previous->etag.empty())
        r.if_none_match = previous->etag;
    else if (previous && previous->modified)
        r.if_modified_since = std::string(http::view(http::format_http_date(*previous->modified)));
    return http::write_request(r);
}

std::string origin::piece_request(const http::byte_range& range, const pinned& pin) const {
    auto r = get(url_);
    r.range = range;
    if (!pin.etag.empty())
        r.if_match = pin.etag;
    else if (!pin.last_modified.empty())
        r.if_unmodified_since = pin.last_modified;
    return http::write_request(r);
}

} // namespace spliced::client
