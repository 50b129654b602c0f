#include "spliced/http/request_reader.hpp"

#include "spliced/http/authority.hpp"
#include "text.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <optional>

namespace spliced::http {

namespace beast_http = boost::beast::http;

struct request_reader::parser_state {
    std::optional<beast_http::request_parser<beast_http::empty_body>> parser;
};

request_reader::request_reader(std::size_t max_header_bytes)
    : parser_(std::make_unique<parser_state>()), max_header_bytes_(max_header_bytes) {
    reset();
}

request_reader::~request_reader() = default;
request_reader::request_reader(request_reader&&) noexcept = default;
request_reader& request_reader::operator=(request_reader&&) noexcept = default;

void request_reader::reset() noexcept {
    auto& p = parser_->parser.emplace();
    p.header_limit(static_cast<std::uint32_t>(max_header_bytes_));
    p.eager(false);
    scanned_ = 0;
    line_length_ = 0;
}

namespace {

// A header too large for --max-header-bytes is 414 when the request line alone does not fit
// (RFC 9112 §3), 431 otherwise.
status oversized_head_status(std::string_view input, std::size_t limit) noexcept {
    auto line_end = input.find("\r\n");
    if (line_end == std::string_view::npos || line_end >= limit)
        return status::uri_too_long;
    return status::header_fields_too_large;
}

// Adds one field's value: list fields accumulate ", "-joined (RFC 9110 §5.3); a singleton field
// seen twice is dropped for good (`repeated` remembers it).
void take(std::optional<std::string>& slot, std::string_view value, bool list, bool& repeated) {
    if (repeated)
        return;
    if (!slot) {
        slot.emplace(value);
    } else if (list) {
        slot->append(", ");
        slot->append(value);
    } else {
        slot.reset();
        repeated = true;
    }
}

// One pass over the fields instead of a lookup per field the response may depend on.
void collect_fields(const beast_http::fields& fields, request_head& h) {
    h.range.reset();
    h.if_range.reset();
    h.if_match.reset();
    h.if_none_match.reset();
    h.if_modified_since.reset();
    h.if_unmodified_since.reset();
    h.accept_encoding.reset();
    h.want_repr_digest.reset();
    h.referer.clear();
    h.user_agent.clear();
    bool repeated[4] = {}; // Range, If-Range, If-Modified-Since, If-Unmodified-Since
    bool ignored = false;  // list fields never become "repeated"
    for (const auto& f : fields) {
        switch (f.name()) {
        case beast_http::field::range:
            take(h.range, f.value(), false, repeated[0]);
            break;
        case beast_http::field::if_range:
            take(h.if_range, f.value(), false, repeated[1]);
            break;
        case beast_http::field::if_modified_since:
            take(h.if_modified_since, f.value(), false, repeated[2]);
            break;
        case beast_http::field::if_unmodified_since:
            take(h.if_unmodified_since, f.value(), false, repeated[3]);
            break;
        case beast_http::field::if_match:
            take(h.if_match, f.value(), true, ignored);
            break;
        case beast_http::field::if_none_match:
            take(h.if_none_match, f.value(), true, ignored);
            break;
        case beast_http::field::accept_encoding:
            take(h.accept_encoding, f.value(), true, ignored);
            break;
        case beast_http::field::referer:
            h.referer.assign(f.value());
            break;
        case beast_http::field::user_agent:
            h.user_agent.assign(f.value());
            break;
        case beast_http::field::unknown: // Beast has no constant for the RFC 9530 fields
            if (boost::beast::iequals(f.name_string(), "want-repr-digest"))
                take(h.want_repr_digest, f.value(), true, ignored);
            break;
        default:
            break;
        }
    }
}

bool all_digits(std::string_view v) noexcept {
    return !v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos;
}

// Content-Length and Transfer-Encoding, strictly: one Content-Length of digits only, never both
// fields, and only codings spliced implements (none: a chunked body is refused like any body).
status framing_status(const beast_http::fields& f) noexcept {
    auto lengths = f.count(beast_http::field::content_length);
    auto encodings = f.equal_range(beast_http::field::transfer_encoding);
    if (encodings.first != encodings.second) {
        if (lengths > 0)
            return status::bad_request;
        for (auto it = encodings.first; it != encodings.second; ++it) {
            std::string_view list = it->value();
            while (!list.empty()) {
                auto comma = list.find(',');
                auto coding = text::trim_ows(list.substr(0, comma));
                if (!coding.empty() && !text::iequals(coding, "chunked"))
                    return status::not_implemented;
                list =
                    comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
            }
        }
        return status::bad_request;
    }
    if (lengths > 1 || (lengths == 1 && !all_digits(f[beast_http::field::content_length])))
        return status::bad_request;
    return status::ok;
}

bool has_single_host(const beast_http::request_parser<beast_http::empty_body>& p) {
    auto hosts = p.get().equal_range(beast_http::field::host);
    return std::distance(hosts.first, hosts.second) == 1;
}

} // namespace

// Beast accepts only HTTP/1.0 and HTTP/1.1 in the request line. RFC 9110 §6.2: a higher minor
// version of HTTP/1 is answered as HTTP/1.1, a higher major version gets 505.
request_reader::version_check request_reader::check_version(std::string_view line) noexcept {
    auto space = line.rfind(' ');
    if (space == std::string_view::npos)
        return version_check::as_is;
    auto token = line.substr(space + 1);
    if (token.size() != 8 || token.substr(0, 5) != "HTTP/" || token[6] != '.' || token[5] < '0' ||
        token[5] > '9' || token[7] < '0' || token[7] > '9')
        return version_check::as_is; // Beast refuses it: 400
    if (token[5] >= '2')
        return version_check::unsupported;
    if (token[5] == '1' && token[7] > '1')
        return version_check::downgrade;
    return version_check::as_is;
}

// The request line is given to Beast as soon as it has arrived, so a malformed one is refused at
// once rather than when a head that may never come is complete. A higher HTTP/1 minor version is
// given to Beast as HTTP/1.1 (check_version).
status request_reader::start_line(std::string_view line) noexcept {
    const auto eol = line.size() - 2; // at the CR
    auto check = check_version(line.substr(0, eol));
    if (check == version_check::unsupported)
        return status::version_not_supported;
    boost::system::error_code ec;
    try {
        std::string downgraded;
        if (check == version_check::downgrade) {
            downgraded.assign(line);
            downgraded[eol - 1] = '1';
            line = downgraded;
        }
        auto parsed = parser_->parser->put(boost::asio::const_buffer(line.data(), line.size()), ec);
        if ((ec && ec != beast_http::error::need_more) || parsed != line.size())
            return status::bad_request;
    } catch (
        ...) { // out of memory: a 503, the data path's one answer to that (src/server/README.md)
        return status::service_unavailable;
    }
    line_length_ = line.size();
    return status::ok;
}

// Finds the end of the head ("\r\n\r\n") in what has arrived, resuming where the last call
// stopped, and refuses on the way what Beast tolerates and spliced does not (README "Hostile
// input"): a bare LF as a line end and obs-fold continuation lines. Both have been used to make a
// proxy and an origin disagree about where a header ends. Beast is only ever given a whole head,
// so how the bytes were cut into segments cannot change what a request means or when it fails.
request_reader::head_scan request_reader::scan(std::string_view input) noexcept {
    // Only the bytes a head may occupy are looked at: what lies beyond cannot decide anything, and
    // whether it has arrived yet must not change the answer.
    const auto window = input.substr(0, max_header_bytes_);
    while (scanned_ < window.size()) {
        auto lf = window.find('\n', scanned_);
        if (lf == std::string_view::npos) {
            scanned_ = window.size();
            break;
        }
        if (lf == 0 || input[lf - 1] != '\r')
            return {head_scan::bad, status::bad_request};
        if (line_length_ == 0) {
            if (auto refused = start_line(input.substr(0, lf + 1)); refused != status::ok)
                return {head_scan::bad, refused};
        } else if (lf > line_length_ && input[lf - 2] == '\n') { // after the request line
            scanned_ = lf + 1;
            return {head_scan::complete, {}};
        }
        if (lf + 1 == window.size()) {
            scanned_ = lf; // the next byte decides whether this line is folded
            break;
        }
        if (text::is_ows(input[lf + 1]))
            return {head_scan::bad, status::bad_request};
        scanned_ = lf + 1;
    }
    if (input.size() > max_header_bytes_)
        return {head_scan::bad, oversized_head_status(input, max_header_bytes_)};
    return {head_scan::partial, {}};
}

request_reader::outcome request_reader::feed(std::string_view input) noexcept {
    auto found = scan(input);
    if (found.result == head_scan::partial)
        return {state::need_more, 0, {}};
    if (found.result == head_scan::bad)
        return {state::error, 0, found.error};
    const std::size_t used = scanned_; // within max_header_bytes_: scan() looks no further

    auto& p = *parser_->parser;
    boost::system::error_code ec;
    try {
        auto rest = input.substr(line_length_, used - line_length_);
        auto parsed = p.put(boost::asio::const_buffer(rest.data(), rest.size()), ec);
        if (!ec && parsed != rest.size())
            return {state::error, 0, status::bad_request};
    } catch (...) { // out of memory, as above
        return {state::error, 0, status::service_unavailable};
    }
    if (ec == beast_http::error::header_limit)
        return {state::error, 0, oversized_head_status(input, max_header_bytes_)};
    if (ec || !p.is_header_done())
        return {state::error, 0, status::bad_request};

    const auto& req = p.get();
    unsigned version = req.version();
    if (auto framing = framing_status(req); framing != status::ok)
        return {state::error, used, framing};
    // A request body is refused, never read: it could otherwise be taken as the next request.
    if (!p.is_done() || p.chunked() || (p.content_length() && *p.content_length() != 0))
        return {state::error, used, status::bad_request};
    if (version >= 11 && !has_single_host(p))
        return {state::error, used, status::bad_request};
    if (version < 11 && req.count(beast_http::field::host) > 1)
        return {state::error, used, status::bad_request};
    // RFC 9112 §3.2: an invalid Host, or an absolute-form target without a valid host, is a 400.
    if (auto host = req.find(beast_http::field::host);
        host != req.end() && !valid_authority(host->value(), true))
        return {state::error, used, status::bad_request};
    if (auto authority = absolute_form_authority(req.target());
        authority && !valid_authority(*authority, false))
        return {state::error, used, status::bad_request};

    head_.version = version;
    head_.keep_alive = req.keep_alive();
    switch (req.method()) {
    case beast_http::verb::get:
        head_.method = method::get;
        break;
    case beast_http::verb::head:
        head_.method = method::head;
        break;
    case beast_http::verb::options:
        head_.method = method::options;
        break;
    default:
        head_.method = method::other;
        break;
    }
    head_.method_text.assign(req.method_string());
    collect_fields(req, head_);
    head_.target.assign(req.target());
    return {state::done, used, {}};
}

} // namespace spliced::http
