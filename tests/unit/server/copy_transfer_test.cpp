// The copy tier's transfer and buffer-lease state machine on a real ring, a real file and real
// socketpairs: an empty pool, a full socket, a peer that goes away, a file that shrinks, and
// closing (abandon) in each state. After every case nothing may call back: the owner's count is
// zero and every buffer is back in the pool.

#include "copy_transfer.hpp"
#include "transfer_bench.hpp"

using namespace spliced;
using namespace spliced::server;
using namespace spliced::server::testing;

namespace {

constexpr std::size_t buffer_size = 64 << 10;

// The ring and file, plus a copy pool of `buffers` registered buffers.
struct bench : ring_with_file {
    explicit bench(unsigned buffers) {
        REQUIRE(ring->register_sparse_buffers(buffers).has_value());
        auto p = uring::buffer_pool::create(*ring, 0, buffers, buffer_size, buffers);
        REQUIRE(p.has_value());
        pool.emplace(std::move(*p));
        broker.emplace(*pool);
    }
    std::optional<uring::buffer_pool> pool;
    std::optional<buffer_broker> broker;
};

// One transfer on its own socket, with its owner and client, on a pool of one buffer.
struct single {
    explicit single(int sndbuf = 0) : b(1), s(sndbuf), t(*b.ring, client) { t.attach(owner); }
    // Runs until the transfer ends, reading the peer meanwhile; returns what the peer got.
    std::string run_to_end() {
        std::string got;
        b.run_until([&] { return client.end.has_value(); }, &s, &got);
        return got;
    }
    bench b;
    socket_pair s;
    recorder client;
    callback_count owner;
    copy_transfer t;
};

} // namespace

TEST_CASE("a whole file in 64 KiB chunks arrives byte-exact and gives its buffer back") {
    single x;
    x.t.start(*x.b.broker, x.s.server(), 0, 0, file_size);
    CHECK(x.run_to_end() == x.b.data);
    CHECK(*x.client.end == transfer_end::complete);
    CHECK(x.client.body == file_size);
    CHECK(x.owner.zero());
    CHECK(x.b.broker->in_use() == 0);
}

TEST_CASE("with the pool empty a transfer waits in line; abandoned there, it never calls back") {
    bench b(1);
    socket_pair first_socket, second_socket, third_socket;
    recorder first, second, third;
    callback_count first_owner, second_owner, third_owner;
    copy_transfer t1(*b.ring, first), t2(*b.ring, second), t3(*b.ring, third);
    t1.attach(first_owner);
    t2.attach(second_owner);
    t3.attach(third_owner);

    t1.start(*b.broker, first_socket.server(), 0, 0, file_size); // takes the only buffer
    t2.start(*b.broker, second_socket.server(), 0, 0, file_size);
    t3.start(*b.broker, third_socket.server(), 0, 4096, 4096);
    CHECK(b.broker->in_use() == 1);
    CHECK(t2.busy()); // queued: no operation, but the queue will call it back
    CHECK(second_owner.value() == 1);

    t2.abandon(); // the owner closes while queued: it leaves the line at once
    CHECK_FALSE(t2.busy());
    CHECK(second_owner.zero());

    std::string got1, got3;
    b.run_until([&] { return first.end.has_value(); }, &first_socket, &got1);
    b.run_until([&] { return third.end.has_value(); }, &third_socket, &got3);
    CHECK(*first.end == transfer_end::complete);
    CHECK(got1 == b.data);
    CHECK(*third.end == transfer_end::complete); // served after t1, skipping t2
    CHECK(got3 == b.data.substr(4096, 4096));
    CHECK_FALSE(second.end.has_value());
    CHECK(first_owner.zero());
    CHECK(third_owner.zero());
    CHECK(b.broker->in_use() == 0);
}

