#include "leases.hpp"

#include <cerrno>

namespace spliced::server {

namespace {

void give_pipe(pipe_waiter& w, const uring::pipe_lease& pipe) noexcept {
    w.pipe_ready(pipe);
}

void give_buffer(buffer_waiter& w, int index) noexcept {
    w.buffer_ready(index);
}

} // namespace

// ---- pipes ---------------------------------------------------------------------------------

result<uring::pipe_lease> pipe_broker::take() noexcept {
    auto pipe = pool_->acquire();
    if (pipe)
        ++leased_;
    else
        last_error_ = pipe.error().value();
    return pipe;
}

void pipe_broker::request(pipe_waiter& w) noexcept {
    waiters_.request(
        w, [this] { return take(); }, give_pipe);
    refuse_if_stuck();
}

void pipe_broker::release(const uring::pipe_lease& pipe, bool empty) noexcept {
    --leased_;
    pool_->release(pipe, empty);
    waiters_.serve([this] { return take(); }, give_pipe);
    refuse_if_stuck();
}

// EAGAIN from the pool means every pipe is leased, and a release will serve the queue. With no
// pipe alive at all (pipe2 refused: EMFILE, ENFILE, ENOMEM) nothing will ever be released, so
// whoever waits is told now.
void pipe_broker::refuse_if_stuck() noexcept {
    if (leased_ > 0 || pool_->created() > 0 || last_error_ == 0 || last_error_ == EAGAIN)
        return;
    last_error_ = 0;
    waiters_.refuse_all([](pipe_waiter& w) { w.pipe_refused(); });
}

// ---- registered buffers --------------------------------------------------------------------

std::optional<int> buffer_broker::take() noexcept {
    int index = pool_->acquire();
    if (index < 0)
        return std::nullopt;
    ++leased_;
    return index;
}

void buffer_broker::request(buffer_waiter& w) noexcept {
    waiters_.request(
        w, [this] { return take(); }, give_buffer);
}

void buffer_broker::release(int index) noexcept {
    --leased_;
    pool_->release(index);
    waiters_.serve([this] { return take(); }, give_buffer);
}

} // namespace spliced::server
