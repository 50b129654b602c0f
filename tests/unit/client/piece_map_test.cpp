#include "spliced/client/piece_map.hpp"

#include <doctest/doctest.h>
#include <vector>

using spliced::client::piece_map;
using spliced::http::byte_range;
using ranges = std::vector<byte_range>;

TEST_CASE("piece_map: pieces cover the file, the last one shorter") {
    piece_map map(250, 100, 10);
    std::vector<byte_range> got;
    while (auto a = map.assign())
        got.push_back(a->range);
    // After the three pieces, the free connection splits the largest remaining one.
    REQUIRE(got.size() >= 3);
    CHECK(got[0] == byte_range{0, 99});
    CHECK(got[1] == byte_range{100, 199});
    CHECK(got[2] == byte_range{200, 249});
}

TEST_CASE("piece_map: an empty file is complete at once and has nothing to fetch") {
    piece_map map(0, 100, 10);
    CHECK(map.complete());
    CHECK_FALSE(map.assign());
    CHECK(map.present().empty());
}

TEST_CASE("piece_map: receiving, completion and the present ranges") {
    piece_map map(300, 100, 10);
    auto a = *map.assign(), b = *map.assign(), c = *map.assign();
    CHECK(map.received(a.owner, 100) == 100);
    CHECK(map.received(c.owner, 30) == 30);
    CHECK(map.present() == ranges{{0, 99}, {200, 229}});
    CHECK(map.received(b.owner, 100) == 100);
    CHECK(map.present() == ranges{{0, 229}}); // adjacent ranges merge
    CHECK(map.received(c.owner, 200) == 70);  // no more than the piece
    CHECK(map.complete());
    CHECK(map.present() == ranges{{0, 299}});
}

TEST_CASE("piece_map: the largest remainder is split, and its owner stops at the cut") {
    piece_map map(1000, 1000, 100);
    auto slow = *map.assign();
    CHECK(slow.range == byte_range{0, 999});
    CHECK(map.received(slow.owner, 200) == 200);
    auto helper = map.assign();
    REQUIRE(helper);
    CHECK(helper->range == byte_range{600, 999}); // half of the 800 still to come
    CHECK(map.limit(slow.owner) == 599u);
    CHECK(map.received(slow.owner, 500) == 400); // its request still runs to 999: drop the rest
    CHECK(map.received(helper->owner, 400) == 400);
    CHECK(map.complete());
}

TEST_CASE("piece_map: a remainder under twice min_split is not split") {
    piece_map map(1000, 1000, 300);
    auto only = *map.assign();
    map.received(only.owner, 500);
    CHECK_FALSE(map.assign()); // 500 left < 600
    CHECK(map.owned() == 1);
}

TEST_CASE("piece_map: a released piece keeps what arrived and offers the rest again") {
    piece_map map(100, 100, 1000);
    auto first = *map.assign();
    map.received(first.owner, 40);
    map.release(first.owner);
    CHECK_FALSE(map.limit(first.owner));
    CHECK(map.received(first.owner, 10) == 0); // a released owner's late bytes are not counted
    auto again = map.assign();
    REQUIRE(again);
    CHECK(again->range == byte_range{40, 99});
    CHECK(again->owner != first.owner);
    CHECK(map.present() == ranges{{0, 39}});
    CHECK(map.present_bytes() == 40);
}

TEST_CASE("piece_map: resuming from a state file's ranges fetches only what is missing") {
    // Ranges that start inside pieces, end inside them and span boundaries.
    auto map = piece_map::with_done(1000, 250, 1000, ranges{{0, 99}, {200, 599}, {990, 999}});
    CHECK(map.present_bytes() == 510);
    CHECK(map.present() == ranges{{0, 99}, {200, 599}, {990, 999}});
    std::vector<byte_range> fetch;
    while (auto a = map.assign())
        fetch.push_back(a->range);
    CHECK(fetch == ranges{{100, 199}, {600, 749}, {750, 989}});
    auto full = piece_map::with_done(1000, 250, 10, ranges{{0, 999}});
    CHECK(full.complete());
    CHECK_FALSE(full.assign());
}

TEST_CASE("piece_map::add_range merges what it overlaps or touches") {
    ranges r{{10, 19}, {40, 49}};
    piece_map::add_range(r, {0, 0});
    CHECK(r == ranges{{0, 0}, {10, 19}, {40, 49}});
    piece_map::add_range(r, {20, 39});
    CHECK(r == ranges{{0, 0}, {10, 49}});
    piece_map::add_range(r, {1, 9});
    CHECK(r == ranges{{0, 49}});
}

TEST_CASE("piece_map::auto_piece_size: 1-64 MiB, 64 KiB-aligned") {
    CHECK(piece_map::auto_piece_size(1000, 4) == 1 << 20);
    CHECK(piece_map::auto_piece_size(1ull << 40, 4) == 64 << 20);
    CHECK(piece_map::auto_piece_size(1ull << 30, 4) == 32 << 20);
    CHECK(piece_map::auto_piece_size(3'000'000'000ull, 7) % 65536 == 0);
}
