#pragma once
// Writes a response's status line and header fields. The body is sent by the server's transfer
// tiers, so Content-Length is always explicit and nothing here ever touches the body.

#include "spliced/http/status.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace spliced::http {

class response_head {
  public:
    // Starts "HTTP/1.1 <code> <reason>" followed by Server and Date fields; clears what was there.
    void start(status s, std::string_view date);
    void field(std::string_view name, std::string_view value);
    void field(std::string_view name, std::uint64_t value);
    // Adds "Connection: close" or, for an HTTP/1.0 keep-alive, "Connection: keep-alive",
    // then the blank line that ends the head.
    void finish(bool keep_alive, unsigned request_version);

    std::string_view bytes() const noexcept { return text_; }
    std::string& buffer() noexcept { return text_; }

  private:
    std::string text_; // capacity is kept across responses on one connection
};

// A complete short response for errors and redirects: head plus a one-line text body.
// `extra` holds ready-made header lines ("Allow: GET, HEAD\r\n"); `with_body` is false for HEAD.
void write_simple_response(response_head& out, status s, std::string_view date, bool keep_alive,
                           unsigned request_version, std::string_view extra = {},
                           bool with_body = true);

} // namespace spliced::http
