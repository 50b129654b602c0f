// The floor for large transfers (issue 6): the least a server can do per byte on this kernel is
// sendfile(2) from the page cache to the socket. This program does only that: one thread, epoll,
// non-blocking sockets, every request (whatever it asks for) answered with FILE in full after a
// minimal head, keep-alive. Its CPU seconds per GiB are the reference spliced is held to.
//
//   sendfile_limit FILE
//
// Prints "listening on http://127.0.0.1:PORT" (port 0 picked by the kernel), like spliced.
#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <netinet/in.h>
#include <string>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>

namespace {

struct client {
    std::string in;    // request bytes not yet answered
    off_t offset = -1; // file offset being sent; -1: reading a request
    std::size_t head_sent = 0;
};

volatile std::sig_atomic_t stopping = 0;

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: sendfile_limit FILE\n");
        return 2;
    }
    int file = ::open(argv[1], O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (file < 0 || ::fstat(file, &st) != 0) {
        std::perror(argv[1]);
        return 1;
    }
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(st.st_size) +
                             "\r\nContent-Type: application/octet-stream\r\n\r\n";

    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGTERM, [](int) { stopping = 1; });
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener, 4096) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        std::perror("listen");
        return 1;
    }
    std::printf("listening on http://127.0.0.1:%u\n", ntohs(addr.sin_port));
    std::fflush(stdout);

    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listener;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    std::unordered_map<int, client> clients;
    char buf[4096];
    epoll_event events[256];

    auto drop = [&](int fd) {
        ::close(fd); // also leaves the epoll set
        clients.erase(fd);
    };
    // Sends head then file from where it left off; false when the socket is full (wait for
    // EPOLLOUT) or the client is gone (already dropped).
    auto pump = [&](int fd, client& c) {
        while (c.head_sent < head.size()) {
            ssize_t n = ::send(fd, head.data() + c.head_sent, head.size() - c.head_sent,
                               MSG_NOSIGNAL | MSG_MORE);
            if (n < 0)
                return errno == EAGAIN ? false : (drop(fd), false);
            c.head_sent += std::size_t(n);
        }
        while (c.offset < st.st_size) {
            ssize_t n = ::sendfile(fd, file, &c.offset, std::size_t(st.st_size - c.offset));
            if (n < 0)
                return errno == EAGAIN ? false : (drop(fd), false);
        }
        c.offset = -1; // done: read the next request
        return true;
    };
    auto watch = [&](int fd, std::uint32_t what) {
        epoll_event e{};
        e.events = what;
        e.data.fd = fd;
        ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
    };

    while (!stopping) {
        int n = ::epoll_wait(ep, events, 256, 200);
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                while (true) {
                    int s = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (s < 0)
                        break;
                    clients[s];
                    epoll_event e{};
                    e.events = EPOLLIN;
                    e.data.fd = s;
                    ::epoll_ctl(ep, EPOLL_CTL_ADD, s, &e);
                }
                continue;
            }
            auto it = clients.find(fd);
            if (it == clients.end())
                continue;
            client& c = it->second;
            if (c.offset >= 0) { // writable again
                if (pump(fd, c))
                    watch(fd, EPOLLIN);
                continue;
            }
            ssize_t got = ::recv(fd, buf, sizeof buf, 0);
            if (got <= 0) {
                if (got == 0 || errno != EAGAIN)
                    drop(fd);
                continue;
            }
            c.in.append(buf, std::size_t(got));
            auto end = c.in.find("\r\n\r\n");
            if (end == std::string::npos)
                continue;
            c.in.erase(0, end + 4); // any request: the answer is the file
            c.offset = 0;
            c.head_sent = 0;
            if (!pump(fd, c) && clients.count(fd))
                watch(fd, EPOLLOUT);
        }
    }
    return 0;
}
