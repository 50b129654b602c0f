#include "connection_pool.hpp"

#include "origin_set.hpp"

#include <algorithm>
#include <fcntl.h>
#include <new>
#include <string>
#include <sys/uio.h>
#include <system_error>

namespace spliced::client {

namespace {
constexpr std::size_t buffer_size = connection_pool::buffer_bytes;
constexpr std::size_t buffer_align = 4096; // a page: covers every filesystem's DIO alignment here

} // namespace

void connection_pool::aligned_delete::operator()(std::byte* p) const noexcept {
    ::operator delete[](p, std::align_val_t{buffer_align});
}

connection_pool::connection_pool(uring::ring& ring, fetch_events& events, int file_fd,
                                 receive_path wanted, unsigned capacity)
    : ring_(ring), events_(events), path_(resolve(wanted, file_fd)) {
    file_.fd = file_fd;
    buffers_.reserve(capacity); // emplace_back below never reallocates, so never leaks
    for (unsigned i = 0; i < capacity; ++i) {
        buffers_.emplace_back(
            static_cast<std::byte*>(::operator new[](buffer_size, std::align_val_t{buffer_align})));
        free_buffers_.push_back(capacity - 1 - i);
    }
    if (path_ == receive_path::fixed) {
        if (auto r = register_buffers(); !r) {
            if (wanted != receive_path::automatic)
                throw std::system_error(
                    r.error(), "registering receive buffers for --io fixed (RLIMIT_MEMLOCK, ulimit "
                               "-l, too low? --io auto falls back)");
            path_ = resolve_unregistered(file_fd);
        }
    }
    if (path_ == receive_path::fixed) {
        // FILE.part once more, O_DIRECT, for the whole aligned blocks (fetch_connection).
        if (std::size_t align = direct_alignment(file_fd); align != 0) {
            auto self = "/proc/self/fd/" + std::to_string(file_fd);
            direct_fd_.reset(::open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));
            if (direct_fd_) {
                file_.direct_fd = direct_fd_.get();
                file_.direct_align = align;
            }
        }
    }
}

// Registering pins the buffers' memory, charged to RLIMIT_MEMLOCK (without CAP_IPC_LOCK).
result<void> connection_pool::register_buffers() noexcept {
    if (auto r = ring_.register_sparse_buffers(unsigned(buffers_.size())); !r)
        return r;
    for (unsigned i = 0; i < buffers_.size(); ++i)
        if (auto r = ring_.update_buffer(i, iovec{buffers_[i].get(), buffer_size}); !r) {
            ring_.unregister_buffers();
            return r;
        }
    return {};
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
