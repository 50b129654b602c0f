#include "spliced/uring/pipe_pool.hpp"

#include "spliced/core/unique_fd.hpp"

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <unistd.h>

namespace spliced::uring {

unsigned pipe_pool::effective_pipe_size(unsigned requested) noexcept {
    unsigned max_size = 1u << 20;
    std::ifstream in("/proc/sys/fs/pipe-max-size");
    if (unsigned v = 0; in >> v && v > 0)
        max_size = v;
    return requested < max_size ? requested : max_size;
}

pipe_pool::pipe_pool(ring& r, slot_allocator& slots, unsigned pipe_size,
                     unsigned max_pipes) noexcept
    : ring_(&r), slots_(&slots), pipe_size_(pipe_size), max_pipes_(max_pipes) {
    idle_.reserve(max_pipes);
}

pipe_pool::~pipe_pool() {
    for (auto& pipe : idle_)
        destroy(pipe);
}

result<pipe_lease> pipe_pool::acquire() noexcept {
    if (!idle_.empty()) {
        auto pipe = idle_.back();
        idle_.pop_back();
        return pipe;
    }
    if (created_ >= max_pipes_ || slots_->available() < 2)
        return errno_code(EAGAIN);

    int fds[2];
    // O_NONBLOCK on both ends: a splice never parks an io-wq thread on a full or empty pipe.
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
        return errno_code(errno);
    unique_fd read_end(fds[0]);
    unique_fd write_end(fds[1]);
    int size = ::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(pipe_size_));
    if (size < 0) {
        // Unprivileged users past pipe-user-pages-soft get EPERM: keep the default size.
        if (!warned_size_) {
            std::fprintf(stderr, "spliced: F_SETPIPE_SZ %u refused (%s); using default size\n",
                         pipe_size_, std::strerror(errno));
            warned_size_ = true;
        }
        size = ::fcntl(fds[1], F_GETPIPE_SZ);
    }
    pipe_lease pipe;
    pipe.read_slot = *slots_->acquire();
    pipe.write_slot = *slots_->acquire();
    pipe.capacity = static_cast<unsigned>(size);
    int both[2] = {read_end.get(), write_end.get()};
    auto first = ring_->update_files(pipe.read_slot, std::span<const int>(both, 1));
    auto second = ring_->update_files(pipe.write_slot, std::span<const int>(both + 1, 1));
    if (!first || !second) {
        destroy(pipe);
        return first ? second.error() : first.error();
    }
    // The fixed table now holds its own references; the plain descriptors close here.
    ++created_;
    return pipe;
}

void pipe_pool::release(const pipe_lease& pipe, bool empty) noexcept {
    if (empty && idle_.size() < max_pipes_) {
        idle_.push_back(pipe);
        return;
    }
    destroy(pipe);
    --created_;
}

void pipe_pool::destroy(const pipe_lease& pipe) noexcept {
    const int none[1] = {-1};
    (void)ring_->update_files(pipe.read_slot, none);
    (void)ring_->update_files(pipe.write_slot, none);
    slots_->release(pipe.read_slot);
    slots_->release(pipe.write_slot);
}

} // namespace spliced::uring
