#pragma once
// Everything one request needs beyond its socket: the receive buffer and parser, the resolver,
// the response, its sender and the request's record. A connection holds an exchange from the
// first byte of a request until it is idle again (keep-alive with nothing buffered); idle
// connections hold none, so 10,000 of them cost 10,000 small objects, not 10,000 of these. The
// worker keeps spares (exchange_pool), so a busy connection does not allocate per request.
//
// Lifetime: every operation of an exchange (its resolver's and its sender's) is counted in the
// callback_count of the connection holding it (attach), which is freed only at zero; an exchange
// goes back to the spares only when nothing of it is in flight and it holds no file.

#include "body_sender.hpp"
#include "request_record.hpp"
#include "resolver.hpp"
#include "response.hpp"
#include "spliced/http/request_reader.hpp"

#include <memory>
#include <span>
#include <string_view>

namespace spliced::server {

class exchange final {
  public:
    explicit exchange(worker_state& w) noexcept;
    ~exchange() { assert(!busy() && "an exchange freed while it may be called back"); }
    exchange(const exchange&) = delete;
    exchange& operator=(const exchange&) = delete;

    // Engaged by a connection: its operations count in `owner`, its parts answer `client`.
    // Only while nothing of it is in flight.
    void attach(callback_count& owner, resolve_client& resolved, send_client& sent) noexcept {
        assert(!busy());
        resolver_.attach(owner, resolved);
        sender_.attach(owner, sent);
    }
    // An operation or a lease queue place of this exchange may still call back.
    bool busy() const noexcept { return resolver_.busy() || sender_.busy(); }
    // Going back to the spares: what a request left behind (half a head, a held file) goes.
    void recycle(worker_state& w) noexcept;

    // ---- the receive buffer: bytes received and not yet consumed by the parser
    std::string_view buffered() const noexcept { return {in_.get(), in_length_}; }
    bool empty() const noexcept { return in_length_ == 0; }
    // Room for the next receive: grown (×4, never past `limit`) to at least one byte, keeping
    // what is buffered. No receive may be in flight into it.
    std::span<char> receive_space(std::size_t limit);
    void received(std::size_t bytes) noexcept { in_length_ += bytes; }
    // Bytes a provided buffer received (only into an empty exchange buffer): grown, then copied.
    void received_copy(std::span<const char> bytes, std::size_t limit);
    // The parser took `bytes` from the front; what follows (a pipelined request) moves up.
    void consume(std::size_t bytes) noexcept;
    void discard() noexcept { in_length_ = 0; }

    http::request_reader& reader() noexcept { return reader_; }
    resolver& route() noexcept { return resolver_; }
    response& reply() noexcept { return response_; }
    body_sender& sender() noexcept { return sender_; }
    request_record& record() noexcept { return record_; }

  private:
    void make_room(std::size_t need, std::size_t limit);

    std::size_t in_capacity_;    // grows (×4) up to max_header_bytes + 1, never shrinks
    std::unique_ptr<char[]> in_; // the kernel may write here while a receive is in flight
    std::size_t in_length_ = 0;
    http::request_reader reader_;
    request_record record_;
    resolver resolver_;
    response response_;
    body_sender sender_;
};

} // namespace spliced::server
