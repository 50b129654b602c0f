#include "spliced/client/downloader.hpp"

#include "download.hpp"
#include "spliced/uring/setup_refusal.hpp"

#include <cstring>
#include <netdb.h>
#include <signal.h>

namespace spliced::client {

namespace {

// getaddrinfo before the ring starts: name resolution has no io_uring operation, and a client
// resolves once per run.
result<std::pair<sockaddr_storage, socklen_t>> resolve(const http::url& url) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    auto port = std::to_string(url.port);
    if (int r = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); r != 0)
        return errno_code(r == EAI_SYSTEM ? errno : EHOSTUNREACH);
    std::pair<sockaddr_storage, socklen_t> out{};
    std::memcpy(&out.first, found->ai_addr, found->ai_addrlen);
    out.second = found->ai_addrlen;
    ::freeaddrinfo(found);
    return out;
}

download_report early(exit_code code, std::string message) {
    download_report r;
    r.code = code;
    r.message = std::move(message);
    return r;
}

} // namespace

int pending_stop_signal() noexcept {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    timespec zero{};
    int sig = ::sigtimedwait(&set, nullptr, &zero);
    return sig > 0 ? sig : 0;
}

download_report run_download(const get_options& options) {
    std::vector<origin> origins;
    for (const http::url* u = &options.url; u;) {
        auto peer = resolve(*u);
        if (!peer)
            return early(exit_code::network, "cannot resolve " + u->host);
        origins.emplace_back(*u, peer->first, peer->second);
        auto next = origins.size() - 1;
        u = next < options.mirrors.size() ? &options.mirrors[next] : nullptr;
    }
    // The ring first: where io_uring is refused, nothing is created (not even FILE.part).
    uring::ring_config config;
    config.sq_entries = 256;
    config.registered_files = 16;
    auto ring = uring::ring::create(config);
    if (!ring) {
        std::string why = "io_uring refused: " + ring.error().message();
        if (auto hint =
                uring::explain_setup_refusal(ring.error().value(), uring::read_setup_environment());
            !hint.empty())
            why += ": " + hint;
        return early(exit_code::failure, why);
    }
    auto out = output_file::open(options.output, options.force || options.if_changed);
    if (!out) {
        auto e = out.error();
        if (e == std::errc::operation_would_block)
            return early(exit_code::locked, options.output + ": locked by another spliced-get (" +
                                                options.output + ".part)");
        if (e == std::errc::file_exists)
            return early(exit_code::exists, options.output + " exists (--force replaces it)");
        return early(exit_code::local_io, options.output + ": " + e.message());
    }
    // SIGINT and SIGTERM are taken synchronously between loop turns (download::interrupted).
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
    download d(options, *ring, *out, origin_set(std::move(origins)));
    return d.run();
}

} // namespace spliced::client
