#pragma once
// One server a download fetches from: its resolved address and the request heads sent to it
// (private to the client module). Every request names the same representation: the probe asks
// for byte 0 (If-Range when resuming), a piece asks for its range under If-Match (or
// If-Unmodified-Since when only a strong date is pinned), so a changed file answers 412 or 200
// instead of bytes of another version.

#include "spliced/client/output_file.hpp"
#include "spliced/client/response_check.hpp"
#include "spliced/http/byte_range.hpp"
#include "spliced/http/url.hpp"

#include <netinet/in.h>
#include <optional>
#include <string>
#include <sys/socket.h>

namespace spliced::client {

class origin {
  public:
    origin(http::url url, const sockaddr_storage& peer, socklen_t peer_length)
        : url_(std::move(url)), peer_(peer), peer_length_(peer_length) {}

    // `previous`: --if-changed's record of the last download (If-None-Match, or
    // If-Modified-Since when it has no ETag); never together with `resuming`.
    std::string probe_request(const std::optional<pinned>& resuming,
                              const output_file::validators* previous = nullptr) const;
    std::string piece_request(const http::byte_range& range, const pinned& pin) const;

    const http::url& url() const noexcept { return url_; }
    const sockaddr_storage& peer() const noexcept { return peer_; }
    socklen_t peer_length() const noexcept { return peer_length_; }

  private:
    http::url url_;
    sockaddr_storage peer_;
    socklen_t peer_length_;
};

} // namespace spliced::client
