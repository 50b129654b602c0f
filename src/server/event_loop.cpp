#include "event_loop.hpp"

#include "spliced/core/clock.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace spliced::server {

event_loop::event_loop(const config& c, uring::ring&& r, buffer_pools&& buffers,
                       metrics::shard& shard, const shared_resources& shared,
                       const loop_controls& controls)
    : state_(c, std::move(r), std::move(buffers), shard, shared), controls_(controls),
      acceptor_(state_, controls.listeners, *this) {
    state_.ring.set_observer(&event_loop::observe, &shard);
    connections_.reserve(
        static_cast<std::size_t>(std::min<std::uint64_t>(controls.max_connections, 65536)));
    publish(); // before start() returns: a scrape after the readiness line sees the pools
}

void event_loop::observe(void* shard, uring::op_kind kind, std::uint64_t latency_ns) noexcept {
    static_cast<metrics::shard*>(shard)->completion_latency[std::size_t(kind)].observe_ns(
        latency_ns);
}

void event_loop::run() noexcept {
    tick();
    arm_wake();
    acceptor_.arm();
    while (true) {
        wait_for_completions();
        tick(); // before the completions: they arm deadlines and check cache ages against it
        state_.ring.reap();
        look_at_flags();
        expire(state_.header_deadlines);
        expire(state_.idle_deadlines);
        expire(state_.send_deadlines);
        expire(state_.linger_deadlines);
        free_closed();
        if (state_.draining) {
            acceptor_.pause();
            acceptor_.close_listeners();
            if (connections_.empty())
                break;
        } else if (connections_.size() < controls_.max_connections) {
            acceptor_.arm(); // at the limit, new connections wait in the kernel's backlog
        }
        state_.log.flush();
        publish();
    }
    cancel_everything();
}

// The control plane's requests, set before it wrote the eventfd.
void event_loop::look_at_flags() noexcept {
    if (controls_.stop_requested.load(std::memory_order_acquire) && !stopping_) {
        stopping_ = true;
        state_.draining = true;
        for (auto& c : connections_)
            c->abort(request_end::shutdown);
    }
    if (controls_.retire_requested.load(std::memory_order_acquire))
        state_.retiring = true;
    if (controls_.drain_requested.load(std::memory_order_acquire) && !state_.draining) {
        state_.draining = true;
        for (auto& c : connections_)
            c->drain();
    }
}

// Copies what the ring, the pools and the log count into the metric shard (once per loop turn).
void event_loop::publish() noexcept {
    auto& shard = state_.shard;
    auto& stats = state_.ring.stats();
    shard.sqes_submitted.mirror(stats.sqes_submitted);
    shard.submit_calls.mirror(stats.submit_calls);
    shard.sq_full_waits.mirror(stats.sq_full_waits);
    shard.cq_overflows.mirror(state_.ring.cq_overflows());
    shard.access_log_dropped.mirror(state_.log.dropped());
    shard.registered_buffers.set(state_.buffers.allocated() + state_.small_buffers.allocated());
    shard.ops_in_flight.set(static_cast<std::int64_t>(stats.ops_in_flight));
    shard.fixed_files_in_use.set(
        static_cast<std::int64_t>(state_.slots.capacity() - state_.slots.available()));
    shard.pipes_in_use.set(state_.broker.in_use());
    shard.buffers_in_use.set(state_.buffer_queue.in_use() + state_.small_queue.in_use());
    shard.open_file_cache_entries.set(static_cast<std::int64_t>(state_.files.size()));
    report_buffer_growth();
}

// Once per worker: a registered-buffer pool that could not grow is worth one line on stderr.
void event_loop::report_buffer_growth() noexcept {
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
}

void event_loop::tick() noexcept {
    state_.now_ns = monotonic_ns();
    auto second = wall_seconds();
    if (second != state_.date_second)
        state_.new_second(second);
}

