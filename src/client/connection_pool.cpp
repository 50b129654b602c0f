#include "connection_pool.hpp"

#include "origin_set.hpp"

#include <algorithm>

namespace spliced::client {

namespace {
constexpr std::size_t buffer_size = 256 * 1024;
} // namespace

connection_pool::slot& connection_pool::open(const origin_set& origins, std::size_t origin) {
    auto s = std::make_unique<slot>();
    const auto& o = origins.members()[origin].origin;
    s->origin = origin;
    s->connection = std::make_unique<fetch_connection>(ring_, events_, o.peer(), o.peer_length(),
                                                       file_fd_, buffer_size);
    slots_.push_back(std::move(s));
    return *slots_.back();
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
    std::erase_if(slots_,
                  [](const std::unique_ptr<slot>& s) { return s->dead && s->connection->idle(); });
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
