#pragma once
// Why io_uring_setup (or _enter/_register) was refused, in one line an operator can act on.
// Containers are the usual cause: Docker >= 25 and containerd >= 2.0 dropped io_uring from their
// default seccomp profiles, Podman and CRI-O never had it (ENOSYS), and Linux 6.6 added the
// kernel.io_uring_disabled sysctl. The facts are read once, when the ring is refused; the
// explanation is a pure function of them so that every branch is tested.

#include <cstdint>
#include <optional>
#include <string>

namespace spliced::uring {

struct setup_environment {
    int seccomp_mode = 0; // "Seccomp:" in /proc/self/status: 0 off, 1 strict, 2 filter
    std::optional<int>
        io_uring_disabled;              // kernel.io_uring_disabled, where the kernel has it (6.6+)
    std::optional<long> io_uring_group; // kernel.io_uring_group: the GID that mode 1 lets in
    std::optional<std::uint64_t> memlock; // RLIMIT_MEMLOCK soft limit in bytes; nullopt = unlimited
};

// Reads /proc/self/status, /proc/sys/kernel/io_uring_{disabled,group} and RLIMIT_MEMLOCK.
setup_environment read_setup_environment() noexcept;

// What refused the ring and what fixes it (no trailing newline), e.g. for EPERM under a seccomp
// filter: "a seccomp filter refuses io_uring (...): allow io_uring_setup/enter/register: see
// deploy/seccomp/". Empty for errors that say enough on their own.
std::string explain_setup_refusal(int err, const setup_environment& env);

} // namespace spliced::uring
