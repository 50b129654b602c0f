#include "spliced/fs/open_file_cache.hpp"

#include <algorithm>
#include <doctest/doctest.h>
#include <linux/stat.h>
#include <string>
#include <vector>

using namespace spliced;

namespace {

struct closed_slots {
    std::vector<unsigned> slots;
    static void record(void* self, unsigned slot) noexcept {
        static_cast<closed_slots*>(self)->slots.push_back(slot);
    }
    bool has(unsigned slot) const { return std::count(slots.begin(), slots.end(), slot) == 1; }
};

struct statx stat_of(std::uint64_t ino, std::uint64_t size, std::int64_t mtime) {
    struct statx st {};
    st.stx_ino = ino;
    st.stx_size = size;
    st.stx_mtime.tv_sec = mtime;
    st.stx_dev_major = 8;
    st.stx_dev_minor = 1;
    return st;
}

constexpr std::uint64_t second = 1'000'000'000;

} // namespace

TEST_CASE("a cached file is found by path, referenced, and fresh only within the window") {
    closed_slots closed;
    fs::open_file_cache cache(4, second, closed_slots::record, &closed);
    CHECK(cache.find("a.txt", 0).file == nullptr);

    auto& e = cache.insert("a.txt", 7, stat_of(1, 10, 100), 5 * second);
    CHECK(e.refs == 1);
    CHECK(e.headers.tag.view() == fs::make_etag(fs::identity_of(stat_of(1, 10, 100))).view());
    CHECK(e.headers.mime == "text/plain; charset=utf-8");
    cache.release(e);
    CHECK(closed.slots.empty());

    auto hit = cache.find("a.txt", 5 * second + second / 2);
    REQUIRE(hit.file == &e);
    CHECK(hit.fresh);
    CHECK(e.refs == 1);
    cache.release(e);

    auto stale = cache.find("a.txt", 6 * second);
    CHECK(stale.file == &e);
    CHECK_FALSE(stale.fresh);
    cache.confirm(e, 6 * second);
    cache.release(e);
    CHECK(cache.find("a.txt", 6 * second + 1).fresh);
    cache.release(e);
    CHECK(closed.slots.empty());
}

TEST_CASE("a validity of zero revalidates every lookup") {
    closed_slots closed;
    fs::open_file_cache cache(4, 0, closed_slots::record, &closed);
    cache.release(cache.insert("a", 1, stat_of(1, 1, 1), 0));
    auto hit = cache.find("a", 0);
    REQUIRE(hit.file);
    CHECK_FALSE(hit.fresh);
    cache.release(*hit.file);
}

TEST_CASE("same_version notices rename, rewrite and a different device") {
    const auto st = stat_of(42, 1000, 77);
    const auto id = fs::identity_of(st);
    const auto dev = fs::device_of(st);
    CHECK(fs::same_version(id, dev, st));
    CHECK_FALSE(fs::same_version(id, dev, stat_of(43, 1000, 77))); // replaced by rename
    CHECK_FALSE(fs::same_version(id, dev, stat_of(42, 999, 77)));  // truncated
    CHECK_FALSE(fs::same_version(id, dev, stat_of(42, 1000, 78))); // rewritten, same length
    auto ns = st;
    ns.stx_mtime.tv_nsec = 1;
    CHECK_FALSE(fs::same_version(id, dev, ns));
    auto other_dev = st;
    other_dev.stx_dev_minor = 2;
    CHECK_FALSE(fs::same_version(id, dev, other_dev));
}

