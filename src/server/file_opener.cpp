#include "file_opener.hpp"

#include "spliced/fs/root.hpp"

#include <array>
#include <fcntl.h>

namespace spliced::server {

file_opener::file_opener(uring::ring& r, uring::slot_allocator& slots, uring::slot_closer& closer,
                         int root_fd, open_client& client) noexcept
    : ring_(&r), slots_(&slots), closer_(&closer), root_fd_(root_fd), client_(&client) {}

bool file_opener::busy() const noexcept {
    return open_op_.in_flight() || statx_op_.in_flight() || install_op_.in_flight() ||
           close_op_.in_flight();
}

void file_opener::open(std::string relative) noexcept {
    path_ = std::move(relative);
    statx_res_ = install_res_ = 0;
    how_ = fs::file_open_how();
    io_uring_prep_openat2(&open_op_.sqe(), root_fd_, path_.c_str(), &how_);
    ring_->push(open_op_);
}

void file_opener::on_open(int res, std::uint32_t) noexcept {
    if (res < 0) {
        client_->file_opened(errno_code(-res));
        return;
    }
    plain_fd_ = res;
    auto slot = slots_->acquire();
    if (!slot) {
        // The fixed table is full: close the descriptor, answer 503.
        no_slot_ = true;
        io_uring_prep_close(&close_op_.sqe(), plain_fd_);
        pending_ = 1;
        ring_->push(close_op_);
        return;
    }
    slot_ = *slot;
    io_uring_prep_statx(&statx_op_.sqe(), plain_fd_, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT,
                        STATX_TYPE | STATX_MODE | STATX_INO | STATX_SIZE | STATX_MTIME, &stat_);
    io_uring_prep_files_update(&install_op_.sqe(), &plain_fd_, 1, static_cast<int>(slot_));
    io_uring_prep_close(&close_op_.sqe(), plain_fd_);
    pending_ = 3;
    std::array<uring::operation*, 3> chain{&statx_op_, &install_op_, &close_op_};
    ring_->push_chain(chain, /*hard=*/true);
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
        slots_->release(slot_); // nothing was installed
        client_->file_opened(errno_code(-install_res_));
        return;
    }
    if (statx_res_ < 0) {
        closer_->close(slot_);
        client_->file_opened(errno_code(-statx_res_));
        return;
    }
    client_->file_opened(opened_file{slot_, stat_});
}

} // namespace spliced::server
