#include "worker_state.hpp"

#include "spliced/fs/root.hpp"

#include <algorithm>

namespace spliced::server {

namespace {

// Pipes per worker: --max-pipes (1024), at most a quarter of the fixed table (two slots each).
unsigned pipe_budget(const config& c, const uring::ring& r) noexcept {
    return std::min(c.max_pipes, r.registered_files() / 4);
}

// Cached files may hold at most three quarters of the slots left for files, so that opens in
// progress and files evicted while still being sent always find room.
std::size_t open_file_cache_capacity(const config& c, std::size_t file_slots) noexcept {
    return std::min(c.open_file_cache, file_slots - file_slots / 4);
}

void close_cached_slot(void* closer, unsigned slot) noexcept {
    static_cast<uring::slot_closer*>(closer)->close(slot);
}

// Cache-Control and Expires lines for file responses at wall time `now` (nginx's `expires` sets
// both, so that HTTP/1.0 caches and HTTP/1.1 caches agree).
std::string cache_headers(const config& cfg, std::int64_t now) {
    std::string out;
    if (cfg.expires) {
        auto seconds = cfg.expires->count();
        out = "Expires: " + std::string(http::view(http::format_http_date(now + seconds))) +
              "\r\nCache-Control: max-age=" + std::to_string(seconds) + "\r\n";
    } else if (!cfg.cache_control.empty()) {
        out = "Cache-Control: " + cfg.cache_control + "\r\n";
    }
    return out;
}

} // namespace

worker_state::worker_state(const config& c, uring::ring&& r, buffer_pools&& b, metrics::shard& s,
                           const shared_resources& shared) noexcept
    : cfg(c), ring(std::move(r)), slots(ring.registered_files() - 2 * pipe_budget(c, ring)),
      pipe_slots(2 * pipe_budget(c, ring), ring.registered_files() - 2 * pipe_budget(c, ring)),
      closer(ring, slots),
      files(open_file_cache_capacity(c, slots.available()),
            std::uint64_t(c.open_file_cache_valid.count()) * 1'000'000, close_cached_slot, &closer),
      pipes(ring, pipe_slots, uring::pipe_pool::effective_pipe_size(c.pipe_size),
            pipe_budget(c, ring)),
      broker(pipes), buffers(std::move(b.copy)), small_buffers(std::move(b.small)),
      buffer_queue(buffers), small_queue(small_buffers), shard(s), root_fd(shared.root_fd),
      root_path(fs::real_path(shared.root_fd)), digests(shared.digests),
      header_deadlines(c.header_timeout), idle_deadlines(c.idle_timeout),
      send_deadlines(c.send_timeout),
      linger_deadlines(std::min(c.header_timeout, std::chrono::milliseconds(5000))),
      log(ring, shared.access_log_fd) {
    // The pools register the buffers they grow with the ring where it now lives.
    buffers.bind(ring);
    small_buffers.bind(ring);
    // Without buffer rings (before Linux 5.19) every connection receives into its own buffer.
    if (c.recv_buffers == 0)
        return;
    if (auto provided =
            uring::provided_buffers::create(ring, 0, c.recv_buffers, c.recv_buffer_bytes()))
        recv_buffers = std::move(*provided);
}

void worker_state::new_second(std::int64_t second) noexcept {
    date_second = second;
    date = http::format_http_date(second);
    exchanges.trim();
    try {
        cache_headers = server::cache_headers(cfg, second);
        if (log.enabled())
            time_local = access_log::format_time(second);
    } catch (const std::bad_alloc&) {
        // Last second's lines stay: a date off by a second until memory returns.
    }
}

} // namespace spliced::server
