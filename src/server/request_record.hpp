#pragma once
// The one end of every request (DESIGN.md §12): what a request asked, what it was answered and how
// much of the answer went out, counted (requests_total, request_duration_seconds,
// responses_aborted_total{reason}) and logged by finish() exactly once, whatever ended it.

#include "spliced/http/byte_range.hpp"
#include "spliced/http/request_reader.hpp"

#include <cstdint>
#include <span>
#include <string_view>

namespace spliced::server {

struct worker_state;

// How a request ended.
enum class request_end : std::uint8_t {
    complete,
    client_gone, // the socket failed, or the client closed
    file_shrank, // end of file came early: a byte-exact prefix was sent, then the close
    timeout,     // --send-timeout (or the head's own timeout) passed
    error,       // a transfer failed
    shutdown,    // the drain timeout ended it
};

class request_record {
  public:
    // A request begins at `now_ns`: `head` was parsed (it lives in the exchange's reader, which
    // is not reset before finish()), or is null when the bytes could not be parsed as a head.
    void begin(std::uint64_t now_ns, const http::request_head* head, bool keep_alive) noexcept;
    // Begun and not yet finished.
    bool open() const noexcept { return open_; }

    http::method method() const noexcept { return method_; }
    unsigned version() const noexcept { return version_; }
    bool keep_alive() const noexcept { return keep_alive_; }
    void refuse_keep_alive() noexcept { keep_alive_ = false; }

    // The status of the response chosen.
    void answer(unsigned code) noexcept { status_ = code; }
    // Body bytes the kernel took.
    void add_body(std::uint64_t bytes) noexcept { body_sent_ += bytes; }

    // Counts and logs the request, once. `mid_response`: its head or body was being sent, so an
    // end other than `complete` is an aborted response. `ranges`: those of a 206, for the log.
    void finish(request_end how, bool mid_response, std::span<const http::byte_range> ranges,
                std::string_view peer, worker_state& w) noexcept;

  private:
    void log(bool completed, std::span<const http::byte_range> ranges, std::string_view peer,
             worker_state& w) noexcept;

    const http::request_head* head_ = nullptr;
    std::uint64_t start_ns_ = 0;
    std::uint64_t body_sent_ = 0;
    unsigned status_ = 0; // 0 until a response is chosen
    unsigned version_ = 11;
    http::method method_ = http::method::other;
    bool keep_alive_ = false;
    bool open_ = false;
};

} // namespace spliced::server
