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

// One transfer on its own socket, on a pool of one buffer.
struct single : bench, party<copy_transfer> {
    explicit single(int sndbuf = 0) : bench(1), party(sndbuf, *ring) {}
    // Runs until the transfer ends, reading the peer meanwhile; returns what the peer got.
    std::string run_to_end() {
        std::string got;
        run_until([&] { return client.end.has_value(); }, &socket, &got);
        return got;
    }
};

} // namespace

TEST_CASE("a whole file in 64 KiB chunks arrives byte-exact and gives its buffer back") {
    single x;
    x.t.start(*x.broker, x.socket.server(), 0, 0, file_size);
    CHECK(x.run_to_end() == x.data);
    CHECK(*x.client.end == transfer_end::complete);
    CHECK(x.client.body == file_size);
    CHECK(x.owner.zero());
    CHECK(x.broker->in_use() == 0);
}

TEST_CASE("with the pool empty a transfer waits in line; abandoned there, it never calls back") {
    bench b(1);
    party<copy_transfer> first(0, *b.ring), second(0, *b.ring), third(0, *b.ring);
    first.t.start(*b.broker, first.socket.server(), 0, 0, file_size); // takes the only buffer
    second.t.start(*b.broker, second.socket.server(), 0, 0, file_size);
    third.t.start(*b.broker, third.socket.server(), 0, 4096, 4096);
    CHECK(b.broker->in_use() == 1);
    CHECK(second.t.busy()); // queued: no operation, but the queue will call it back
    CHECK(second.owner.value() == 1);

    second.t.abandon(); // the owner closes while queued: it leaves the line at once
    CHECK_FALSE(second.t.busy());
    CHECK(second.owner.zero());

    std::string got1, got3;
    b.run_until([&] { return first.client.end.has_value(); }, &first.socket, &got1);
    b.run_until([&] { return third.client.end.has_value(); }, &third.socket, &got3);
    CHECK(*first.client.end == transfer_end::complete);
    CHECK(got1 == b.data);
    CHECK(*third.client.end ==
          transfer_end::complete); // served after the first, skipping the second
    CHECK(got3 == b.data.substr(4096, 4096));
    CHECK_FALSE(second.client.end.has_value());
    CHECK(first.owner.zero());
    CHECK(third.owner.zero());
    CHECK(b.broker->in_use() == 0);
}

TEST_CASE("a full socket holds no buffer; abandoned while it waits, the poll's end is the last "
          "callback") {
    bench b(1);
    party<copy_transfer> stalled(4096, *b.ring), other(0, *b.ring);
    stalled.t.start(*b.broker, stalled.socket.server(), 0, 0, file_size); // nobody reads it
    b.run_until([&] { return b.ring->in_flight(uring::op_kind::poll) == 1; });
    CHECK(b.broker->in_use() == 0); // waiting for POLLOUT with nothing leased

    other.t.start(*b.broker, other.socket.server(), 0, 0, file_size); // the buffer serves another
    std::string got;
    b.run_until([&] { return other.client.end.has_value(); }, &other.socket, &got);
    CHECK(*other.client.end == transfer_end::complete);
    CHECK(got == b.data);

    stalled.t.abandon();
    CHECK(stalled.t.busy()); // the poll is still in the kernel
    CHECK_FALSE(stalled.client.end.has_value());
    stalled.socket.close_peer(); // what the owner's cancel or shutdown would do: the poll ends
    b.run_until([&] { return stalled.client.end.has_value(); });
    CHECK(*stalled.client.end == transfer_end::abandoned);
    CHECK(stalled.owner.zero());
    CHECK(b.broker->in_use() == 0);
}

TEST_CASE("a cancelled poll (-ECANCELED) ends an abandoned transfer as abandoned") {
    single x(4096);
    x.t.start(*x.broker, x.socket.server(), 0, 0, file_size); // nobody reads
    x.run_until([&] { return x.ring->in_flight(uring::op_kind::poll) == 1; });

    x.t.abandon();
    struct cancel_op final : uring::operation {
        cancel_op() : operation(uring::op_kind::cancel) {}
        void complete(int r, std::uint32_t) noexcept override { res = r; }
        int res = 1;
    } cancel;
    io_uring_prep_cancel_fd(&cancel.sqe(), x.socket.server(), IORING_ASYNC_CANCEL_ALL);
    x.ring->push(cancel);
    x.run_until([&] { return x.client.end.has_value() && !cancel.in_flight(); });
    CHECK(cancel.res == 1); // one operation (the poll) was cancelled
    CHECK(*x.client.end == transfer_end::abandoned);
    CHECK(x.owner.zero());
}

TEST_CASE("a peer that goes away ends the transfer as client_gone and the buffer returns") {
    single x;
    x.t.start(*x.broker, x.socket.server(), 0, 0, file_size);
    std::string got;
    x.run_until([&] { return got.size() > 0; }, &x.socket, &got);
    x.socket.close_peer();
    x.run_until([&] { return x.client.end.has_value(); });
    CHECK(*x.client.end == transfer_end::client_gone);
    CHECK(got == x.data.substr(0, got.size())); // what arrived is an exact prefix
    CHECK(x.owner.zero());
    CHECK(x.broker->in_use() == 0);
}

TEST_CASE("a file that shrinks mid-transfer ends as file_shrank after an exact prefix") {
    single x;
    REQUIRE(ftruncate(x.file_fd, 100'000) == 0); // after the response promised 1 MiB
    x.t.start(*x.broker, x.socket.server(), 0, 0, file_size);
    CHECK(x.run_to_end() == x.data.substr(0, 100'000)); // never padded, never past the end
    CHECK(*x.client.end == transfer_end::file_shrank);
    CHECK(x.owner.zero());
    CHECK(x.broker->in_use() == 0);
}

TEST_CASE("a head goes out in front of the body in the same buffer (the small tier)") {
    single x;
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n";
    x.t.start(*x.broker, x.socket.server(), 0, 10, 3000, head);
    CHECK(x.run_to_end() == head + x.data.substr(10, 3000));
    CHECK(*x.client.end == transfer_end::complete);
    CHECK(x.client.head == head.size());
    CHECK(x.client.body == 3000);
    CHECK(x.owner.zero());
}
