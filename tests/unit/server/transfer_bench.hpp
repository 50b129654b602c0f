#pragma once
// What the transfer state-machine tests share: an owner that records what a transfer reports, a
// socketpair whose peer the test reads or closes, and a ring with a real file in fixed slot 0.

#include "spliced/uring/ring.hpp"
#include "transfer.hpp"

#include <chrono>
#include <cstdlib>
#include <doctest/doctest.h>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace spliced::server::testing {

inline constexpr std::size_t file_size = 1 << 20;

// What the owner (a connection) would see.
struct recorder final : transfer_client {
    void transfer_progress(std::uint64_t bytes) noexcept override { body += bytes; }
    void head_progress(std::uint64_t bytes) noexcept override { head += bytes; }
    void transfer_done(transfer_end e) noexcept override {
        CHECK_FALSE(end.has_value()); // one end per transfer
        end = e;
    }
    std::uint64_t body = 0, head = 0;
    std::optional<transfer_end> end;
};

// fds[0] is the server's non-blocking socket (with a small send buffer if asked), fds[1] the peer.
struct socket_pair {
    explicit socket_pair(int sndbuf = 0) {
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
        if (sndbuf)
            setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    ~socket_pair() {
        for (int fd : fds)
            if (fd >= 0)
                close(fd);
    }
    int server() const { return fds[0]; }
    void close_peer() {
        close(fds[1]);
        fds[1] = -1;
    }
    // Reads what is there without blocking; appends to `into`.
    void drain(std::string& into) const {
        char buf[65536];
        for (ssize_t n; (n = read(fds[1], buf, sizeof buf)) > 0;)
            into.append(buf, std::size_t(n));
    }
    int fds[2];
};

// One transfer with what its owner holds for it: the socket, the client that records what the
// transfer reports, and the count of what may still call back. `args` are the transfer's
// constructor arguments before the client.
template <class Transfer>
struct party {
    template <class... Args>
    explicit party(int sndbuf, Args&... args) : socket(sndbuf), t(args..., client) {
        t.attach(owner);
    }
    socket_pair socket;
    recorder client;
    callback_count owner;
    Transfer t; // last: destroyed first, while the count it asserts on still exists
};

// A ring of 8 fixed-file slots with a 1 MiB file of known bytes in slot 0.
struct ring_with_file {
    ring_with_file() {
        uring::ring_config cfg;
        cfg.sq_entries = 64;
        cfg.registered_files = 8;
        auto r = uring::ring::create(cfg);
        if (!r) { // liburing's tests skip where the kernel lacks io_uring; so do these
            MESSAGE("io_uring unavailable: skipping");
            std::exit(77);
        }
        ring.emplace(std::move(*r));
        char path[] = "/tmp/spliced-transfer-test-XXXXXX";
        file_fd = mkstemp(path);
        REQUIRE(file_fd >= 0);
        unlink(path);
        for (std::size_t i = 0; i < file_size; ++i)
            data.push_back(char('a' + i * 7 % 26 + (i / 4096) % 3));
        REQUIRE(write(file_fd, data.data(), data.size()) == ssize_t(data.size()));
        const int fds[] = {file_fd};
        REQUIRE(ring->update_files(0, fds).has_value());
    }
    ~ring_with_file() {
        const int none[] = {-1};
        (void)ring->update_files(0, none);
        close(file_fd);
    }
    // Runs the ring until `done()` holds, reading `reader`'s peer into `got` meanwhile; fails the
    // test after 1,000 turns of at most 10 ms.
    template <class Condition>
    void run_until(Condition done, const socket_pair* reader = nullptr,
                   std::string* got = nullptr) {
        for (int turn = 0; turn < 1000 && !done(); ++turn) {
            if (reader)
                reader->drain(*got);
            ring->run_once(std::chrono::milliseconds(10));
        }
        if (reader)
            reader->drain(*got);
        REQUIRE(done());
    }

    std::optional<uring::ring> ring;
    int file_fd = -1;
    std::string data;
};

} // namespace spliced::server::testing
