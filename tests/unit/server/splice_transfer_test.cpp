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

// One transfer on its own socket, on a pool of one pipe.
struct single : bench, party<splice_transfer> {
    explicit single(unsigned max_pipes = 1, int sndbuf = 0)
        : bench(max_pipes), party(sndbuf, *ring, *broker) {}
    // Runs until the transfer ends, reading the peer meanwhile; returns what the peer got.
    std::string run_to_end() {
        std::string got;
        run_until([&] { return client.end.has_value(); }, &socket, &got);
        return got;
    }
};

} // namespace

TEST_CASE("one pipe serves transfers in turn; one abandoned in the queue never calls back") {
    bench b(1);
    party<splice_transfer> first(0, *b.ring, *b.broker), second(0, *b.ring, *b.broker),
        third(0, *b.ring, *b.broker);
    first.t.start(first.socket.server(), 0, 0, file_size); // takes the only pipe
    second.t.start(second.socket.server(), 0, 0, file_size);
    third.t.start(third.socket.server(), 0, 100, 5000);
    CHECK(b.broker->in_use() == 1);
    CHECK(second.t.busy()); // waiting for the pipe: the queue will call it back
    second.t.abandon();
    CHECK_FALSE(second.t.busy());
    CHECK(second.owner.zero());

    std::string got1, got3;
    b.run_until([&] { return first.client.end && third.client.end; }, &first.socket, &got1);
    third.socket.drain(got3);
    CHECK(*first.client.end == transfer_end::complete);
    CHECK(got1 == b.data);
    CHECK(*third.client.end == transfer_end::complete);
    CHECK(got3 == b.data.substr(100, 5000));
    CHECK_FALSE(second.client.end.has_value());
    CHECK(first.owner.zero());
    CHECK(third.owner.zero());
    CHECK(b.broker->in_use() == 0);
}

TEST_CASE("a full socket holds no pipe; abandoned while it waits, the poll's end is the last "
          "callback") {
    bench b(1);
    party<splice_transfer> stalled(4096, *b.ring, *b.broker), other(0, *b.ring, *b.broker);
    stalled.t.start(stalled.socket.server(), 0, 0, file_size); // nobody reads it
    b.run_until([&] { return b.ring->in_flight(uring::op_kind::poll) == 1; });
    CHECK(b.broker->in_use() == 0);

    other.t.start(other.socket.server(), 0, 0, file_size);
    std::string got;
    b.run_until([&] { return other.client.end.has_value(); }, &other.socket, &got);
    CHECK(*other.client.end == transfer_end::complete);
    CHECK(got == b.data);

    std::string stalled_got;
    stalled.socket.drain(stalled_got);
    CHECK(stalled_got == b.data.substr(0, stalled_got.size()));
    stalled.t.abandon();
    CHECK(stalled.t.busy());
    stalled.socket.close_peer();
    b.run_until([&] { return stalled.client.end.has_value(); });
    CHECK(*stalled.client.end == transfer_end::abandoned);
    CHECK(stalled.owner.zero());
    CHECK(b.broker->in_use() == 0);
}

TEST_CASE("a peer that goes away ends the transfer as client_gone and the pipe returns") {
    single x;
    x.t.start(x.socket.server(), 0, 0, file_size);
    std::string got;
    x.run_until([&] { return got.size() > 0; }, &x.socket, &got);
    x.socket.close_peer();
    x.run_until([&] { return x.client.end.has_value(); });
    CHECK(*x.client.end == transfer_end::client_gone);
    CHECK(got == x.data.substr(0, got.size()));
    CHECK(x.owner.zero());
    CHECK(x.broker->in_use() == 0);
}

TEST_CASE("a file that shrinks ends as file_shrank after an exact prefix") {
    single x;
    REQUIRE(ftruncate(x.file_fd, 70'000) == 0);
    x.t.start(x.socket.server(), 0, 0, file_size);
    CHECK(x.run_to_end() == x.data.substr(0, 70'000));
    CHECK(*x.client.end == transfer_end::file_shrank);
    CHECK(x.owner.zero());
    CHECK(x.broker->in_use() == 0);
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
    x.t.start(x.socket.server(), 0, 0, file_size);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
    REQUIRE(x.client.end.has_value()); // at once: no release will ever come
    CHECK(*x.client.end == transfer_end::no_pipe);
    CHECK_FALSE(x.t.busy());
    CHECK(x.owner.zero());
    CHECK(x.t.position().offset == 0); // where another tier takes over
    CHECK(x.t.position().remaining == file_size);
}
