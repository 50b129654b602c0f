#pragma once
// One HTTP/1.1 connection of spliced-get on the ring: CONNECT, SEND a request head, RECV the
// response head, then move the body into the output file at the position its owner gives, one
// request at a time, kept alive between requests. The body takes one of three paths (--io;
// perf/clients measures them):
//   plain   RECV into the connection's buffer, WRITE from it;
//   fixed   the buffer is registered with the ring: READ_FIXED from the socket, WRITE_FIXED;
//   splice  SPLICE socket -> the connection's pipe -> file: the bytes never reach user space and
//           are not hashed on the way (integrity reads them back at the end).
// Body bytes that came in the buffer with the head are written from the buffer on every path.
//
// Ownership (DESIGN.md §11): the downloader owns every fetch_connection and frees one only when
// idle() (no operation in flight: its callback_count is zero). The socket, the pipe and the
// request text belong to the connection; its buffer belongs to the connection_pool, which
// outlives it; so every SQE names memory that outlives its CQE. stop() shuts the socket down,
// which ends any RECV, READ, SEND or socket SPLICE in flight, and cancels a CONNECT (a shut-down
// socket that is still connecting does not notice); a WRITE or a pipe-to-file SPLICE ends by
// itself; the connection then reports failed() once, from its last completion.

#include "spliced/client/receive_path.hpp"
#include "spliced/core/callback_count.hpp"
#include "spliced/core/unique_fd.hpp"
#include "spliced/http/response_reader.hpp"
#include "spliced/uring/operation.hpp"
#include "spliced/uring/ring.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <netinet/in.h>
#include <span>
#include <string>
#include <sys/socket.h>

namespace spliced::client {

class fetch_connection;

// What the connection reports to the downloader, always from a completion.
class fetch_events {
  public:
    // The head arrived. Return how many body bytes to write and where (`length` 0: the response
    // is not wanted, the connection closes). The downloader validates the head here.
    struct body_target {
        std::uint64_t offset = 0;
        std::uint64_t length = 0;
    };
    virtual body_target head_arrived(fetch_connection& c,
                                     const http::response_head& h) noexcept = 0;
    // How many more bytes from `offset` the connection may write now (a split may have moved the
    // end of its piece). 0 stops the body: the rest of the response is dropped, the socket closed.
    virtual std::uint64_t may_write(fetch_connection& c, std::uint64_t offset) noexcept = 0;
    // How many body bytes the connection may receive now (--limit-rate); 0 pauses it until
    // resume(). Asked before every body RECV.
    virtual std::uint64_t receive_allowance(fetch_connection& c) noexcept = 0;
    // `length` bytes were written at `offset`; `bytes` holds them when they passed through the
    // connection's buffer (still there), and is empty when they were spliced.
    virtual void written(fetch_connection& c, std::uint64_t offset, std::uint64_t length,
                         std::span<const std::byte> bytes) noexcept = 0;
    // The body target is fully written; the connection is idle and reusable when `reusable`.
    virtual void response_done(fetch_connection& c, bool reusable) noexcept = 0;
    // Connect, send, receive or write failed, the peer closed early, or stop() was called.
    // `error` is a negative errno (or -EPROTO for a malformed response, -EPIPE for a body cut
    // short). Nothing is in flight any more.
    virtual void failed(fetch_connection& c, int error) noexcept = 0;

  protected:
    ~fetch_events() = default;
};

class fetch_connection {
  public:
    // The buffer (of `buffer_size` bytes; registered with the ring at `buffer_index` for
    // receive_path::fixed) must outlive the connection.
    struct buffer {
        std::byte* data = nullptr;
        std::size_t size = 0;
        unsigned index = 0;
    };
    // Where body bytes go: FILE.part, and (receive_path::fixed, where the filesystem allows)
    // the same file opened with O_DIRECT, for writes that start and end on `direct_align`
    // boundaries from an aligned buffer. Both descriptors outlive the connection.
    struct file_target {
        int fd = -1;
        int direct_fd = -1;
        std::size_t direct_align = 0; // 0: no O_DIRECT
    };
    fetch_connection(uring::ring& ring, fetch_events& events, const sockaddr_storage& peer,
                     socklen_t peer_length, file_target file, buffer b, receive_path path);
    fetch_connection(const fetch_connection&) = delete;
    fetch_connection& operator=(const fetch_connection&) = delete;
    ~fetch_connection();