std::chrono::nanoseconds event_loop::next_wait() const noexcept {
    std::uint64_t wait = 1'000'000'000; // at least one look at the flags per second
    for (const auto* list : {&state_.header_deadlines, &state_.idle_deadlines,
                             &state_.send_deadlines, &state_.linger_deadlines}) {
        if (auto d = list->next_deadline())
            wait = std::min(wait, d > state_.now_ns ? d - state_.now_ns : 0);
    }
    if (!state_.closing.empty() || acceptor_.backing_off())
        wait = std::min<std::uint64_t>(wait, 10'000'000);
    return std::chrono::nanoseconds(std::max<std::uint64_t>(wait, 1'000'000));
}

// Large transfers complete one CQE at a time: a splice finishing in io-wq, a socket turning
// writable. Waking for each costs a task switch and a loop turn per CQE (perf/RESULTS.md, "Batched
// waits"). With --batch-wait-us, while four or more such operations are in flight the loop waits
// for half of them, for at most that long; anything else that completes meanwhile (a new request)
// waits with them.
void event_loop::wait_for_completions() noexcept {
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

// A CQE that raced with a pause is still served: the limit may be passed by the few connections
// already accepted in the kernel. Out of memory for one more connection: it is closed and accepts
// back off, like running out of descriptors.
void event_loop::accepted(int socket_fd) noexcept {
    try {
        auto c = std::make_unique<connection>(state_, socket_fd);
        c->index_ = connections_.size();
        connections_.push_back(std::move(c)); // on failure `c` still owns (and closes) the socket
    } catch (const std::bad_alloc&) {
        acceptor_.back_off();
        return;
    }
    auto& shard = state_.shard;
    shard.connections_accepted.add();
    shard.connections_active.add(1);
    connections_.back()->start();
    if (state_.draining)
        connections_.back()->drain(); // raced with the drain: idle, so it closes now
    if (connections_.size() >= controls_.max_connections || state_.draining)
        acceptor_.pause();
}

void event_loop::arm_wake() noexcept {
    io_uring_prep_read(&wake_op_.sqe(), controls_.wake_fd, &wake_value_, sizeof wake_value_, 0);
    state_.ring.push(wake_op_);
}

void event_loop::on_wake(int res, std::uint32_t) noexcept {
    if (res > 0 && !stopping_)
        arm_wake(); // the flags are read by the loop after this batch
}

void event_loop::expire(connection_deadlines& list) noexcept {
    while (connection* c = list.pop_expired(state_.now_ns))
        c->abort(request_end::timeout);
}

void event_loop::free_closed() noexcept {
    auto& closing = state_.closing;
    for (auto it = closing.begin(); it != closing.end();) {
        connection& c = *it;
        if (c.busy()) {
            ++it;
            continue;
        }
        it = closing.erase(it);
        std::size_t i = c.index_;
        std::swap(connections_[i], connections_.back());
        connections_[i]->index_ = i;
        connections_.pop_back(); // destroys c: closes its socket and its file slot
        state_.shard.connections_active.add(-1);
    }
}

// Every connection is gone (run() waited for their last CQEs). The last lines of the access log
// go out first: a cancel could cut their write short. flush() does nothing while a write is in
// flight, and lines gathered meanwhile need a write of their own: flush again after each turn
// until nothing is written or waiting, for at most 5 s (a log nobody reads, such as a stalled
// FIFO, then loses its last lines; its write is cancelled like the rest).
void event_loop::flush_log() noexcept {
    for (int turns = 0; turns < 500; ++turns) {
        state_.log.flush();
        if (!state_.log.busy())
            break;
        state_.ring.run_once(std::chrono::milliseconds(10));
    }
}

// Leave no operation referring to this loop's memory: cancel, then reap until none is left.
// However long that takes: the pools and the ring die right after this, and an operation still
// in the kernel would write into freed memory (DESIGN.md §11).
void event_loop::cancel_everything() noexcept {
    flush_log();
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
    acceptor_.close_listeners();
}

} // namespace spliced::server
