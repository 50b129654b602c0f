#include "spliced/uring/pipe_pool.hpp"
#include "spliced/uring/ring.hpp"
#include "spliced/uring/slot_closer.hpp"

#include <cstdlib>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace spliced::uring;

namespace {

struct recording_op final : operation {
    recording_op(std::vector<int>& log, int id) noexcept
        : operation(op_kind::read), log(&log), id(id) {}
    void complete(int res, std::uint32_t) noexcept override {
        log->push_back(id);
        last_res = res;
    }
    std::vector<int>* log;
    int id;
    int last_res = 1;
};

// liburing's tests skip where the kernel lacks a feature (exit 77); so do these.
ring make_ring(unsigned sq, unsigned files = 64) {
    ring_config cfg;
    cfg.sq_entries = sq;
    cfg.registered_files = files;
    auto r = ring::create(cfg);
    if (!r && (r.error().value() == ENOSYS || r.error().value() == EPERM)) {
        MESSAGE("io_uring unavailable: skipping");
        std::exit(77);
    }
    REQUIRE(r.has_value());
    return std::move(*r);
}

void run_until_idle(ring& r) {
    for (int i = 0; i < 1000 && r.stats().ops_in_flight > 0; ++i)
        r.run_once(std::chrono::milliseconds(10));
}

std::string fdinfo_field(int fd, const std::string& name) {
    std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(name + ":", 0) == 0)
            return line.substr(name.size() + 1);
    return {};
}

} // namespace

TEST_CASE("more ops than SQ entries all complete, in order, none dropped") {
    ring r = make_ring(8);
    std::vector<int> log;
    std::vector<std::unique_ptr<recording_op>> ops;
    for (int i = 0; i < 100; ++i) {
        ops.push_back(std::make_unique<recording_op>(log, i));
        io_uring_prep_nop(&ops.back()->sqe());
        r.push(*ops.back());
    }
    CHECK(r.stats().ops_in_flight == 100);
    run_until_idle(r);
    REQUIRE(log.size() == 100);
    for (int i = 0; i < 100; ++i)
        CHECK(log[std::size_t(i)] == i);
    CHECK(r.stats().sqes_submitted == 100);
    CHECK(r.stats().sq_full_waits > 0);
    for (auto& op : ops)
        CHECK_FALSE(op->in_flight());
}

TEST_CASE("a soft-linked chain is cut by a failure; a hard-linked one is not") {
    ring r = make_ring(16);
    std::vector<int> log;
    recording_op bad(log, 1), after_bad(log, 2), hard_bad(log, 3), hard_after(log, 4);
    // Reading a closed descriptor fails with -EBADF.
    static char buf[8];
    io_uring_prep_read(&bad.sqe(), 1'000'000, buf, sizeof buf, 0);
    io_uring_prep_nop(&after_bad.sqe());
    operation* soft[] = {&bad, &after_bad};
    r.push_chain(soft, false);
    io_uring_prep_read(&hard_bad.sqe(), 1'000'000, buf, sizeof buf, 0);
    io_uring_prep_nop(&hard_after.sqe());
    operation* hard[] = {&hard_bad, &hard_after};
    r.push_chain(hard, true);
    run_until_idle(r);
    CHECK(bad.last_res == -EBADF);
    CHECK(after_bad.last_res == -ECANCELED);
    CHECK(hard_bad.last_res == -EBADF);
    CHECK(hard_after.last_res == 0);
}

TEST_CASE("the setup mode is reported and the fixed-file table is registered") {
    ring r = make_ring(8, 128);
    CHECK_FALSE(r.setup_mode().empty());
    CHECK(r.registered_files() == 128);
    CHECK(fdinfo_field(r.fd(), "UserFiles").find("128") != std::string::npos);
}

TEST_CASE("pipe_pool: pipes live only in the fixed table, are reused when empty, bounded") {
    ring r = make_ring(8, 64);
    slot_allocator slots(64);
    pipe_pool pool(r, slots, 65536, 2);
    auto first = pool.acquire();
    REQUIRE(first.has_value());
    CHECK(first->capacity >= 65536);
    CHECK(slots.available() == 62);
    auto second = pool.acquire();
    REQUIRE(second.has_value());
    auto third = pool.acquire();
    REQUIRE_FALSE(third.has_value());
    CHECK(third.error().value() == EAGAIN);
    pool.release(*first, true);
    auto again = pool.acquire();
    REQUIRE(again.has_value());
    CHECK(again->read_slot == first->read_slot); // reused, not recreated
    pool.release(*again, false);                 // bytes left inside: destroyed
    CHECK(pool.created() == 1);
    CHECK(slots.available() == 62);
    pool.release(*second, true);
}

TEST_CASE("slot_closer returns a slot only after the kernel closed it") {
    ring r = make_ring(8, 16);
    slot_allocator slots(16);
    slot_closer closer(r, slots);
    auto slot = slots.acquire();
    REQUIRE(slot);
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(r.update_files(*slot, std::span<const int>(&fd, 1)).has_value());
    ::close(fd);
    CHECK(slots.available() == 15);
    closer.close(*slot);
    CHECK(slots.available() == 15);
    run_until_idle(r);
    CHECK(slots.available() == 16);
}
