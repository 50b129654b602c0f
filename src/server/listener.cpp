#include "listener.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <system_error>

namespace spliced::server {

namespace {

[[noreturn]] void fail(int err, const endpoint& where, const char* what) {
    throw std::system_error(err, std::generic_category(),
                            std::string(what) + " " + where.host + ":" +
                                std::to_string(where.port));
}

unique_fd bind_one(const sockaddr_storage& addr, socklen_t len, const endpoint& where) {
    unique_fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd)
        fail(errno, where, "socket");
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        fail(errno, where, "SO_REUSEPORT on");
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) < 0)
        fail(errno, where, "cannot bind");
    // The backlog is where connections wait while --max-connections is reached.
    if (::listen(fd.get(), SOMAXCONN) < 0)
        fail(errno, where, "cannot listen on");
    return fd;
}

} // namespace

bound_listeners open_listeners(const endpoint& where, unsigned workers) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    auto port = std::to_string(where.port);
    if (int rc = ::getaddrinfo(where.host.c_str(), port.c_str(), &hints, &found); rc != 0)
        throw std::system_error(EINVAL, std::generic_category(),
                                "cannot resolve " + where.host + ": " + ::gai_strerror(rc));
    sockaddr_storage addr{};
    socklen_t len = static_cast<socklen_t>(found->ai_addrlen);
    std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
    ::freeaddrinfo(found);

    bound_listeners out;
    out.bound = where;
    for (unsigned i = 0; i < workers; ++i) {
        out.per_worker.push_back(bind_one(addr, len, where));
        if (i == 0) {
            // Port 0: every other worker binds the port the kernel picked for the first.
            sockaddr_storage actual{};
            socklen_t actual_len = sizeof actual;
            ::getsockname(out.per_worker[0].get(), reinterpret_cast<sockaddr*>(&actual),
                          &actual_len);
            auto picked = actual.ss_family == AF_INET6
                              ? reinterpret_cast<sockaddr_in6*>(&actual)->sin6_port
                              : reinterpret_cast<sockaddr_in*>(&actual)->sin_port;
            out.bound.port = ntohs(picked);
            if (addr.ss_family == AF_INET6)
                reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = picked;
            else
                reinterpret_cast<sockaddr_in*>(&addr)->sin_port = picked;
        }
    }
    return out;
}

} // namespace spliced::server
