#include "spliced/http/response_reader.hpp"

#include "text.hpp"

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <charconv>

namespace spliced::http {

namespace beast_http = boost::beast::http;

struct response_reader::parser_state {
    std::optional<beast_http::response_parser<beast_http::empty_body>> parser;
};

response_reader::response_reader(std::size_t max_header_bytes)
    : parser_(std::make_unique<parser_state>()), max_header_bytes_(max_header_bytes) {
    reset();
}

response_reader::~response_reader() = default;
response_reader::response_reader(response_reader&&) noexcept = default;
response_reader& response_reader::operator=(response_reader&&) noexcept = default;

void response_reader::reset() noexcept {
    auto& p = parser_->parser.emplace();
    p.header_limit(static_cast<std::uint32_t>(max_header_bytes_));
    p.eager(false);
    p.body_limit(boost::none); // Beast refuses bodies over 8 MiB by default; ours go to a file
    head_ = {};
    scanned_ = 0;
}

namespace {

// The value of a field that must not appear twice with different values; false when it does.
template <class Name> // a beast_http::field, or the name of a field Beast does not know
bool take_single(const beast_http::fields& fields, Name name, std::optional<std::string>& slot) {
    auto [first, last] = fields.equal_range(name);
    for (auto it = first; it != last; ++it) {
        auto value = text::trim_ows(it->value());
        if (slot && *slot != value)
            return false;
        slot.emplace(value);
    }
    return true;
}

bool collect(const beast_http::response_parser<beast_http::empty_body>& p, response_head& h) {
    const auto& res = p.get();
    h.status = res.result_int();
    h.version = res.version();
    h.keep_alive = res.keep_alive();
    h.chunked = p.chunked();
    std::optional<std::string> length;
    if (!take_single(res, beast_http::field::content_length, length))
        return false;
    if (length) {
        std::uint64_t n = 0;
        auto [end, ec] = std::from_chars(length->data(), length->data() + length->size(), n);
        if (ec != std::errc() || end != length->data() + length->size())
            return false;
        h.content_length = n;
    }
    if (h.chunked && h.content_length)
        return false; // RFC 9112 §6.3: a sign of smuggling; never guess which one frames the body
    return take_single(res, beast_http::field::content_range, h.content_range) &&
           take_single(res, beast_http::field::etag, h.etag) &&
           take_single(res, beast_http::field::last_modified, h.last_modified) &&
           take_single(res, beast_http::field::retry_after, h.retry_after) &&
           take_single(res, beast_http::field::accept_ranges, h.accept_ranges) &&
           take_single(res, beast_http::field::content_encoding, h.content_encoding) &&
           take_single(res, std::string_view("Repr-Digest"), h.repr_digest);
}

} // namespace

response_reader::outcome response_reader::feed(std::string_view input, bool head_request) noexcept {
    // Find the end of the head first (only CRLF line ends), so Beast always sees a whole head.
    const auto window = input.substr(0, max_header_bytes_);
    std::size_t end = std::string_view::npos;
    while (scanned_ < window.size()) {
        auto lf = window.find('\n', scanned_);
        if (lf == std::string_view::npos) {
            scanned_ = window.size();
            break;
        }
        if (lf == 0 || window[lf - 1] != '\r')
            return {state::error, 0};
        if (lf >= 3 && window[lf - 2] == '\n') {
            end = lf + 1;
            break;
        }
        scanned_ = lf + 1;
    }
    if (end == std::string_view::npos)
        return {input.size() > max_header_bytes_ ? state::error : state::need_more, 0};

    auto& p = *parser_->parser;
    try {
        if (head_request)
            p.skip(true);
        boost::system::error_code ec;
        auto parsed = p.put(boost::asio::const_buffer(input.data(), end), ec);
        if (ec || parsed != end || !p.is_header_done() || !collect(p, head_))
            return {state::error, 0};
    } catch (...) { // out of memory: the response cannot be read, like a malformed one
        return {state::error, 0};
    }
    if (head_request || head_.status == 204 || head_.status == 304 || head_.status / 100 == 1)
        head_.content_length = 0;
    return {state::done, end};
}

} // namespace spliced::http
