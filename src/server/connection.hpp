#pragma once
// One client connection: receive → parse → resolve/open → head → body → keep-alive or close
// (DESIGN.md "The data path"), each step a method below, in that order.
//
// Ownership: the worker owns connections. A connection owns its socket, its exchange (receive
// buffer, the fixed slot of the file it is serving, the operations of a request) and its receive
// operation. One count, callbacks_, holds everything that may still call it back: every
// operation in flight (its own, its exchange's, its opener's and its transfers'), its place in a
// pipe or buffer queue, and its armed deadline. Closing (close_now) leaves every queue, cancels
// what is in flight on the socket and starts nothing new; the worker frees the connection once
// the count is zero (DESIGN.md §11, src/server/README.md).

#include "copy_transfer.hpp"
#include "file_opener.hpp"
#include "splice_transfer.hpp"
#include "spliced/core/callback_count.hpp"
#include "spliced/http/file_response.hpp"
#include "spliced/http/path.hpp"
#include "spliced/http/request_reader.hpp"
#include "spliced/http/response_head.hpp"
#include "spliced/metrics/shard.hpp"
#include "spliced/server/deadline_list.hpp"
#include "spliced/uring/operation.hpp"

#include <memory>
#include <optional>

namespace spliced::server {

struct worker_state;

// How a request ended. Whatever ends it, finish() counts it (requests_total,
// request_duration_seconds, responses_aborted_total), and writes its access-log line, once.
enum class request_end : std::uint8_t {
    complete,
    client_gone, // the socket failed, or the client closed
    file_shrank, // end of file came early: a byte-exact prefix was sent, then the close
    timeout,     // --send-timeout (or the head's own timeout) passed
    error,       // a transfer failed
    shutdown,    // the drain timeout ended it
};

class connection final {
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

    // Everything a request needs beyond the socket: receive buffer, parser, response head and
    // plan, the file, the opener and the transfers. A connection holds one from the first byte
    // of a request until it is idle again (keep-alive with nothing buffered); idle connections
    // hold none, so 10,000 of them cost 10,000 small objects, not 10,000 of these. The worker
    // keeps spares (worker_state::exchanges), so a busy connection does not allocate per request.
    class exchange final : private open_client, private transfer_client {
      public:
        explicit exchange(worker_state& w) noexcept;
        // Anything of this exchange that may still call back: an operation or a queue place.
        bool busy() const noexcept;
        // Counts every operation and queue place of this exchange in `owner`; only while idle.
        void attach(callback_count& owner) noexcept;
        // Grows the receive buffer (×4, never past `limit`) to hold at least `need` bytes,
        // keeping what it holds. No receive may be in flight into it.
        void make_room(std::size_t need, std::size_t limit);

      private:
        friend class connection;
        // The tiers and the opener report to the exchange, which passes on to its connection.
        void file_opened(result<opened_file> file) noexcept override {
            owner_->file_opened(std::move(file));
        }
        void transfer_progress(std::uint64_t bytes) noexcept override {
            owner_->transfer_progress(bytes);
        }
        void head_progress(std::uint64_t bytes) noexcept override { owner_->head_progress(bytes); }
        void transfer_done(transfer_end end) noexcept override { owner_->transfer_done(end); }
        void on_send(int res, std::uint32_t flags) noexcept { owner_->on_send(res, flags); }

        connection* owner_ = nullptr;
        std::size_t in_capacity_;    // grows (×4) up to max_header_bytes + 1, never shrinks
        std::unique_ptr<char[]> in_; // received bytes not yet consumed; the kernel may write here
        std::size_t in_length_ = 0;
        http::request_reader reader_;
        http::response_head head_;  // the kernel reads from here while send_op_ is in flight
        std::string_view outgoing_; // what send_op_ is sending (in head_ or response_.pieces)
        bool outgoing_more_ = false;
        bool head_more_ = false;       // a body follows the head
        http::file_response response_; // the body plan of the current response
        std::size_t part_ = 0;         // index of the range being sent
        bool piece_sent_ = false;      // multipart: the piece before range part_ is out
        bool keep_alive_ = true;
        unsigned version_ = 11;
        http::method method_ = http::method::get;
        http::normalized_path path_; // of the current request; relative is what gets opened
        bool tried_index_ = false;
        std::optional<opened_file>
            original_;                    // held open while its precompressed siblings are tried
        std::size_t next_encoding_ = 0;   // next entry of cfg.precompressed to try
        std::optional<opened_file> file_; // being served; released when the response ends
        std::uint64_t request_start_ns_ = 0;
        bool in_request_ = false;     // begun and not yet finished (finish() clears it)
        unsigned status_code_ = 0;    // of the response chosen; 0 until one is
        std::uint64_t body_sent_ = 0; // body bytes the kernel took for the current response
        bool head_parsed_ = false;    // reader_.head() describes the current request
        file_opener opener_;
        splice_transfer splice_;
        copy_transfer copy_;
        metrics::tier tier_ = metrics::tier::splice; // of the range being sent
        uring::member_operation<exchange, &exchange::on_send> send_op_{uring::op_kind::send, *this};
    };

    deadline_hook timer_hook_; // in at most one of the worker's deadline lists
    std::uint64_t deadline_ns_ = 0;
    // Everything that may still call this connection back (see the top of this file). Public for
    // the deadline lists, which count their membership in it.
    callback_count callbacks_;
    std::size_t index_ = 0; // position in the worker's connection table

  private:
    enum class state { reading, opening, sending_head, sending_body, lingering, closing };

    exchange& engage() noexcept;
    void disengage() noexcept;
    void receive() noexcept;
    void on_recv(int res, std::uint32_t flags) noexcept;
    void parse() noexcept;
    void handle_request() noexcept;
    void file_opened(result<opened_file> file) noexcept;
    void try_next_sibling() noexcept;
    void sibling_opened(result<opened_file> sibling) noexcept;
    void serve_file(const opened_file& file, std::string_view encoding = {}) noexcept;
    void respond_simple(http::status s, std::string_view extra = {}) noexcept;
    void send_head(bool more_follows) noexcept;
    void send_bytes(std::string_view bytes, bool more_follows) noexcept;
    void on_send(int res, std::uint32_t) noexcept;
    void send_body() noexcept;
    void start_range(const http::byte_range& range) noexcept;
    void start_copy(std::uint64_t offset, std::uint64_t length) noexcept;
    bool start_small() noexcept;
    void transfer_progress(std::uint64_t bytes) noexcept;
    void head_progress(std::uint64_t bytes) noexcept;
    void transfer_done(transfer_end end) noexcept;
    void finish_response() noexcept;
    void release_file() noexcept;
    void begin_request(bool parsed) noexcept;
    void finish(request_end how) noexcept;
    void log_request(bool completed) noexcept;
    void linger() noexcept;
    void close_now() noexcept;
    void on_cancel(int, std::uint32_t) noexcept {}
    void disarm_timer() noexcept;

    worker_state& w_;
    int fd_;
    state state_ = state::reading;
    bool recv_into_exchange_ = false; // the provided buffers ran dry: receive into x_->in_ once
    std::unique_ptr<exchange> x_;     // while a request is in progress or bytes are buffered
    std::string peer_;                // client address, when the access log is on
    uring::member_operation<connection, &connection::on_recv> recv_op_{uring::op_kind::recv, *this};
    // Cancels every operation on the socket when the connection closes.
    uring::member_operation<connection, &connection::on_cancel> cancel_op_{uring::op_kind::cancel,
                                                                           *this};
};

} // namespace spliced::server
