#pragma once
// Opens one file in the ring: OPENAT2 beneath the root, then STATX of exactly that descriptor,
// FILES_UPDATE into a fixed slot and CLOSE of the plain descriptor, hard-linked so that all three
// run in order whatever fails (DESIGN.md §6). The caller owns the slot it gets back.

#include "spliced/core/result.hpp"
#include "spliced/uring/operation.hpp"
#include "spliced/uring/ring.hpp"
#include "spliced/uring/slot_allocator.hpp"
#include "spliced/uring/slot_closer.hpp"

#include <linux/openat2.h>
#include <linux/stat.h>
#include <string>

namespace spliced::server {

struct opened_file {
    unsigned slot = 0;    // fixed-file index holding the file; the receiver must close it
    struct statx stat {}; // of the very descriptor in `slot`
};

class open_client {
  public:
    virtual void file_opened(result<opened_file> file) noexcept = 0;

  protected:
    ~open_client() = default;
};

class file_opener {
  public:
    file_opener(uring::ring& r, uring::slot_allocator& slots, uring::slot_closer& closer,
                int root_fd, open_client& client) noexcept;

    // `relative` must be a normalized path (http::normalize_target); at most one open at a time.
    void open(std::string relative) noexcept;
    bool busy() const noexcept;

  private:
    void on_open(int res, std::uint32_t) noexcept;
    void on_statx(int res, std::uint32_t) noexcept;
    void on_install(int res, std::uint32_t) noexcept;
    void on_close(int res, std::uint32_t) noexcept;
    void maybe_finish() noexcept;

    uring::ring* ring_;
    uring::slot_allocator* slots_;
    uring::slot_closer* closer_;
    int root_fd_;
    open_client* client_;

    std::string path_;  // read by the kernel while OPENAT2 is in flight
    open_how how_{};    // likewise
    int plain_fd_ = -1; // from OPENAT2; FILES_UPDATE reads it, CLOSE ends it
    unsigned slot_ = 0;
    struct statx stat_ {};
    int statx_res_ = 0;
    int install_res_ = 0;
    bool no_slot_ = false; // the fixed table was full: only the CLOSE was submitted
    int pending_ = 0;      // CQEs still expected from the statx/install/close chain

    uring::member_operation<file_opener, &file_opener::on_open> open_op_{uring::op_kind::openat,
                                                                         *this};
    uring::member_operation<file_opener, &file_opener::on_statx> statx_op_{uring::op_kind::statx,
                                                                           *this};
    uring::member_operation<file_opener, &file_opener::on_install> install_op_{
        uring::op_kind::files_update, *this};
    uring::member_operation<file_opener, &file_opener::on_close> close_op_{uring::op_kind::close,
                                                                           *this};
};

} // namespace spliced::server