TEST_CASE("a full socket holds no buffer; abandoned while it waits, the poll's end is the last "
          "callback") {
    bench b(1);
    socket_pair stalled(4096), other;
    recorder stalled_client, other_client;
    callback_count stalled_owner, other_owner;
    copy_transfer t1(*b.ring, stalled_client), t2(*b.ring, other_client);
    t1.attach(stalled_owner);
    t2.attach(other_owner);

    t1.start(*b.broker, stalled.server(), 0, 0, file_size); // nobody reads this one
    b.run_until([&] { return b.ring->in_flight(uring::op_kind::poll) == 1; });
    CHECK(b.broker->in_use() == 0); // waiting for POLLOUT with nothing leased

    t2.start(*b.broker, other.server(), 0, 0, file_size); // so the only buffer serves another
    std::string got;
    b.run_until([&] { return other_client.end.has_value(); }, &other, &got);
    CHECK(*other_client.end == transfer_end::complete);
    CHECK(got == b.data);

    t1.abandon();
    CHECK(t1.busy()); // the poll is still in the kernel
    CHECK_FALSE(stalled_client.end.has_value());
    stalled.close_peer(); // what the owner's cancel or shutdown would do: the poll completes
    b.run_until([&] { return stalled_client.end.has_value(); });
    CHECK(*stalled_client.end == transfer_end::abandoned);
    CHECK(stalled_owner.zero());
    CHECK(b.broker->in_use() == 0);
}

TEST_CASE("a cancelled poll (-ECANCELED) ends an abandoned transfer as abandoned") {
    single x(4096);
    x.t.start(*x.b.broker, x.s.server(), 0, 0, file_size); // nobody reads
    x.b.run_until([&] { return x.b.ring->in_flight(uring::op_kind::poll) == 1; });

    x.t.abandon();
    struct cancel_op final : uring::operation {
        cancel_op() : operation(uring::op_kind::cancel) {}
        void complete(int r, std::uint32_t) noexcept override { res = r; }
        int res = 1;
    } cancel;
    io_uring_prep_cancel_fd(&cancel.sqe(), x.s.server(), IORING_ASYNC_CANCEL_ALL);
    x.b.ring->push(cancel);
    x.b.run_until([&] { return x.client.end.has_value() && !cancel.in_flight(); });
    CHECK(cancel.res == 1); // one operation (the poll) was cancelled
    CHECK(*x.client.end == transfer_end::abandoned);
    CHECK(x.owner.zero());
}

TEST_CASE("a peer that goes away ends the transfer as client_gone and the buffer returns") {
    single x;
    x.t.start(*x.b.broker, x.s.server(), 0, 0, file_size);
    std::string got;
    x.b.run_until([&] { return got.size() > 0; }, &x.s, &got);
    x.s.close_peer();
    x.b.run_until([&] { return x.client.end.has_value(); });
    CHECK(*x.client.end == transfer_end::client_gone);
    CHECK(got == x.b.data.substr(0, got.size())); // what arrived is an exact prefix
    CHECK(x.owner.zero());
    CHECK(x.b.broker->in_use() == 0);
}

TEST_CASE("a file that shrinks mid-transfer ends as file_shrank after an exact prefix") {
    single x;
    REQUIRE(ftruncate(x.b.file_fd, 100'000) == 0); // after the response promised 1 MiB
    x.t.start(*x.b.broker, x.s.server(), 0, 0, file_size);
    CHECK(x.run_to_end() == x.b.data.substr(0, 100'000)); // never padded, never past the end
    CHECK(*x.client.end == transfer_end::file_shrank);
    CHECK(x.owner.zero());
    CHECK(x.b.broker->in_use() == 0);
}

TEST_CASE("a head goes out in front of the body in the same buffer (the small tier)") {
    single x;
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n";
    x.t.start(*x.b.broker, x.s.server(), 0, 10, 3000, head);
    CHECK(x.run_to_end() == head + x.b.data.substr(10, 3000));
    CHECK(*x.client.end == transfer_end::complete);
    CHECK(x.client.head == head.size());
    CHECK(x.client.body == 3000);
    CHECK(x.owner.zero());
}
