#include "acceptor.hpp"

#include "worker_state.hpp"

#include <sys/socket.h>

namespace spliced::server {

acceptor::acceptor(worker_state& w, std::vector<unique_fd>& listeners, accept_client& client)
    : w_(w), client_(client) {
    for (auto& l : listeners)
        slots_.push_back(std::make_unique<slot>(*this, l));
}

void acceptor::arm() noexcept {
    if (retry_ns_ && w_.now_ns < retry_ns_)
        return;
    retry_ns_ = 0;
    for (auto& s : slots_) {
        if (s->accept.in_flight() || s->cancel.in_flight())
            continue;
        s->paused = false;
        io_uring_prep_multishot_accept(&s->accept.sqe(), s->listener->get(), nullptr, nullptr,
                                       SOCK_NONBLOCK | SOCK_CLOEXEC);
        w_.ring.push(s->accept);
    }
}

void acceptor::pause() noexcept {
    for (auto& s : slots_) {
        if (!s->accept.in_flight() || s->paused)
            continue;
        s->paused = true;
        io_uring_prep_cancel(&s->cancel.sqe(), &s->accept, 0);
        w_.ring.push(s->cancel);
    }
}

void acceptor::close_listeners() noexcept {
    for (auto& s : slots_) {
        if (*s->listener && !s->accept.in_flight() && !s->cancel.in_flight())
            s->listener->reset();
    }
}

void acceptor::back_off() noexcept {
    retry_ns_ = w_.now_ns + 100'000'000;
}

void acceptor::on_accept(int res) noexcept {
    if (res >= 0)
        client_.accepted(res);
    else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM)
        back_off();
}

} // namespace spliced::server
