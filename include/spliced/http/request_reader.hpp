#pragma once
// Bytes in, request heads out: an adapter around Beast's request_parser<empty_body> that never
// sees a socket (DESIGN.md §7). Beast stays inside request_reader.cpp so that only one translation
// unit of the data path pays for its headers.

#include "spliced/http/status.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace spliced::http {

enum class method : unsigned char { get, head, options, other };

struct request_head {
    http::method method = method::other;
    std::string method_text; // as sent, for logs
    std::string target;      // as sent, not yet decoded
    unsigned version = 11;   // 10 = HTTP/1.0, 11 = HTTP/1.1 (1.2+ is treated as 1.1)
    bool keep_alive = true;  // after HTTP/1.0 and HTTP/1.1 rules and the Connection field

    // Fields the response depends on; list fields sent more than once are joined with ", "
    // (RFC 9110 §5.3). A Range field sent twice is dropped (ignored, README "Ranges").
    std::optional<std::string> range;
    std::optional<std::string> if_range;
    std::optional<std::string> if_match;
    std::optional<std::string> if_none_match;
    std::optional<std::string> if_modified_since;
    std::optional<std::string> if_unmodified_since;
    std::optional<std::string> accept_encoding;
    std::optional<std::string> want_repr_digest; // RFC 9530 §4
    std::string referer;                         // for the access log; empty if absent
    std::string user_agent;
};

class request_reader {
  public:
    enum class state { need_more, done, error };
    struct outcome {
        state result = state::need_more;
        std::size_t consumed = 0;           // bytes of `input` that belong to this request
        status error = status::bad_request; // meaningful when result == error
    };

    explicit request_reader(std::size_t max_header_bytes);
    ~request_reader();
    request_reader(request_reader&&) noexcept;
    request_reader& operator=(request_reader&&) noexcept;

    // Feed every unconsumed byte received so far (the same prefix again plus new bytes while
    // need_more). On done, head() holds the request and the next request starts at `consumed`.
    // On error, the connection must answer `error` and close: the byte stream is unusable.
    outcome feed(std::string_view input) noexcept;

    const request_head& head() const noexcept { return head_; }

    // Prepares for the next request on the same connection.
    void reset() noexcept;

  private:
    enum class version_check { as_is, downgrade, unsupported };
    static version_check check_version(std::string_view request_line) noexcept;
    struct head_scan {
        enum { partial, complete, bad } result;
        status error;
    };
    head_scan scan(std::string_view input) noexcept;
    status start_line(std::string_view line) noexcept;

    struct parser_state;
    std::unique_ptr<parser_state> parser_; // Beast's parser, rebuilt per request
    request_head head_;
    std::size_t max_header_bytes_;
    // Of the current request: bytes known to hold no end of head (the whole head once complete),
    // and the length of its request line with CRLF once Beast has taken it (0 until then).
    std::size_t scanned_ = 0;
    std::size_t line_length_ = 0;
};

} // namespace spliced::http