TEST_CASE("eviction is least recently used first and closes only unreferenced slots") {
    closed_slots closed;
    fs::open_file_cache cache(2, second, closed_slots::record, &closed);
    cache.release(cache.insert("a", 1, stat_of(1, 1, 1), 0));
    auto& b = cache.insert("b", 2, stat_of(2, 1, 1), 0); // still referenced
    cache.release(*cache.find("a", 0).file);             // a is now the most recent
    cache.release(cache.insert("c", 3, stat_of(3, 1, 1), 0));

    // b was least recently used: evicted, but its reference keeps the slot open.
    CHECK(cache.size() == 2);
    CHECK(cache.find("b", 0).file == nullptr);
    CHECK(closed.slots.empty());
    CHECK_FALSE(b.cached);
    cache.release(b);
    CHECK(closed.has(2));

    cache.release(cache.insert("d", 4, stat_of(4, 1, 1), 0)); // evicts a (c is newer)
    CHECK(closed.has(1));
    CHECK(cache.find("a", 0).file == nullptr);
    auto c = cache.find("c", 0);
    REQUIRE(c.file);
    CHECK(c.file->slot == 3);
    cache.release(*c.file);
}

TEST_CASE("invalidate hides an entry at once and closes it after its last user") {
    closed_slots closed;
    fs::open_file_cache cache(8, second, closed_slots::record, &closed);
    cache.release(cache.insert("f", 1, stat_of(1, 1, 1), 0));
    auto first = cache.find("f", 0).file;
    auto second_user = cache.find("f", 0).file;
    REQUIRE(first == second_user);
    cache.invalidate(*first);
    CHECK(cache.find("f", 0).file == nullptr);
    cache.release(*first);
    CHECK(closed.slots.empty());
    cache.release(*second_user);
    CHECK(closed.has(1));
    CHECK(cache.size() == 0);
}

TEST_CASE("inserting a path already cached replaces the older entry") {
    closed_slots closed;
    fs::open_file_cache cache(8, second, closed_slots::record, &closed);
    auto& old_entry = cache.insert("f", 1, stat_of(1, 1, 1), 0);
    cache.release(cache.insert("f", 2, stat_of(2, 1, 1), 0));
    CHECK(cache.size() == 1);
    auto hit = cache.find("f", 0);
    REQUIRE(hit.file);
    CHECK(hit.file->slot == 2);
    cache.release(*hit.file);
    CHECK(closed.slots.empty());
    cache.release(old_entry);
    CHECK(closed.has(1));
}

TEST_CASE("shed evicts idle entries oldest first and skips referenced ones") {
    closed_slots closed;
    fs::open_file_cache cache(8, second, closed_slots::record, &closed);
    auto& busy = cache.insert("busy", 1, stat_of(1, 1, 1), 0); // oldest, referenced
    for (unsigned i = 2; i <= 5; ++i)
        cache.release(
            cache.insert(std::string("f").append(std::to_string(i)), i, stat_of(i, 1, 1), 0));
    CHECK(cache.shed(2) == 2);
    CHECK(closed.slots == std::vector<unsigned>{2, 3});
    CHECK(cache.size() == 3);
    CHECK(cache.shed(10) == 2);
    CHECK(closed.slots == std::vector<unsigned>{2, 3, 4, 5});
    CHECK(cache.size() == 1);
    cache.release(busy);
    CHECK(closed.slots.size() == 4); // still cached: only eviction closes it
}

TEST_CASE("capacity zero keeps nothing: each file closes at its release") {
    closed_slots closed;
    fs::open_file_cache cache(0, second, closed_slots::record, &closed);
    auto& e = cache.insert("f", 9, stat_of(1, 1, 1), 0);
    CHECK(cache.size() == 0);
    CHECK(cache.find("f", 0).file == nullptr);
    cache.release(e);
    CHECK(closed.has(9));
}

TEST_CASE("churn through a small cache never returns another path's file") {
    closed_slots closed;
    fs::open_file_cache cache(16, second, closed_slots::record, &closed);
    for (unsigned round = 0; round < 3; ++round) {
        for (unsigned i = 0; i < 200; ++i) {
            const auto path = std::string("dir/").append(std::to_string(i));
            auto hit = cache.find(path, 0);
            if (hit.file) {
                CHECK(hit.file->path == path);
                CHECK(hit.file->headers.id.inode == i);
                cache.release(*hit.file);
            } else {
                cache.release(cache.insert(path, round * 1000 + i, stat_of(i, 1, 1), 0));
            }
            CHECK(cache.size() <= 16);
        }
    }
    CHECK(closed.slots.size() == 600 - 16);
}
