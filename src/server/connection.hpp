#pragma once
// One client connection: receive → parse → resolve → respond → keep-alive or close (DESIGN.md
// "The data path"), each step a method below, in that order. The request's parts live in an
// exchange (exchange.hpp): resolver, response, body_sender, request_record.
//
// Ownership: the worker owns connections (event_loop). A connection owns its socket, its exchange
// while a request is in progress or bytes are buffered, and its receive and cancel operations.
// One count, callbacks_, holds everything that may still call it back: every operation in flight
// (its own and its exchange's), its place in a pipe or buffer queue, and its armed deadline.
// Closing (close_now) leaves every queue, cancels what is in flight on the socket and starts
// nothing new; the worker frees the connection once the count is zero (src/server/README.md).

#include "exchange.hpp"
#include "spliced/core/callback_count.hpp"
#include "spliced/server/deadline_list.hpp"
#include "spliced/uring/operation.hpp"

#include <boost/intrusive/list_hook.hpp>
#include <memory>
#include <string>

namespace spliced::server {

using closing_hook =
    boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>>;

class connection final : private resolve_client, private send_client {
  public:
    connection(worker_state& w, int socket_fd) noexcept;
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    void start() noexcept;
    // Timer expiry or shutdown: stop whatever is in progress and close. A request in progress
    // ends for `why`.
    void abort(request_end why) noexcept;
    // Drain: an idle connection closes now, a busy one after its current response.
    void drain() noexcept;
    // True while anything may still call this connection back (callbacks_ is not zero).
    bool busy() const noexcept { return !callbacks_.zero(); }
    bool closing() const noexcept { return state_ == state::closing; }

    // For the worker's lists, which count their membership in callbacks_.
    deadline_hook timer_hook_; // in at most one of the worker's deadline lists
    std::uint64_t deadline_ns_ = 0;
    callback_count callbacks_;
    closing_hook closing_hook_; // in the worker's closing list once closed, until freed
    std::size_t index_ = 0;     // position in the worker's connection table

  private:
    enum class state { reading, resolving, sending, lingering, closing };

    exchange* engage() noexcept;
    void disengage() noexcept;
    void receive() noexcept;
    void on_recv(int res, std::uint32_t flags) noexcept;
    void parse() noexcept;

    void resolved(const opened_file& file, std::string_view encoding) noexcept override;
    void unresolved(http::status s, std::string_view extra) noexcept override;
    void respond() noexcept;

    void sent(std::uint64_t body_bytes) noexcept override;
    void response_sent() noexcept override;
    void send_failed(request_end why) noexcept override;
    void file_released() noexcept override;

    void finish(request_end how) noexcept;
    void linger() noexcept;
    void close_now() noexcept;
    void on_cancel(int, std::uint32_t) noexcept {}
    void disarm_timer() noexcept;

    worker_state& w_;
    int fd_;
    state state_ = state::reading;
    bool recv_into_exchange_ = false; // the provided buffers ran dry: receive into the exchange
    std::unique_ptr<exchange> x_;     // while a request is in progress or bytes are buffered
    std::string peer_;                // client address, when the access log is on
    uring::member_operation<connection, &connection::on_recv> recv_op_{uring::op_kind::recv, *this};
    // Cancels every operation on the socket when the connection closes.
    uring::member_operation<connection, &connection::on_cancel> cancel_op_{uring::op_kind::cancel,
                                                                           *this};
};

} // namespace spliced::server
