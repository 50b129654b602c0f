// A load client for large bodies (issue 6): N keep-alive connections, each sending GET PATH and
// reading the whole response with 256 KiB reads, again and again, for D seconds. wrk reads 8 KiB
// at a time, which caps one client core near 2 GB/s and hides the servers' differences.
//
//   sink HOST PORT PATH CONNECTIONS SECONDS
//
// Prints one line of key=value pairs: requests, bytes (body + head), seconds, p50_ms, p99_ms,
// errors. Bodies are checked only for length (Content-Length); a response that is not 200, a
// connection the server closes, or a short body counts as an error and the connection is reopened.
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct conn {
    int fd = -1;
    std::string head;            // response head bytes so far (until the blank line)
    long long body_left = -1;    // -1: reading the head
    clock_type::time_point sent; // when the request went out
};

struct totals {
    long long requests = 0;
    long long bytes = 0;
    long long errors = 0;
    std::vector<double> latencies_ms;
};

int connect_to(const sockaddr_in& addr) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 &&
        errno != EINPROGRESS) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// The request is tiny: a non-blocking send on a fresh or idle connection takes it whole.
bool send_request(conn& c, const std::string& request) {
    c.head.clear();
    c.body_left = -1;
    c.sent = clock_type::now();
    ssize_t n = ::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL);
    return n == ssize_t(request.size());
}

// Parses the head once complete; returns false if it is not a 200 with a Content-Length.
bool parse_head(conn& c, std::size_t end) {
    if (c.head.compare(0, 12, "HTTP/1.1 200") != 0)
        return false;
    auto lower = c.head.substr(0, end);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    auto at = lower.find("\r\ncontent-length:");
    if (at == std::string::npos)
        return false;
    c.body_left = std::atoll(lower.c_str() + at + 17);
    return true;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: sink HOST PORT PATH CONNECTIONS SECONDS\n");
        return 2;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[2])));
    if (::inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        std::fprintf(stderr, "sink: bad address %s\n", argv[1]);
        return 2;
    }
    const std::string request = std::string("GET ") + argv[3] + " HTTP/1.1\r\nHost: " + argv[1] +
                                "\r\nUser-Agent: spliced-sink\r\n\r\n";
    const int connections = std::atoi(argv[4]);
    const double seconds = std::atof(argv[5]);

    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    std::vector<conn> conns(static_cast<std::size_t>(connections));
    totals t;
    auto open_one = [&](std::size_t i) {
        conn& c = conns[i];
        if (c.fd >= 0)
            ::close(c.fd);
        c.fd = connect_to(addr);
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.u64 = i;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
        c.body_left = -2; // connecting: send the request once writable
    };
    for (std::size_t i = 0; i < conns.size(); ++i)
        open_one(i);

    std::vector<char> buffer(256 << 10);
    std::vector<epoll_event> events(conns.size());
    const auto start = clock_type::now();
    const auto end = start + std::chrono::duration_cast<clock_type::duration>(
                                 std::chrono::duration<double>(seconds));
    auto fail = [&](std::size_t i) {
        ++t.errors;
        open_one(i);
    };
    while (clock_type::now() < end) {
        int n = ::epoll_wait(ep, events.data(), int(events.size()), 100);
        for (int e = 0; e < n; ++e) {
            const std::size_t i = events[e].data.u64;
            conn& c = conns[i];
            if (c.body_left == -2) { // connected (or failed to)
                epoll_event ev{};
                ev.events = EPOLLIN;
                ev.data.u64 = i;
                ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
                if (!send_request(c, request))
                    fail(i);
                continue;
            }
            // Read what is there, up to the end of this response (never past it: keep-alive).
            while (true) {
                std::size_t want = buffer.size();
                if (c.body_left > 0)
                    want = std::size_t(std::min<long long>(c.body_left, (long long)buffer.size()));
                else if (c.body_left == -1)
                    want = 4096; // the head: small reads, so no body byte is read past it
                ssize_t got = ::recv(c.fd, buffer.data(), want, 0);
                if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    break;
                if (got <= 0) {
                    fail(i);
                    break;
                }
                t.bytes += got;
                if (c.body_left == -1) {
                    c.head.append(buffer.data(), std::size_t(got));
                    auto blank = c.head.find("\r\n\r\n");
                    if (blank == std::string::npos)
                        continue;
                    if (!parse_head(c, blank)) {
                        fail(i);
                        break;
                    }
                    c.body_left -=
                        (long long)(c.head.size() - blank - 4); // body bytes already here
                } else {
                    c.body_left -= got;
                }
                if (c.body_left == 0) {
                    ++t.requests;
                    t.latencies_ms.push_back(
                        std::chrono::duration<double, std::milli>(clock_type::now() - c.sent)
                            .count());
                    if (!send_request(c, request)) {
                        fail(i);
                        break;
                    }
                } else if (c.body_left < 0) {
                    fail(i); // more bytes than Content-Length said
                    break;
                }
            }
        }
    }
    const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
    std::sort(t.latencies_ms.begin(), t.latencies_ms.end());
    auto pct = [&](double p) {
        return t.latencies_ms.empty()
                   ? 0.0
                   : t.latencies_ms[std::size_t(p * double(t.latencies_ms.size() - 1))];
    };
    std::printf("requests=%lld bytes=%lld seconds=%.3f p50_ms=%.2f p99_ms=%.2f errors=%lld\n",
                t.requests, t.bytes, elapsed, pct(0.5), pct(0.99), t.errors);
    for (auto& c : conns)
        if (c.fd >= 0)
            ::close(c.fd);
    ::close(ep);
    return 0;
}
