#include "spliced/uring/setup_refusal.hpp"

#include <cerrno>
#include <fstream>
#include <sys/resource.h>

namespace spliced::uring {

namespace {

template <typename T>
std::optional<T> read_number(const char* path) {
    std::ifstream in(path);
    T value{};
    if (in >> value)
        return value;
    return std::nullopt;
}

int read_seccomp_mode() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("Seccomp:", 0) == 0)
            return std::atoi(line.c_str() + 8);
    return 0;
}

} // namespace

setup_environment read_setup_environment() noexcept {
    setup_environment env;
    try {
        env.seccomp_mode = read_seccomp_mode();
        env.io_uring_disabled = read_number<int>("/proc/sys/kernel/io_uring_disabled");
        env.io_uring_group = read_number<long>("/proc/sys/kernel/io_uring_group");
    } catch (...) {
        // a diagnosis without these facts still names the error
    }
    if (rlimit lim{}; ::getrlimit(RLIMIT_MEMLOCK, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
        env.memlock = lim.rlim_cur;
    return env;
}

std::string explain_setup_refusal(int err, const setup_environment& env) {
    const bool refused = err == EPERM || err == ENOSYS;
    // The sysctl answers EPERM before any seccomp filter could matter for a process it lets in.
    if (err == EPERM && env.io_uring_disabled == 2)
        return "kernel.io_uring_disabled is 2, io_uring is off for every process: set the sysctl "
               "to "
               "0, or to 1 with spliced's group in kernel.io_uring_group";
    if (err == EPERM && env.io_uring_disabled == 1)
        return "kernel.io_uring_disabled is 1, only CAP_SYS_ADMIN and the group "
               "kernel.io_uring_group "
               "(GID " +
               (env.io_uring_group ? std::to_string(*env.io_uring_group) : std::string("-1")) +
               ") may create rings: add spliced's user to that group (systemd "
               "SupplementaryGroups=) or set the sysctl to 0";
    if (refused && env.seccomp_mode != 0)
        return "a seccomp filter refuses io_uring (Seccomp: " + std::to_string(env.seccomp_mode) +
               " in /proc/self/status; Docker >= 25, containerd >= 2.0, Podman and CRI-O default "
               "profiles do): allow io_uring_setup/enter/register: see deploy/seccomp/";
    if (err == ENOSYS)
        return "this kernel has no io_uring: older than 5.1, or built without CONFIG_IO_URING";
    if (err == ENOMEM) {
        std::string limit =
            env.memlock ? std::to_string(*env.memlock >> 10) + " KiB" : std::string("unlimited");
        return "locked memory refused (RLIMIT_MEMLOCK " + limit +
               "): raise systemd's LimitMEMLOCK=, ulimit -l or the container's memlock ulimit, or "
               "lower --queue-depth/--cq-depth";
    }
    if (err == EPERM)
        return "no seccomp filter or io_uring sysctl explains it: a security module (SELinux's "
               "io_uring class, AppArmor) or a missing capability refuses the ring";
    if (err == EINVAL)
        return "the kernel refuses the ring's parameters: lower --queue-depth/--cq-depth, drop "
               "--sqpoll";
    return {};
}

} // namespace spliced::uring
