// The splice tier's transfer and pipe-lease state machine on a real ring, a real file, real pipes
// and real socketpairs: one pipe shared in turn, closing while queued, a full socket that holds
// no pipe, a peer that goes away, a file that shrinks, and no pipe to be had at all (pipe2 fails
// with EMFILE: the transfer is refused, never left waiting). After every case nothing may call
// back: the owner's count is zero and every pipe is back in the pool.

#include "splice_transfer.hpp"
#include "spliced/uring/slot_allocator.hpp"
#include "transfer_bench.hpp"

#include <sys/resource.h>

using namespace spliced;
using namespace spliced::server;
using namespace spliced::server::testing;

namespace {

// The ring and file, plus slots 2..7 for pipes and a pool of at most `max_pipes`.
struct bench : ring_with_file {
    explicit bench(unsigned max_pipes) {
        pipes.emplace(*ring, pipe_slots, 64 << 10, max_pipes);
        broker.emplace(*pipes);
    }
    ~bench() {
        broker.reset();
        pipes.reset(); // its pipes leave the ring's table before the ring goes
    }
    uring::slot_allocator pipe_slots{6, 2};
    std::optional<uring::pipe_pool> pipes;
    std::optional<pipe_broker> broker;
};

struct single {
    explicit single(unsigned max_pipes = 1, int sndbuf = 0)
        : b(max_pipes), s(sndbuf), t(*b.ring, *b.broker, client) {
        t.attach(owner);
    }
    std::string run_to_end() {
        std::string got;
        b.run_until([&] { return client.end.has_value(); }, &s, &got);
        return got;
    }
    bench b;
    socket_pair s;
    recorder client;
    callback_count owner;
    splice_transfer t;
};

} // namespace

TEST_CASE("one pipe serves transfers in turn; one abandoned in the queue never calls back") {
    bench b(1);
    socket_pair s1, s2, s3;
    recorder c1, c2, c3;
    callback_count o1, o2, o3;
    splice_transfer t1(*b.ring, *b.broker, c1), t2(*b.ring, *b.broker, c2),
        t3(*b.ring, *b.broker, c3);
    t1.attach(o1);
    t2.attach(o2);
    t3.attach(o3);
    t1.start(s1.server(), 0, 0, file_size); // takes the only pipe
    t2.start(s2.server(), 0, 0, file_size);
    t3.start(s3.server(), 0, 100, 5000);
    CHECK(b.broker->in_use() == 1);
    CHECK(t2.busy()); // waiting for the pipe: the queue will call it back
    t2.abandon();
    CHECK_FALSE(t2.busy());
    CHECK(o2.zero());

    std::string got1, got3;
    b.run_until([&] { return c1.end && c3.end; }, &s1, &got1);
    s3.drain(got3);
    CHECK(*c1.end == transfer_end::complete);
    CHECK(got1 == b.data);
    CHECK(*c3.end == transfer_end::complete);
    CHECK(got3 == b.data.substr(100, 5000));
    CHECK_FALSE(c2.end.has_value());
    CHECK(o1.zero());
    CHECK(o3.zero());
    CHECK(b.broker->in_use() == 0);
}

TEST_CASE("a full socket holds no pipe; abandoned while it waits, the poll's end is the last "
          "callback") {
    bench b(1);
    socket_pair stalled(4096), other;
    recorder stalled_client, other_client;
    callback_count stalled_owner, other_owner;
    splice_transfer t1(*b.ring, *b.broker, stalled_client), t2(*b.ring, *b.broker, other_client);
    t1.attach(stalled_owner);
    t2.attach(other_owner);
    t1.start(stalled.server(), 0, 0, file_size);
    b.run_until([&] { return b.ring->in_flight(uring::op_kind::poll) == 1; });
    CHECK(b.broker->in_use() == 0);

    t2.start(other.server(), 0, 0, file_size);
    std::string got;
    b.run_until([&] { return other_client.end.has_value(); }, &other, &got);
    CHECK(*other_client.end == transfer_end::complete);
    CHECK(got == b.data);

    std::string stalled_got;
    stalled.drain(stalled_got);
    CHECK(stalled_got == b.data.substr(0, stalled_got.size()));
    t1.abandon();
    CHECK(t1.busy());
    stalled.close_peer();
    b.run_until([&] { return stalled_client.end.has_value(); });
    CHECK(*stalled_client.end == transfer_end::abandoned);
    CHECK(stalled_owner.zero());
    CHECK(b.broker->in_use() == 0);
}

TEST_CASE("a peer that goes away ends the transfer as client_gone and the pipe returns") {
    single x;
    x.t.start(x.s.server(), 0, 0, file_size);
    std::string got;
    x.b.run_until([&] { return got.size() > 0; }, &x.s, &got);
    x.s.close_peer();
    x.b.run_until([&] { return x.client.end.has_value(); });
    CHECK(*x.client.end == transfer_end::client_gone);
    CHECK(got == x.b.data.substr(0, got.size()));
    CHECK(x.owner.zero());
    CHECK(x.b.broker->in_use() == 0);
}

TEST_CASE("a file that shrinks ends as file_shrank after an exact prefix") {
    single x;
    REQUIRE(ftruncate(x.b.file_fd, 70'000) == 0);
    x.t.start(x.s.server(), 0, 0, file_size);
    CHECK(x.run_to_end() == x.b.data.substr(0, 70'000));
    CHECK(*x.client.end == transfer_end::file_shrank);
    CHECK(x.owner.zero());
    CHECK(x.b.broker->in_use() == 0);
}

TEST_CASE("no pipe can be made (EMFILE) and none exists: refused with no_pipe, never queued") {
    single x;
    rlimit saved{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    // Every descriptor number up to the highest open one is taken or below it: pipe2 finds none.
    int highest = dup(0);
    REQUIRE(highest >= 0);
    close(highest);
    rlimit tight = saved;
    tight.rlim_cur = rlim_t(highest);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &tight) == 0);
    x.t.start(x.s.server(), 0, 0, file_size);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
    REQUIRE(x.client.end.has_value()); // at once: no release will ever come
    CHECK(*x.client.end == transfer_end::no_pipe);
    CHECK_FALSE(x.t.busy());
    CHECK(x.owner.zero());
    CHECK(x.t.position().offset == 0); // where another tier takes over
    CHECK(x.t.position().remaining == file_size);
}
