#include "spliced/uring/ring.hpp"

#include "spliced/core/clock.hpp"

#include <cassert>
#include <cstdio>
#include <cstring>
#include <utility>

namespace spliced::uring {

namespace {

struct setup_attempt {
    unsigned flags;
    const char* name;
};

// DESIGN.md §2: the cheapest task-work mode first, then fall back.
constexpr setup_attempt plain_attempts[] = {
    {IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
     "SINGLE_ISSUER|DEFER_TASKRUN"},
    {IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},
    {0, "none"},
};

// SQPOLL cannot be combined with DEFER_TASKRUN.
constexpr setup_attempt sqpoll_attempts[] = {
    {IORING_SETUP_SQPOLL | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER,
     "SQPOLL|SINGLE_ISSUER"},
    {IORING_SETUP_SQPOLL, "SQPOLL"},
};

int try_setup(io_uring& ring, const ring_config& config, unsigned flags) {
    io_uring_params params{};
    params.flags = flags | IORING_SETUP_CQSIZE;
    params.cq_entries = config.cq_entries ? config.cq_entries : config.sq_entries * 4;
    if (flags & IORING_SETUP_SQPOLL)
        params.sq_thread_idle = *config.sqpoll_idle_ms;
    return io_uring_queue_init_params(config.sq_entries, &ring, &params);
}

} // namespace

result<ring> ring::create(const ring_config& config) {
    ring out;
    int err = -EINVAL;
    const char* mode = nullptr;
    if (config.sqpoll_idle_ms) {
        for (auto& attempt : sqpoll_attempts) {
            err = try_setup(out.ring_, config, attempt.flags);
            if (err == 0) {
                mode = attempt.name;
                break;
            }
        }
        if (!mode)
            std::fprintf(stderr, "spliced: SQPOLL refused (%s); running without it\n",
                         std::strerror(-err));
    }
    for (std::size_t i = 0; !mode && i < std::size(plain_attempts); ++i) {
        err = try_setup(out.ring_, config, plain_attempts[i].flags);
        if (err == 0)
            mode = plain_attempts[i].name;
    }
    if (!mode)
        return errno_code(-err);
    out.owns_ring_ = true;
    out.setup_mode_ = mode;

    if (int r = io_uring_register_files_sparse(&out.ring_, config.registered_files); r < 0)
        return errno_code(-r);
    out.registered_files_ = config.registered_files;

    // Splice and statx always run on io-wq threads: bound both kinds (DESIGN.md §4).
    unsigned workers[2] = {config.iowq_bounded_workers, config.iowq_bounded_workers};
    if (int r = io_uring_register_iowq_max_workers(&out.ring_, workers); r < 0)
        return errno_code(-r);
    return out;
}

ring::ring(ring&& other) noexcept
    : ring_(other.ring_), owns_ring_(std::exchange(other.owns_ring_, false)),
      pending_head_(std::exchange(other.pending_head_, nullptr)),
      pending_tail_(std::exchange(other.pending_tail_, nullptr)), stats_(other.stats_),
      in_flight_by_kind_(other.in_flight_by_kind_), observer_(other.observer_),
      observer_context_(other.observer_context_), registered_files_(other.registered_files_),
      setup_mode_(std::move(other.setup_mode_)) {}

ring::~ring() {
    if (owns_ring_)
        io_uring_queue_exit(&ring_);
}

void ring::append_pending(operation& op) noexcept {
    // Pushing an operation twice would give one object two CQEs and lose the first request.
    assert(!op.in_flight_ && "pushed while already in flight");
    op.next_pending_ = nullptr;
    op.in_flight_ = true;
    if (op.owner_count_)
        op.owner_count_->enter();
    ++stats_.ops_in_flight;
    ++in_flight_by_kind_[std::size_t(op.kind())];
    if (pending_tail_)
        pending_tail_->next_pending_ = &op;
    else
        pending_head_ = &op;
    pending_tail_ = &op;
}

void ring::push(operation& op) noexcept {
    op.chain_length_ = 1;
    append_pending(op);
}

void ring::push_chain(std::span<operation* const> ops, bool hard) noexcept {
    const auto link = static_cast<std::uint8_t>(hard ? IOSQE_IO_HARDLINK : IOSQE_IO_LINK);
    for (std::size_t i = 0; i < ops.size(); ++i) {
        if (i + 1 < ops.size())
            ops[i]->sqe_.flags |= link;
        ops[i]->chain_length_ = static_cast<std::uint8_t>(i == 0 ? ops.size() : 1);
        append_pending(*ops[i]);
    }
}

void ring::flush_pending() noexcept {
    if (!pending_head_)
        return;
    const auto now = monotonic_ns();
    while (pending_head_) {
        unsigned need = pending_head_->chain_length_;
        if (io_uring_sq_space_left(&ring_) < need) {
            ++stats_.sq_full_waits;
            return;
        }
        for (unsigned i = 0; i < need; ++i) {
            operation* op = pending_head_;
            pending_head_ = op->next_pending_;
            io_uring_sqe* sqe = io_uring_get_sqe(&ring_); // cannot fail: space checked above
            *sqe = op->sqe_;
            io_uring_sqe_set_data(sqe, op);
            op->submitted_ns_ = now;
            ++stats_.sqes_submitted;
        }
    }
    pending_tail_ = nullptr;
}

void ring::submit_and_wait(std::chrono::nanoseconds max_wait, unsigned wait_for) noexcept {
    flush_pending();
    // Work that did not fit waits in order; submit what is in the SQ to make room, without waiting.
    while (pending_head_) {
        ++stats_.submit_calls;
        if (io_uring_submit(&ring_) <= 0)
            break;
        flush_pending();
    }

    __kernel_timespec ts{};
    ts.tv_sec = max_wait.count() / 1'000'000'000;
    ts.tv_nsec = max_wait.count() % 1'000'000'000;
    io_uring_cqe* first = nullptr;
    ++stats_.submit_calls;
    // -ETIME (timeout), -EINTR (signal) and -EBUSY (CQ overflow backlog) all mean: reap and go on.
    (void)io_uring_submit_and_wait_timeout(&ring_, &first, wait_for, &ts, nullptr);
}

unsigned ring::reap() noexcept {
    unsigned head = 0;
    unsigned reaped = 0;
    io_uring_cqe* cqe = nullptr;
    const auto now = observer_ ? monotonic_ns() : 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
        ++reaped;
        auto* op = static_cast<operation*>(io_uring_cqe_get_data(cqe));
        if (!op)
            continue;
        if (observer_)
            observer_(observer_context_, op->kind(), now - op->submitted_ns_);
        if (cqe->flags & IORING_CQE_F_MORE) {
            // Multishot: the next CQE's latency runs from this one, not from the first arming.
            op->submitted_ns_ = now;
        } else {
            op->in_flight_ = false;
            --stats_.ops_in_flight;
            --in_flight_by_kind_[std::size_t(op->kind())];
            if (op->owner_count_)
                op->owner_count_->leave();
        }
        // complete() may release the op's owner: nothing touches `op` after it.
        op->complete(cqe->res, cqe->flags);
    }
    io_uring_cq_advance(&ring_, reaped);
    return reaped;
}

