#include "spliced/server/worker.hpp"

#include "connection.hpp"
#include "spliced/core/clock.hpp"
#include "worker_state.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <future>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

namespace spliced::server {

// Pipes per worker: --max-pipes (1024), at most a quarter of the fixed table (two slots each).
static unsigned pipe_budget(const config& c, const uring::ring& r) noexcept {
    return std::min(c.max_pipes, r.registered_files() / 4);
}

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

// Cached files may hold at most three quarters of the slots left for files, so that opens in
// progress and files evicted while still being sent always find room.
static std::size_t open_file_cache_capacity(const config& c, std::size_t file_slots) noexcept {
    return std::min(c.open_file_cache, file_slots - file_slots / 4);
}

static void close_cached_slot(void* closer, unsigned slot) noexcept {
    static_cast<uring::slot_closer*>(closer)->close(slot);
}

worker_state::worker_state(const config& c, uring::ring&& r, buffer_pools&& b, metrics::shard& s,
                           int root, int log_fd) noexcept
    : cfg(c), ring(std::move(r)), slots(ring.registered_files() - 2 * pipe_budget(c, ring)),
      pipe_slots(2 * pipe_budget(c, ring), ring.registered_files() - 2 * pipe_budget(c, ring)),
      closer(ring, slots),
      files(open_file_cache_capacity(c, slots.available()),
            std::uint64_t(c.open_file_cache_valid.count()) * 1'000'000, close_cached_slot, &closer),
      pipes(ring, pipe_slots, uring::pipe_pool::effective_pipe_size(c.pipe_size),
            pipe_budget(c, ring)),
      broker(pipes), buffers(std::move(b.copy)), small_buffers(std::move(b.small)),
      buffer_queue(buffers), small_queue(small_buffers), shard(s), root_fd(root),
      header_deadlines(c.header_timeout), idle_deadlines(c.idle_timeout),
      send_deadlines(c.send_timeout),
      linger_deadlines(std::min(c.header_timeout, std::chrono::milliseconds(5000))),
      log(ring, log_fd) {
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

// The worker thread's event loop and everything only it touches.
class worker::loop {
  public:
    loop(worker& owner, uring::ring&& r, buffer_pools&& buffers)
        : owner_(owner), state_(owner.cfg_, std::move(r), std::move(buffers), owner.shard_,
                                owner.root_fd_, owner.log_fd_),
          max_connections_(owner.max_connections_) {
        state_.ring.set_observer(&loop::observe, &owner.shard_);
        for (auto& l : owner.listeners_)
            accepts_.push_back(std::make_unique<accept_slot>(*this, l));
        connections_.reserve(
            static_cast<std::size_t>(std::min<std::uint64_t>(max_connections_, 65536)));
        publish(); // before start() returns: a scrape after the readiness line sees the pools
    }

    void run() noexcept;
    std::size_t open_file_cache_entries() const noexcept { return state_.files.capacity(); }
    unsigned shared_recv_buffers() const noexcept { return state_.recv_buffers.count(); }

  private:
    // One multishot accept per listener, and the cancel that pauses it.
    struct accept_slot {
        accept_slot(loop& l, unique_fd& fd) noexcept : owner(&l), listener(&fd) {}
        // Without IORING_CQE_F_MORE the op is over; the loop re-arms it while accepting.
        void on_accept(int res, std::uint32_t) noexcept { owner->accepted(res); }
        void on_cancel(int, std::uint32_t) noexcept {}
        loop* owner;
        unique_fd* listener; // owned by the worker; closed once draining and nothing refers to it
        bool paused = false;
        uring::member_operation<accept_slot, &accept_slot::on_accept> accept{uring::op_kind::accept,
                                                                             *this};
        uring::member_operation<accept_slot, &accept_slot::on_cancel> cancel{uring::op_kind::cancel,
                                                                             *this};
    };

    static void observe(void* shard, uring::op_kind kind, std::uint64_t latency_ns) noexcept {
        static_cast<metrics::shard*>(shard)->completion_latency[std::size_t(kind)].observe_ns(
            latency_ns);
    }

    void tick() noexcept;
    void publish() noexcept;
    void arm_accepts() noexcept;
    void pause_accepts() noexcept;
    void close_listeners() noexcept;
    void accepted(int res) noexcept;
    void arm_wake() noexcept;
    void on_wake(int res, std::uint32_t) noexcept;
    void expire(connection_deadlines& list) noexcept;
    void free_closed() noexcept;
    std::chrono::nanoseconds next_wait() const noexcept;
    void wait_for_completions() noexcept;
    void cancel_everything() noexcept;

    worker& owner_;
    worker_state state_;
    std::uint64_t max_connections_;
    std::uint64_t accept_retry_ns_ = 0; // after EMFILE/ENFILE, do not re-arm before this
    std::vector<std::unique_ptr<accept_slot>> accepts_;
    std::vector<std::unique_ptr<connection>> connections_; // connection::index_ is its position
    std::uint64_t wake_value_ = 0; // the kernel writes the eventfd counter here
    uring::member_operation<loop, &loop::on_wake> wake_op_{uring::op_kind::read, *this};
    uring::member_operation<loop, &loop::on_wake> cancel_all_op_{uring::op_kind::cancel, *this};
    bool stopping_ = false;
    bool buffer_growth_reported_ = false;
};

void worker::loop::run() noexcept {
    tick();
    arm_wake();
    arm_accepts();
    while (true) {
        wait_for_completions();
        tick(); // before the completions: they arm deadlines and check cache ages against it
        state_.ring.reap();
        if (owner_.stop_requested_.load(std::memory_order_acquire) && !stopping_) {
            stopping_ = true;
            state_.draining = true;
            for (auto& c : connections_)
                c->abort(request_end::shutdown);
        }
        if (owner_.drain_requested_.load(std::memory_order_acquire) && !state_.draining) {
            state_.draining = true;
            for (auto& c : connections_)
                c->drain();
        }
        expire(state_.header_deadlines);
        expire(state_.idle_deadlines);
        expire(state_.send_deadlines);
        expire(state_.linger_deadlines);
        free_closed();
        if (state_.draining) {
            pause_accepts();
            close_listeners();
            if (connections_.empty())
                break;
        } else {
            arm_accepts();
        }
        state_.log.flush();
        publish();
    }
    cancel_everything();
}

// Copies what the ring, the pools and the log count into the metric shard (once per loop turn).
void worker::loop::publish() noexcept {
    auto& stats = state_.ring.stats();
    owner_.shard_.sqes_submitted.mirror(stats.sqes_submitted);
    owner_.shard_.submit_calls.mirror(stats.submit_calls);
    owner_.shard_.sq_full_waits.mirror(stats.sq_full_waits);
    owner_.shard_.cq_overflows.mirror(state_.ring.cq_overflows());
    owner_.shard_.access_log_dropped.mirror(state_.log.dropped());
    owner_.shard_.registered_buffers.set(state_.buffers.allocated() +
                                         state_.small_buffers.allocated());
    for (const auto* pool : {&state_.buffers, &state_.small_buffers}) {
        if (pool->growth_error() == 0 || buffer_growth_reported_)
            continue;
        buffer_growth_reported_ = true;
        std::fprintf(stderr,
                     "spliced: warning: a registered-buffer pool stopped growing at %u of %u "
                     "buffers of %zu bytes (%s); raise LimitMEMLOCK (RLIMIT_MEMLOCK) or lower "
                     "--buffers / --buffer-size; transfers wait for a free buffer meanwhile\n",
                     pool->allocated(), pool->count(), pool->buffer_size(),
                     std::strerror(pool->growth_error()));
    }
    owner_.shard_.ops_in_flight.set(static_cast<std::int64_t>(stats.ops_in_flight));
    owner_.shard_.fixed_files_in_use.set(
        static_cast<std::int64_t>(state_.slots.capacity() - state_.slots.available()));
    owner_.shard_.pipes_in_use.set(state_.broker.in_use());
    owner_.shard_.buffers_in_use.set(state_.buffer_queue.in_use() + state_.small_queue.in_use());
    owner_.shard_.open_file_cache_entries.set(static_cast<std::int64_t>(state_.files.size()));
}

void worker::loop::tick() noexcept {
    state_.now_ns = monotonic_ns();
    auto second = wall_seconds();
    if (second != state_.date_second) {
        state_.date_second = second;
        state_.date = http::format_http_date(second);
        state_.cache_headers = cache_headers(state_.cfg, second);
        state_.exchanges.trim();
        if (state_.log.enabled())
            state_.time_local = access_log::format_time(second);
    }
}

std::chrono::nanoseconds worker::loop::next_wait() const noexcept {
    std::uint64_t wait = 1'000'000'000; // at least one look at the flags per second
    for (const auto* list : {&state_.header_deadlines, &state_.idle_deadlines,
                             &state_.send_deadlines, &state_.linger_deadlines}) {
        if (auto d = list->next_deadline())
            wait = std::min(wait, d > state_.now_ns ? d - state_.now_ns : 0);
    }
    if (!state_.closing.empty() || accept_retry_ns_)
        wait = std::min<std::uint64_t>(wait, 10'000'000);
    return std::chrono::nanoseconds(std::max<std::uint64_t>(wait, 1'000'000));
}

// Large transfers complete one CQE at a time: a splice finishing in io-wq, a socket turning
// writable. Waking for each costs a task switch and a loop turn per CQE (perf/RESULTS.md, "Batched
// waits"). With --batch-wait-us, while four or more such operations are in flight the loop waits
// for half of them, for at most that long; anything else that completes meanwhile (a new request)
// waits with them.
void worker::loop::wait_for_completions() noexcept {
    auto wait = next_wait();
    unsigned wait_for = 1;
    if (state_.cfg.batch_wait.count() > 0) {
        const unsigned background = state_.ring.in_flight(uring::op_kind::splice) +
                                    state_.ring.in_flight(uring::op_kind::poll);
        if (background >= 4) {
            wait_for = background / 2;
            wait = std::min<std::chrono::nanoseconds>(wait, state_.cfg.batch_wait);
        }
    }
    state_.ring.submit_and_wait(wait, wait_for);
}

void worker::loop::arm_accepts() noexcept {
    if (connections_.size() >= max_connections_)
        return; // new connections wait in the kernel's backlog
    if (accept_retry_ns_ && state_.now_ns < accept_retry_ns_)
        return;
    accept_retry_ns_ = 0;
    for (auto& slot : accepts_) {
        if (slot->accept.in_flight() || slot->cancel.in_flight())
            continue;
        slot->paused = false;
        io_uring_prep_multishot_accept(&slot->accept.sqe(), slot->listener->get(), nullptr, nullptr,
                                       SOCK_NONBLOCK | SOCK_CLOEXEC);
        state_.ring.push(slot->accept);
    }
}

void worker::loop::pause_accepts() noexcept {
    for (auto& slot : accepts_) {
        if (!slot->accept.in_flight() || slot->paused)
            continue;
        slot->paused = true;
        io_uring_prep_cancel(&slot->cancel.sqe(), &slot->accept, 0);
        state_.ring.push(slot->cancel);
    }
}

// Draining: new connections are refused (RST) rather than left in a backlog nobody accepts from,
// so a load balancer moves on at once.
void worker::loop::close_listeners() noexcept {
    for (auto& slot : accepts_) {
        if (*slot->listener && !slot->accept.in_flight() && !slot->cancel.in_flight())
            slot->listener->reset();
    }
}

void worker::loop::accepted(int res) noexcept {
    if (res >= 0) {
        // A CQE that raced with a pause is still served: the limit may be passed by the few
        // connections already accepted in the kernel.
        auto c = std::make_unique<connection>(state_, res);
        c->index_ = connections_.size();
        connections_.push_back(std::move(c));
        owner_.shard_.connections_accepted.add();
        owner_.shard_.connections_active.add(1);
        connections_.back()->start();
        if (state_.draining)
            connections_.back()->drain(); // raced with the drain: idle, so it closes now
        if (connections_.size() >= max_connections_ || state_.draining)
            pause_accepts();
    } else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
        accept_retry_ns_ = state_.now_ns + 100'000'000; // back off instead of spinning
    }
}

void worker::loop::arm_wake() noexcept {
    io_uring_prep_read(&wake_op_.sqe(), owner_.wake_fd_.get(), &wake_value_, sizeof wake_value_, 0);
    state_.ring.push(wake_op_);
}

void worker::loop::on_wake(int res, std::uint32_t) noexcept {
    if (res > 0 && !stopping_)
        arm_wake(); // the flags are read by the loop after this batch
}

void worker::loop::expire(connection_deadlines& list) noexcept {
    while (connection* c = list.pop_expired(state_.now_ns))
        c->abort(request_end::timeout);
}

void worker::loop::free_closed() noexcept {
    auto& closing = state_.closing;
    std::size_t kept = 0;
    for (connection* c : closing) {
        if (c->busy()) {
            closing[kept++] = c;
            continue;
        }
        std::size_t i = c->index_;
        std::swap(connections_[i], connections_.back());
        connections_[i]->index_ = i;
        connections_.pop_back(); // destroys c: closes its socket and its file slot
        owner_.shard_.connections_active.add(-1);
    }
    closing.resize(kept);
}

void worker::loop::cancel_everything() noexcept {
    // Every connection is gone (run() waited for their last CQEs). The last lines of the access
    // log go out first: a cancel could cut their write short. flush() does nothing while a write
    // is in flight, and lines gathered meanwhile need a write of their own: flush again after
    // each turn until nothing is written or waiting, for at most 5 s (a log nobody reads, such as
    // a stalled FIFO, then loses its last lines; its write is cancelled below like the rest).
    for (int turns = 0; turns < 500; ++turns) {
        state_.log.flush();
        if (!state_.log.busy())
            break;
        state_.ring.run_once(std::chrono::milliseconds(10));
    }
    // Leave no operation referring to this loop's memory: cancel, then reap until none is left.
    // However long that takes: the pools and the ring die right after this, and an operation
    // still in the kernel would write into freed memory (DESIGN.md §11).
    io_uring_prep_cancel(&cancel_all_op_.sqe(), nullptr, IORING_ASYNC_CANCEL_ANY);
    stopping_ = true;
    state_.ring.push(cancel_all_op_);
    std::uint64_t next_report = monotonic_ns() + 5'000'000'000;
    while (state_.ring.stats().ops_in_flight > 0) {
        state_.ring.run_once(std::chrono::milliseconds(10));
        if (monotonic_ns() >= next_report) {
            std::fprintf(stderr, "spliced: worker exit waits for %llu operation(s) in flight\n",
                         static_cast<unsigned long long>(state_.ring.stats().ops_in_flight));
            next_report += 5'000'000'000;
        }
    }
    close_listeners();
}

// ---- worker --------------------------------------------------------------------------------

worker::worker(const config& cfg, int root_fd, int access_log_fd, std::vector<unique_fd> listeners,
               std::uint64_t max_connections)
    : cfg_(cfg), root_fd_(root_fd), log_fd_(access_log_fd), listeners_(std::move(listeners)),
      max_connections_(max_connections), wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

worker::~worker() {
    stop();
    join();
}

result<void> worker::start() {
    if (!wake_fd_)
        return errno_code(errno);
    std::promise<result<void>> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, ready = std::move(ready)]() mutable {
        uring::ring_config rc;
        rc.sq_entries = cfg_.queue_depth;
        rc.cq_entries = cfg_.cq_depth;
        rc.sqpoll_idle_ms = cfg_.sqpoll_idle_ms;
        rc.registered_files = cfg_.registered_files;
        rc.iowq_bounded_workers = cfg_.iowq_workers;
        auto r = uring::ring::create(rc);
        if (!r) {
            failure_ = "io_uring setup";
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
        loop l(*this, std::move(*r), std::move(*pools));
        open_file_cache_entries_ = l.open_file_cache_entries();
        shared_recv_buffers_ = l.shared_recv_buffers();
        ready.set_value(result<void>{});
        l.run();
        finished_.store(true, std::memory_order_release);
    });
    return started.get();
}

void worker::drain() noexcept {
    drain_requested_.store(true, std::memory_order_release);
    std::uint64_t one = 1;
    (void)::write(wake_fd_.get(), &one, sizeof one);
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
