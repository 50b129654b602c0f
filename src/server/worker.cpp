#include "spliced/server/worker.hpp"

#include "event_loop.hpp"
#include "spliced/uring/setup_refusal.hpp"

#include <future>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace spliced::server {

// The ring's registered buffers: a sparse table holding two pools, --buffers copy-tier buffers of
// --buffer-size and as many small-tier buffers of config::small_buffer_size (a body of a few KiB
// beside its head need not pin 256 KiB). By default both start (nearly) empty and grow with
// demand, so an idle or splice-only worker pins next to nothing and growth stops, with a warning,
// where RLIMIT_MEMLOCK says (8 MiB for an unprivileged user or a systemd service). Pools sized
// explicitly (--buffers/--buffer-size) are registered whole at startup and refused there if the
// kernel will not pin them.
static result<buffer_pools> register_buffers(uring::ring& r, const config& c) {
    if (auto sparse = r.register_sparse_buffers(2 * c.buffers); !sparse)
        return sparse.error();
    // Each pool starts with one buffer pinned: a pool that could not pin even one would leave
    // every transfer of its tier waiting forever, so that is refused here, at startup.
    auto copy = uring::buffer_pool::create(r, 0, c.buffers, c.buffer_size,
                                           c.buffers_on_demand ? 1 : c.buffers);
    if (!copy)
        return copy.error();
    auto small = uring::buffer_pool::create(r, c.buffers, c.buffers, c.small_buffer_size,
                                            c.buffers_on_demand ? 1 : c.buffers);
    if (!small)
        return small.error();
    return buffer_pools{std::move(*copy), std::move(*small)};
}

worker::worker(const config& cfg, const shared_resources& shared, std::vector<unique_fd> listeners,
               std::uint64_t max_connections)
    : cfg_(cfg), shared_(shared), listeners_(std::move(listeners)),
      max_connections_(max_connections), wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

worker::~worker() {
    stop();
    join();
}

result<void> worker::start(unsigned index) {
    if (!wake_fd_)
        return errno_code(errno);
    std::promise<result<void>> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, index, ready = std::move(ready)]() mutable {
        ::pthread_setname_np(::pthread_self(), ("spliced-w" + std::to_string(index)).c_str());
        uring::ring_config rc;
        rc.sq_entries = cfg_.queue_depth;
        rc.cq_entries = cfg_.cq_depth;
        rc.sqpoll_idle_ms = cfg_.sqpoll_idle_ms;
        rc.registered_files = cfg_.registered_files;
        rc.iowq_bounded_workers = cfg_.iowq_workers;
        auto r = uring::ring::create(rc);
        if (!r) {
            failure_ = "io_uring setup";
            failure_hint_ =
                uring::explain_setup_refusal(r.error().value(), uring::read_setup_environment());
            ready.set_value(r.error());
            finished_.store(true, std::memory_order_release);
            return;
        }
        auto pools = register_buffers(*r, cfg_);
        if (!pools) {
            failure_ = "registering " + std::to_string(cfg_.buffers) + " buffers of " +
                       std::to_string(cfg_.buffer_size) +
                       " bytes (--buffers, --buffer-size: pinned memory, allowed by "
                       "RLIMIT_MEMLOCK / systemd's LimitMEMLOCK)";
            ready.set_value(pools.error());
            finished_.store(true, std::memory_order_release);
            return;
        }
        setup_mode_ = r->setup_mode();
        tid_ = ::gettid();
        const loop_controls controls{listeners_,      max_connections_, wake_fd_.get(),
                                     stop_requested_, drain_requested_, retire_requested_};
        event_loop l(cfg_, std::move(*r), std::move(*pools), shard_, shared_, controls);
        open_file_cache_entries_ = l.open_file_cache_entries();
        shared_recv_buffers_ = l.shared_recv_buffers();
        ready.set_value(result<void>{});
        l.run();
        finished_.store(true, std::memory_order_release);
    });
    return started.get();
}

void worker::retire() noexcept {
    retire_requested_.store(true, std::memory_order_release);
    std::uint64_t one = 1;
    (void)::write(wake_fd_.get(), &one, sizeof one);
}

void worker::drain() noexcept {
    drain_requested_.store(true, std::memory_order_release);
    retire();
}

void worker::stop() noexcept {
    stop_requested_.store(true, std::memory_order_release);
    drain();
}

void worker::join() {
    if (thread_.joinable())
        thread_.join();
}

} // namespace spliced::server