std::uint64_t ring::cq_overflows() const noexcept {
    return io_uring_smp_load_acquire(ring_.cq.koverflow);
}

result<void> ring::register_sparse_buffers(unsigned count) noexcept {
    if (int r = io_uring_register_buffers_sparse(&ring_, count); r < 0)
        return errno_code(-r);
    return {};
}

result<void> ring::update_buffer(unsigned slot, const iovec& buffer) noexcept {
    if (int r = io_uring_register_buffers_update_tag(&ring_, slot, &buffer, nullptr, 1); r < 0)
        return errno_code(-r);
    return {};
}

void ring::unregister_buffers() noexcept {
    io_uring_unregister_buffers(&ring_);
}

result<void> ring::register_buf_ring(io_uring_buf_ring* ring_memory, unsigned entries,
                                     std::uint16_t group) noexcept {
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(ring_memory);
    reg.ring_entries = entries;
    reg.bgid = group;
    if (int r = io_uring_register_buf_ring(&ring_, &reg, 0); r < 0)
        return errno_code(-r);
    return {};
}

void ring::unregister_buf_ring(std::uint16_t group) noexcept {
    (void)io_uring_unregister_buf_ring(&ring_, group);
}

result<void> ring::update_files(unsigned slot, std::span<const int> fds) noexcept {
    int r = io_uring_register_files_update(&ring_, slot, const_cast<int*>(fds.data()),
                                           static_cast<unsigned>(fds.size()));
    if (r < 0)
        return errno_code(-r);
    return {};
}

} // namespace spliced::uring
