// Do sockets in the ring's fixed-file table make SEND/RECV cheaper? (issue 4: "accepted sockets may
// live in the fixed table too if that measures faster")
//
//   fixed_sockets [SECONDS_PER_RUN] [ROUNDS] [CONNECTIONS]
//
// CONNECTIONS loopback TCP connections; each keeps one 4 KiB SEND (client side) and one 4 KiB RECV
// (server side) in flight on one ring, re-armed from their CQEs, as spliced's small-response path
// does. The same loop runs with plain descriptors and with the sockets registered
// (IOSQE_FIXED_FILE), alternating, and prints operations per second and CPU microseconds per
// operation (getrusage of the process). An idle second thread makes the descriptor table shared,
// as it is in spliced, so plain descriptors pay fdget's reference count as they do there.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdexcept>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

constexpr unsigned chunk = 4096;

void check(bool ok, const char* what) {
    if (!ok)
        throw std::runtime_error(std::string(what) + " failed");
}

// `n` connected loopback TCP pairs: fds[0..n) clients, fds[n..2n) servers.
std::vector<int> connected_pairs(unsigned n) {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    check(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind");
    check(::listen(listener, int(n)) == 0, "listen");
    check(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0, "getsockname");
    std::vector<int> fds(2 * n);
    for (unsigned i = 0; i < n; ++i) {
        fds[i] = ::socket(AF_INET, SOCK_STREAM, 0);
        check(::connect(fds[i], reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "connect");
        fds[n + i] = ::accept(listener, nullptr, nullptr);
        check(fds[n + i] >= 0, "accept");
        int one = 1;
        ::setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ::close(listener);
    return fds;
}

double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct outcome {
    double ops_per_second;
    double cpu_us_per_op;
};

// user_data: index into fds; even ops are sends (clients), odd are receives (servers).
outcome run(io_uring& ring, const std::vector<int>& fds, bool fixed, double seconds,
            std::vector<char>& buffers) {
    const unsigned n = unsigned(fds.size() / 2);
    auto arm = [&](unsigned index) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        if (!sqe) {
            io_uring_submit(&ring);
            sqe = io_uring_get_sqe(&ring);
        }
        const int fd = fixed ? int(index) : fds[index];
        char* buf = buffers.data() + std::size_t(index) * chunk;
        if (index < n)
            io_uring_prep_send(sqe, fd, buf, chunk, MSG_NOSIGNAL);
        else
            io_uring_prep_recv(sqe, fd, buf, chunk, 0);
        if (fixed)
            sqe->flags |= IOSQE_FIXED_FILE;
        io_uring_sqe_set_data64(sqe, index);
    };
    for (unsigned i = 0; i < 2 * n; ++i)
        arm(i);
    std::uint64_t ops = 0;
    const double cpu_before = cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    auto measured_end = end;
    bool stopping = false;
    double cpu_after = 0;
    unsigned in_flight = 2 * n;
    while (in_flight > 0) {
        io_uring_cqe* cqe = nullptr;
        io_uring_submit_and_wait(&ring, 1);
        unsigned head = 0, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            ++seen;
            if (stopping) { // whatever it ended with (data, end of stream, EPIPE)
                --in_flight;
                continue;
            }
            check(cqe->res > 0, "send/recv");
            ++ops;
            arm(unsigned(io_uring_cqe_get_data64(cqe)));
        }
        io_uring_cq_advance(&ring, seen);
        if (!stopping && std::chrono::steady_clock::now() >= end) {
            stopping = true;
            measured_end = std::chrono::steady_clock::now();
            cpu_after = cpu_seconds();
            // Stop re-arming; shutting the connections down ends whatever is still waiting.
            for (int fd : fds)
                ::shutdown(fd, SHUT_RDWR);
        }
    }
    const double elapsed = std::chrono::duration<double>(measured_end - start).count();
    return {double(ops) / elapsed, (cpu_after - cpu_before) * 1e6 / double(ops)};
}

} // namespace

int main(int argc, char** argv) try {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
    const unsigned conns = argc > 3 ? unsigned(std::atoi(argv[3])) : 64;

    std::atomic<bool> done{false};
    std::thread idle([&] {
        while (!done.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    });

    std::printf("| round | descriptors | ops/s | CPU us per op |\n|---|---|---|---|\n");
    for (int round = 1; round <= rounds; ++round) {
        for (bool fixed : {false, true}) {
            auto fds = connected_pairs(conns);
            io_uring ring{};
            io_uring_params params{};
            params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
            check(io_uring_queue_init_params(4 * conns, &ring, &params) == 0, "io_uring setup");
            if (fixed)
                check(io_uring_register_files(&ring, fds.data(), unsigned(fds.size())) == 0,
                      "register files");
            std::vector<char> buffers(fds.size() * chunk);
            auto r = run(ring, fds, fixed, seconds, buffers);
            std::printf("| %d | %s | %.0f | %.3f |\n", round, fixed ? "fixed" : "plain",
                        r.ops_per_second, r.cpu_us_per_op);
            std::fflush(stdout);
            io_uring_queue_exit(&ring);
            for (int fd : fds)
                ::close(fd);
        }
    }
    done = true;
    idle.join();
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "fixed_sockets: %s\n", e.what());
    return 1;
}
