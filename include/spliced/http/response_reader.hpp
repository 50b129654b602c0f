#pragma once
// Bytes in, response heads out, for the download client: Beast's response_parser<empty_body>
// given a whole head at a time, never a socket (DESIGN.md §7). The body is the caller's: it
// starts at `consumed` and is `content_length` bytes long.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace spliced::http {

struct response_head {
    unsigned status = 0;
    unsigned version = 11;
    bool keep_alive = true; // HTTP/1.0 and 1.1 rules and the Connection field
    bool chunked = false;   // Transfer-Encoding ends in chunked: no Content-Length applies
    std::optional<std::uint64_t> content_length;
    // Fields a resuming client checks; a field sent twice keeps its first value only when both
    // agree (a disagreeing repeat is an error, see response_reader::feed).
    std::optional<std::string> content_range;
    std::optional<std::string> etag;
    std::optional<std::string> last_modified;
    std::optional<std::string> retry_after;
    std::optional<std::string> repr_digest;
    std::optional<std::string> accept_ranges;
    std::optional<std::string> content_encoding;
};

class response_reader {
  public:
    enum class state { need_more, done, error };
    struct outcome {
        state result = state::need_more;
        std::size_t consumed = 0; // bytes of `input` that are the head; the body follows
    };

    explicit response_reader(std::size_t max_header_bytes = 64 * 1024);
    ~response_reader();
    response_reader(response_reader&&) noexcept;
    response_reader& operator=(response_reader&&) noexcept;

    // Feed every byte received since the response began (the same prefix again plus new bytes
    // while need_more). `head_request`: the response has no body whatever its fields say.
    // error: not HTTP/1.x, a malformed or oversized head, a bare-LF line end, conflicting
    // Content-Length or Content-Range fields, or both Content-Length and Transfer-Encoding.
    outcome feed(std::string_view input, bool head_request = false) noexcept;
    const response_head& head() const noexcept { return head_; }
    // For the next response on the same connection.
    void reset() noexcept;

  private:
    struct parser_state;
    std::unique_ptr<parser_state> parser_;
    response_head head_;
    std::size_t max_header_bytes_;
    std::size_t scanned_ = 0; // bytes known to hold no end of head
};

} // namespace spliced::http
