#pragma once
// Opens one file for a connection, through the worker's open-file cache (DESIGN.md §6).
//
// - A cached entry checked within --open-file-cache-valid is handed over at once: no system call.
// - An older one is revalidated with one STATX of the path; if the path still names the same
//   version (device, inode, size, mtime) it is handed over, otherwise it leaves the cache and the
//   file is opened afresh.
// - A miss is OPENAT2 beneath the root, then STATX of exactly that descriptor, FILES_UPDATE into a
//   fixed slot and CLOSE of the plain descriptor, hard-linked so that all three run in order
//   whatever fails. Regular files then enter the cache.

#include "spliced/core/result.hpp"
#include "spliced/fs/open_file_cache.hpp"
#include "spliced/uring/operation.hpp"

#include <cassert>
#include <linux/openat2.h>
#include <linux/stat.h>
#include <string>

namespace spliced::server {

struct worker_state;

struct opened_file {
    unsigned slot = 0; // fixed-file index holding the file
    std::uint32_t mode = 0;
    // Regular files: the cache entry that owns `slot` and knows the file's headers. Anything else
    // (a directory) has none, and its receiver closes `slot`. Either way: worker_state::release.
    fs::open_file_cache::entry* entry = nullptr;
};

class open_client {
  public:
    // May be called from within open() (a fresh cache hit).
    virtual void file_opened(result<opened_file> file) noexcept = 0;

  protected:
    ~open_client() = default;
};

class file_opener {
  public:
    file_opener(worker_state& w, open_client& client) noexcept : w_(&w), client_(&client) {}
    ~file_opener() { assert(!busy() && "an opener freed with an operation in flight"); }
    file_opener(const file_opener&) = delete;
    file_opener& operator=(const file_opener&) = delete;

    // Counts this opener's operations in `owner`; only while idle.
    void attach(callback_count& owner) noexcept;
    // `relative` must be a normalized path (http::normalize_target); at most one open at a time.
    void open(std::string relative) noexcept;
    // The owner closed: an open in flight finishes without starting another step (a descriptor
    // it got is closed at once) and reports ECANCELED; one already installing completes and
    // reports its file, which the owner releases.
    void abandon() noexcept { abandoned_ = busy(); }
    bool busy() const noexcept;

  private:
    void hand_over(fs::open_file_cache::entry& e) noexcept;
    void open_path() noexcept;
    void on_check(int res, std::uint32_t) noexcept;
    void on_open(int res, std::uint32_t) noexcept;
    bool leads_to_hidden(int fd) noexcept;
    void on_statx(int res, std::uint32_t) noexcept;
    void on_install(int res, std::uint32_t) noexcept;
    void on_close(int res, std::uint32_t) noexcept;
    void maybe_finish() noexcept;

    worker_state* w_;
    open_client* client_;

    std::string path_;  // read by the kernel while OPENAT2 or the revalidating STATX is in flight
    open_how how_{};    // likewise
    int plain_fd_ = -1; // from OPENAT2; FILES_UPDATE reads it, CLOSE ends it
    unsigned slot_ = 0;
    struct statx stat_ {};
    int statx_res_ = 0;
    int install_res_ = 0;
    bool no_slot_ = false;   // the fixed table was full: only the CLOSE was submitted
    bool abandoned_ = false; // see abandon()
    int pending_ = 0;        // CQEs still expected from the statx/install/close chain
    fs::open_file_cache::entry* checking_ = nullptr; // the entry being revalidated (referenced)

    uring::member_operation<file_opener, &file_opener::on_check> check_op_{uring::op_kind::statx,
                                                                           *this};
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
