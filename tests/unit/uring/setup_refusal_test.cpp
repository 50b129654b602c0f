#include "spliced/uring/setup_refusal.hpp"

#include <cerrno>
#include <doctest/doctest.h>

using namespace spliced::uring;

namespace {

bool has(const std::string& text, const char* part) {
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("a seccomp filter is named, with the profile that allows io_uring") {
    setup_environment env;
    env.seccomp_mode = 2;
    env.io_uring_disabled = 0;
    for (int err : {EPERM, ENOSYS}) {
        auto text = explain_setup_refusal(err, env);
        CHECK(has(text, "Seccomp: 2"));
        CHECK(has(text, "allow io_uring_setup/enter/register: see deploy/seccomp/"));
    }
}

TEST_CASE("kernel.io_uring_disabled comes before seccomp for EPERM, and names the group") {
    setup_environment env;
    env.seccomp_mode = 2;
    env.io_uring_disabled = 2;
    CHECK(has(explain_setup_refusal(EPERM, env), "kernel.io_uring_disabled is 2"));
    env.io_uring_disabled = 1;
    env.io_uring_group = 1234;
    auto text = explain_setup_refusal(EPERM, env);
    CHECK(has(text, "kernel.io_uring_disabled is 1"));
    CHECK(has(text, "GID 1234"));
    CHECK(has(text, "SupplementaryGroups="));
    // ENOSYS does not come from the sysctl: with a filter in force, the filter is the cause.
    CHECK(has(explain_setup_refusal(ENOSYS, env), "seccomp"));
}

TEST_CASE("ENOSYS without seccomp is the kernel's") {
    setup_environment env;
    auto text = explain_setup_refusal(ENOSYS, env);
    CHECK(has(text, "CONFIG_IO_URING"));
    CHECK_FALSE(has(text, "seccomp"));
}

TEST_CASE("ENOMEM is the locked-memory limit, with its value") {
    setup_environment env;
    env.memlock = 8 << 20;
    auto text = explain_setup_refusal(ENOMEM, env);
    CHECK(has(text, "RLIMIT_MEMLOCK 8192 KiB"));
    CHECK(has(text, "LimitMEMLOCK"));
    env.memlock.reset();
    CHECK(has(explain_setup_refusal(ENOMEM, env), "RLIMIT_MEMLOCK unlimited"));
}

TEST_CASE("EPERM with neither filter nor sysctl points at security modules") {
    setup_environment env;
    env.io_uring_disabled = 0;
    CHECK(has(explain_setup_refusal(EPERM, env), "security module"));
}

TEST_CASE("errors that explain themselves get no hint") {
    CHECK(explain_setup_refusal(EBADF, setup_environment{}).empty());
}
