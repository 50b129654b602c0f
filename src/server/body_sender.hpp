#pragma once
// Sends one response: its head with SEND, then its body segment by segment (DESIGN.md §4-5):
// multipart pieces with SEND, file ranges through a transfer tier, picked per range:
//   small   under --transfer auto, a lone range that fits a small buffer beside the head leaves
//           with the head in one SEND (copy_transfer with a head)
//   copy    with --transfer copy, under auto for ranges up to auto_copy_max, where splice is
//           refused (before any byte moved), and for the rest of a range when no pipe can exist
//   splice  everything else
//
// Lifetime: the sender's operations (its SEND and its transfers') are counted in its owner's
// callback_count (attach). After abandon() it starts nothing; when the last transfer operation
// that reads the file completes, it reports file_released() and nothing else.

#include "copy_transfer.hpp"
#include "request_record.hpp"
#include "response.hpp"
#include "splice_transfer.hpp"
#include "spliced/metrics/shard.hpp"
#include "spliced/uring/operation.hpp"

namespace spliced::server {

class send_client {
  public:
    // The socket took `body_bytes` of the body (0: only head bytes).
    virtual void sent(std::uint64_t body_bytes) noexcept = 0;
    virtual void response_sent() noexcept = 0;
    // The response cannot be completed; the connection must close (never pad, DESIGN.md §10).
    virtual void send_failed(request_end why) noexcept = 0;
    // After abandon(): no operation reads the response's file any more.
    virtual void file_released() noexcept = 0;

  protected:
    ~send_client() = default;
};

class body_sender final : private transfer_client {
  public:
    explicit body_sender(worker_state& w) noexcept;
    body_sender(const body_sender&) = delete;
    body_sender& operator=(const body_sender&) = delete;

    // Counts the sender's operations in `owner` and reports to `client`; only while idle.
    void attach(callback_count& owner, send_client& client) noexcept;
    // Sends `r` (which outlives the send) to `socket_fd`: its head, then its body if it has one.
    void start(response& r, int socket_fd) noexcept;
    // The head is out: what is sending now is body.
    bool in_body() const noexcept { return in_body_; }
    // The owner closes: see the top of this file.
    void abandon() noexcept;
    // An operation or a lease queue place of this sender may still call back.
    bool busy() const noexcept;
    // A transfer's operation may still read the response's file.
    bool reads_file() const noexcept { return splice_.busy() || copy_.busy(); }

  private:
    void transfer_progress(std::uint64_t bytes) noexcept override;
    void head_progress(std::uint64_t bytes) noexcept override;
    void transfer_done(transfer_end end) noexcept override;

    bool start_small() noexcept;
    void send_bytes(std::string_view bytes, bool more_follows) noexcept;
    void on_send(int res, std::uint32_t) noexcept;
    void next_segment() noexcept;
    void start_range() noexcept;
    void start_copy(std::uint64_t offset, std::uint64_t length) noexcept;

    worker_state& w_;
    send_client* client_ = nullptr;
    response* response_ = nullptr;
    int socket_fd_ = -1;
    std::string_view outgoing_; // what send_op_ is sending (in the response); the kernel reads it
    bool outgoing_more_ = false;
    bool in_body_ = false;
    bool abandoned_ = false;
    http::byte_range range_{};                   // being sent by a tier
    metrics::tier tier_ = metrics::tier::splice; // of range_
    splice_transfer splice_;
    copy_transfer copy_;
    uring::member_operation<body_sender, &body_sender::on_send> send_op_{uring::op_kind::send,
                                                                         *this};
};

} // namespace spliced::server
