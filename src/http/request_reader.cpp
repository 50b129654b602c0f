#include "spliced/http/request_reader.hpp"

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

bool has_single_host(const beast_http::request_parser<beast_http::empty_body>& p) {
    auto hosts = p.get().equal_range(beast_http::field::host);
    return std::distance(hosts.first, hosts.second) == 1;
}

} // namespace

request_reader::outcome request_reader::feed(std::string_view input) noexcept {
    auto& p = *parser_->parser;
    boost::system::error_code ec;
    std::size_t used = 0;
    try {
        used = p.put(boost::asio::const_buffer(input.data(), input.size()), ec);
    } catch (...) {
        return {state::error, 0, status::internal_server_error};
    }
    if (ec == beast_http::error::need_more) {
        if (input.size() > max_header_bytes_)
            return {state::error, 0, oversized_head_status(input, max_header_bytes_)};
        return {state::need_more, 0, {}};
    }
    if (ec == beast_http::error::header_limit)
        return {state::error, 0, oversized_head_status(input, max_header_bytes_)};
    if (ec)
        return {state::error, 0, status::bad_request};
    if (!p.is_header_done())
        return {state::need_more, 0, {}};

    const auto& req = p.get();
    unsigned version = req.version();
    if (version >= 20)
        return {state::error, used, status::version_not_supported};
    if (version < 10)
        return {state::error, used, status::bad_request};
    // A request body is refused, never read: it could otherwise be taken as the next request.
    if (!p.is_done() || p.chunked() || (p.content_length() && *p.content_length() != 0))
        return {state::error, used, status::bad_request};
    if (version >= 11 && !has_single_host(p))
        return {state::error, used, status::bad_request};
    if (version < 11 && req.count(beast_http::field::host) > 1)
        return {state::error, used, status::bad_request};

    head_.version = version > 11 ? 11 : version;
    head_.keep_alive = req.keep_alive();
    switch (req.method()) {
    case beast_http::verb::get: head_.method = method::get; break;
    case beast_http::verb::head: head_.method = method::head; break;
    default: head_.method = method::other; break;
    }
    head_.method_text.assign(req.method_string());
    head_.target.assign(req.target());
    return {state::done, used, {}};
}

} // namespace spliced::http
