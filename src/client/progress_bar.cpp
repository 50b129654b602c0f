#include "progress_bar.hpp"

#include <cstdio>

namespace spliced::client {

progress_bar::progress_bar(bool wanted, std::uint64_t started_ns)
    : on_(wanted), started_ns_(started_ns) {}

void progress_bar::update(std::uint64_t now_ns, const figures& f) {
    if (!on_ || f.size == 0 || now_ns < drawn_ns_ + 250'000'000)
        return;
    draw(now_ns, f);
    drawn_ns_ = now_ns;
}

void progress_bar::finish(std::uint64_t now_ns, const figures& f) {
    if (!on_)
        return;
    draw(now_ns, f);
    std::fputc('\n', stderr);
}

void progress_bar::draw(std::uint64_t now_ns, const figures& f) {
    double total = double(f.size), have = double(f.present);
    double seconds = double(now_ns - started_ns_) / 1e9;
    double rate = seconds > 0 ? double(f.fetched) / seconds : 0;
    double eta = rate > 0 ? (total - have) / rate : 0;
    std::fprintf(stderr, "\r%5.1f%%  %8.1f / %.1f MiB  %7.1f MiB/s  ETA %3.0f s  %u conn ",
                 total > 0 ? 100.0 * have / total : 100.0, have / 1048576, total / 1048576,
                 rate / 1048576, eta, f.connections);
}

} // namespace spliced::client
