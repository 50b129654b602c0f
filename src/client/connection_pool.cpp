#include "connection_pool.hpp"

#include "origin_set.hpp"

#include <algorithm>
#include <fcntl.h>
#include <new>
#include <string>
#include <sys/stat.h>
#include <sys/uio.h>
#include <system_error>

namespace spliced::client {

namespace {
constexpr std::size_t buffer_size = 256 * 1024;
constexpr std::size_t buffer_align = 4096; // a page: covers every filesystem's DIO alignment here

// FILE.part opened once more with O_DIRECT, and the block size its writes must keep to, when
// the filesystem reports one (statx STATX_DIOALIGN, Linux 6.1) that the buffers satisfy;
// blocks are at least a page, so that no buffered write shares a page with a direct one.
std::pair<unique_fd, std::size_t> open_direct(int file_fd) {
    struct statx st {};
    if (::statx(file_fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &st) != 0 ||
        !(st.stx_mask & STATX_DIOALIGN) || st.stx_dio_offset_align == 0 ||
        st.stx_dio_mem_align == 0 || st.stx_dio_offset_align > buffer_align ||
        st.stx_dio_mem_align > buffer_align)
        return {unique_fd(), 0};
    auto self = "/proc/self/fd/" + std::to_string(file_fd);
    unique_fd fd(::open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));
    if (!fd)
        return {unique_fd(), 0};
    return {std::move(fd), buffer_align};
}
} // namespace

void connection_pool::aligned_delete::operator()(std::byte* p) const noexcept {
    ::operator delete[](p, std::align_val_t{buffer_align});
}

connection_pool::connection_pool(uring::ring& ring, fetch_events& events, int file_fd,
                                 receive_path path, unsigned capacity)
    : ring_(ring), events_(events), path_(path) {
    file_.fd = file_fd;
    if (path == receive_path::fixed) {
        auto [fd, align] = open_direct(file_fd);
        direct_fd_ = std::move(fd);
        file_.direct_fd = direct_fd_.get();
        file_.direct_align = align;
        if (auto r = ring.register_sparse_buffers(capacity); !r)
            throw std::system_error(r.error(), "registering receive buffers (--io fixed)");
    }
    buffers_.reserve(capacity); // emplace_back below never reallocates, so never leaks
    for (unsigned i = 0; i < capacity; ++i) {
        buffers_.emplace_back(
            static_cast<std::byte*>(::operator new[](buffer_size, std::align_val_t{buffer_align})));
        if (path == receive_path::fixed)
            if (auto r = ring.update_buffer(i, iovec{buffers_.back().get(), buffer_size}); !r)
                throw std::system_error(r.error(), "registering receive buffers (--io fixed)");
        free_buffers_.push_back(capacity - 1 - i);
    }
}

connection_pool::slot* connection_pool::open(const origin_set& origins, std::size_t origin) {
    if (free_buffers_.empty())
        return nullptr;
    auto s = std::make_unique<slot>();
    const auto& o = origins.members()[origin].origin;
    s->origin = origin;
    s->buffer = free_buffers_.back();
    fetch_connection::buffer b{buffers_[s->buffer].get(), buffer_size, s->buffer};
    s->connection = std::make_unique<fetch_connection>(ring_, events_, o.peer(), o.peer_length(),
                                                       file_, b, path_);
    free_buffers_.pop_back();
    slots_.push_back(std::move(s));
    return slots_.back().get();
}

connection_pool::slot* connection_pool::find(const fetch_connection& c) noexcept {
    for (auto& s : slots_)
        if (s->connection.get() == &c)
            return s.get();
    return nullptr;
}

void connection_pool::stop(std::optional<std::size_t> origin) noexcept {
    // By index: a stop may re-enter the download, which never adds or frees slots from there.
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        slot& s = *slots_[i];
        if (origin && s.origin != *origin)
            continue;
        if (origin && s.dead)
            continue; // already done with; the caller's own slot among them
        s.dead = true;
        s.connection->stop();
    }
}

void connection_pool::watch_timeouts(std::uint64_t now_ns, std::chrono::milliseconds connect,
                                     std::chrono::milliseconds stall) noexcept {
    for (auto& s : slots_) {
        if (s->dead || s->connection->idle())
            continue;
        auto limit = s->connection->connected() ? stall : connect;
        if (now_ns > s->connection->last_progress_ns() + std::uint64_t(limit.count()) * 1'000'000) {
            s->timed_out = true;
            s->connection->stop();
        }
    }
}

void connection_pool::resume_paused() noexcept {
    for (auto& s : slots_)
        if (s->connection->paused())
            s->connection->resume();
}

void connection_pool::reap() noexcept {
    std::erase_if(slots_, [this](const std::unique_ptr<slot>& s) {
        if (!s->dead || !s->connection->idle())
            return false;
        free_buffers_.push_back(s->buffer); // reserved: push_back cannot allocate
        return true;
    });
}

const char* connection_pool::path_name() const noexcept {
    return file_.direct_align != 0 ? "fixed-direct" : name(path_);
}

unsigned connection_pool::live() const noexcept {
    return unsigned(std::count_if(slots_.begin(), slots_.end(),
                                  [](const std::unique_ptr<slot>& s) { return !s->dead; }));
}

void connection_pool::count_per_origin(origin_set& origins) const noexcept {
    for (std::size_t i = 0; i < origins.size(); ++i)
        origins[i].connections = 0;
    for (const auto& s : slots_)
        origins[s->origin].connections += !s->dead;
}

} // namespace spliced::client