    // Sends `request` (connecting first if need be). `head_request`: the response has no body.
    void start(std::string request, bool head_request) noexcept;
    // Ends the connection: whatever is in flight completes, then failed(-ECANCELED) once.
    void stop() noexcept;
    // Receives again after receive_allowance() said 0 (nothing is in flight meanwhile).
    void resume() noexcept;
    bool paused() const noexcept { return paused_; }

    bool idle() const noexcept { return pending_.zero(); }
    bool connected() const noexcept { return connected_; }
    // Monotonic ns of the last byte received or connect completed, for the stall timeout.
    std::uint64_t last_progress_ns() const noexcept { return last_progress_ns_; }
    // Body bytes received by this connection since it was made (for --json).
    std::uint64_t received_bytes() const noexcept { return received_bytes_; }
    unsigned id = 0; // the downloader's tag (piece owner)

  private:
    void on_connect(int res, std::uint32_t flags) noexcept;
    void on_send(int res, std::uint32_t flags) noexcept;
    void on_recv(int res, std::uint32_t flags) noexcept;
    void on_write(int res, std::uint32_t flags) noexcept;
    void on_splice_in(int res, std::uint32_t flags) noexcept;
    void on_splice_out(int res, std::uint32_t flags) noexcept;
    void on_cancel(int, std::uint32_t) noexcept { settle(); }
    void send_request() noexcept;
    void receive() noexcept;
    void take_head() noexcept;
    void write_body() noexcept;
    std::uint64_t writable(std::uint64_t n) noexcept;
    enum class direct_step { write_buffered, write_direct, receive_more };
    direct_step plan_direct(std::uint64_t& n, std::size_t available) noexcept;
    void splice_in() noexcept;
    void splice_out() noexcept;
    void fail(int error) noexcept;
    void settle() noexcept;

    enum class phase { closed, connecting, sending, head, body, idle };
    uring::ring& ring_;
    fetch_events& events_;
    sockaddr_storage peer_;
    socklen_t peer_length_;
    file_target file_;
    unique_fd socket_;
    callback_count pending_; // operations in flight
    std::byte* buffer_;
    std::size_t buffer_size_;
    unsigned buffer_index_;
    receive_path path_;
    unique_fd pipe_read_, pipe_write_; // receive_path::splice
    std::size_t pipe_size_ = 0;
    std::size_t in_pipe_ = 0;  // spliced in, not yet out to the file
    std::size_t filled_ = 0;   // bytes in buffer_
    std::size_t consumed_ = 0; // of those, handled (head, or body written)
    std::string request_;
    std::size_t sent_ = 0;
    bool head_request_ = false;
    http::response_reader reader_;
    bool keep_alive_ = false;
    std::uint64_t body_left_ = 0;   // of the wanted body, still to write
    std::uint64_t body_offset_ = 0; // where the next written byte goes
    std::uint64_t write_length_ = 0;
    phase phase_ = phase::closed;
    bool connected_ = false;
    bool stopping_ = false;
    bool paused_ = false; // waiting for receive_allowance(), nothing in flight
    int error_ = 0;       // the first failure, reported once nothing is in flight
    std::uint64_t last_progress_ns_ = 0;
    std::uint64_t received_bytes_ = 0;

    using self = fetch_connection;
    uring::member_operation<self, &self::on_connect> connect_op_{uring::op_kind::connect, *this};
    uring::member_operation<self, &self::on_send> send_op_{uring::op_kind::send, *this};
    uring::member_operation<self, &self::on_recv> recv_op_{uring::op_kind::recv, *this};
    uring::member_operation<self, &self::on_write> write_op_{uring::op_kind::write, *this};
    uring::member_operation<self, &self::on_cancel> cancel_op_{uring::op_kind::cancel, *this};
    uring::member_operation<self, &self::on_splice_in> splice_in_op_{uring::op_kind::splice, *this};
    uring::member_operation<self, &self::on_splice_out> splice_out_op_{uring::op_kind::splice,
                                                                       *this};
};

} // namespace spliced::client
