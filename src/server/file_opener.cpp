#include "file_opener.hpp"

#include "spliced/fs/root.hpp"
#include "worker_state.hpp"

#include <array>
#include <fcntl.h>
#include <new>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace spliced::server {

namespace {

constexpr unsigned statx_mask = STATX_TYPE | STATX_MODE | STATX_INO | STATX_SIZE | STATX_MTIME;

// Cached entries evicted at once when the fixed table has no slot left for an open.
constexpr std::size_t shed_on_full_table = 64;

} // namespace

bool file_opener::busy() const noexcept {
    return check_op_.in_flight() || open_op_.in_flight() || statx_op_.in_flight() ||
           install_op_.in_flight() || close_op_.in_flight();
}

void file_opener::attach(callback_count& owner) noexcept {
    assert(!busy());
    uring::count_in(owner, {&check_op_, &open_op_, &statx_op_, &install_op_, &close_op_});
}

void file_opener::open(std::string relative) noexcept {
    abandoned_ = false;
    path_ = std::move(relative);
    auto found = w_->files.find(path_, w_->now_ns);
    if (!found.file) {
        w_->shard.open_file_cache_misses.add();
        open_path();
        return;
    }
    if (found.fresh) {
        hand_over(*found.file);
        return;
    }
    // Older than the validity window: does the path still name this version? Following symlinks
    // here is safe: only an identical device and inode is ever served from the cache, and anything
    // else is reopened beneath the root.
    checking_ = found.file;
    io_uring_prep_statx(&check_op_.sqe(), w_->root_fd, path_.c_str(), AT_STATX_SYNC_AS_STAT,
                        statx_mask, &stat_);
    w_->ring.push(check_op_);
}

void file_opener::on_check(int res, std::uint32_t) noexcept {
    auto& entry = *std::exchange(checking_, nullptr);
    if (abandoned_) {
        w_->files.release(entry);
        client_->file_opened(errno_code(ECANCELED));
        return;
    }
    if (res == 0 && fs::same_version(entry.headers.id, entry.dev, stat_)) {
        w_->files.confirm(entry, w_->now_ns);
        hand_over(entry);
        return;
    }
    // Replaced, rewritten or gone: nobody new gets the old version; its users keep theirs.
    w_->files.invalidate(entry);
    w_->files.release(entry);
    w_->shard.open_file_cache_misses.add();
    open_path();
}

// A cache hit: the entry (already referenced by find) goes to the client.
void file_opener::hand_over(fs::open_file_cache::entry& e) noexcept {
    w_->shard.open_file_cache_hits.add();
    client_->file_opened(opened_file{e.slot, S_IFREG, &e});
}

// A normal name that a symlink turns into a dotfile (or into a dot directory) inside the root.
// One readlink of /proc/self/fd per file opened, none per request: the open-file cache keeps the
// answer with the file. Out of memory for the path name: refused, as a hidden file would be.
bool file_opener::leads_to_hidden(int fd) noexcept {
    try {
        return fs::hidden_below(w_->root_path, fs::real_path(fd));
    } catch (const std::bad_alloc&) {
        return true;
    }
}

void file_opener::open_path() noexcept {
    statx_res_ = install_res_ = 0;
    how_ = fs::file_open_how();
    io_uring_prep_openat2(&open_op_.sqe(), w_->root_fd, path_.c_str(), &how_);
    w_->ring.push(open_op_);
}

void file_opener::on_open(int res, std::uint32_t) noexcept {
    if (res < 0) {
        client_->file_opened(errno_code(-res));
        return;
    }
    if (abandoned_) {
        ::close(res); // a plain descriptor, opened O_NONBLOCK: closing it cannot block
        client_->file_opened(errno_code(ECANCELED));
        return;
    }
    if (!w_->cfg.serve_hidden && leads_to_hidden(res)) {
        ::close(res);
        client_->file_opened(errno_code(ENOENT));
        return;
    }
    plain_fd_ = res;
    auto slot = w_->slots.acquire();
    if (!slot) {
        // The fixed table is full: close the descriptor and answer 503, and make room for the
        // requests after this one by evicting idle cached files.
        w_->files.shed(shed_on_full_table);
        no_slot_ = true;
        io_uring_prep_close(&close_op_.sqe(), plain_fd_);
        pending_ = 1;
        w_->ring.push(close_op_);
        return;
    }
    slot_ = *slot;
    io_uring_prep_statx(&statx_op_.sqe(), plain_fd_, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT,
                        statx_mask, &stat_);
    io_uring_prep_files_update(&install_op_.sqe(), &plain_fd_, 1, static_cast<int>(slot_));
    io_uring_prep_close(&close_op_.sqe(), plain_fd_);
    pending_ = 3;
    std::array<uring::operation*, 3> chain{&statx_op_, &install_op_, &close_op_};
    w_->ring.push_chain(chain, /*hard=*/true);
}

void file_opener::on_statx(int res, std::uint32_t) noexcept {
    statx_res_ = res;
    maybe_finish();
}

void file_opener::on_install(int res, std::uint32_t) noexcept {
    install_res_ = res < 0 ? res : 0;
    maybe_finish();
}

void file_opener::on_close(int, std::uint32_t) noexcept {
    plain_fd_ = -1;
    maybe_finish();
}

void file_opener::maybe_finish() noexcept {
    if (--pending_ > 0)
        return;
    if (no_slot_) {
        no_slot_ = false;
        client_->file_opened(errno_code(ENFILE));
        return;
    }
    if (install_res_ < 0) {
        w_->slots.release(slot_); // nothing was installed
        client_->file_opened(errno_code(-install_res_));
        return;
    }
    if (statx_res_ < 0) {
        w_->closer.close(slot_);
        client_->file_opened(errno_code(-statx_res_));
        return;
    }
    if (!S_ISREG(stat_.stx_mode)) { // a directory (index, redirect) or something never served
        client_->file_opened(opened_file{slot_, stat_.stx_mode, nullptr});
        return;
    }
    fs::open_file_cache::entry* entry = nullptr;
    try {
        entry = &w_->files.insert(path_, slot_, stat_, w_->now_ns);
    } catch (const std::bad_alloc&) {
        w_->closer.close(slot_);
        client_->file_opened(errno_code(ENOMEM));
        return;
    }
    client_->file_opened(opened_file{slot_, stat_.stx_mode, entry});
}

} // namespace spliced::server
