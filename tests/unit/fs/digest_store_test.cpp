#include "spliced/core/sha256.hpp"
#include "spliced/fs/digest_store.hpp"
#include "spliced/http/repr_digest.hpp"

#include <chrono>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <thread>
#include <unistd.h>

using namespace spliced;
namespace stdfs = std::filesystem;

namespace {

struct root_dir {
    stdfs::path path;
    int fd = -1;
    root_dir() {
        char name[] = "/tmp/spliced-digest-test-XXXXXX";
        path = ::mkdtemp(name);
        fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    ~root_dir() {
        ::close(fd);
        stdfs::remove_all(path);
    }
    void write(const std::string& name, const std::string& bytes) const {
        std::ofstream(path / name, std::ios::binary) << bytes;
    }
};

struct version {
    fs::file_identity id;
    std::uint64_t dev = 0;
};

version version_of(const stdfs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return {{std::uint64_t(st.st_size), st.st_mtim.tv_sec, std::uint32_t(st.st_mtim.tv_nsec),
             std::uint64_t(st.st_ino)},
            std::uint64_t(st.st_dev)};
}

std::string expected_field(const std::string& bytes) {
    sha256 h;
    h.update(std::as_bytes(std::span(bytes.data(), bytes.size())));
    return "Repr-Digest: " + http::format_repr_digest(h.finish()) + "\r\n";
}

// Waits (bounded) for `done`; the hashing thread runs on its own.
template <class F>
bool eventually(F done) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done()) {
        if (std::chrono::steady_clock::now() > until)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

bool has_user_xattrs(const stdfs::path& p) {
    return ::setxattr(p.c_str(), "user.spliced.probe", "1", 1, 0) == 0;
}

} // namespace

TEST_CASE("digest_store: the digest of exactly the version asked for, stamped and shared") {
    root_dir root;
    std::string bytes(3 << 20, 'x');
    bytes[12345] = 'y';
    root.write("f.bin", bytes);
    auto v = version_of(root.path / "f.bin");
    fs::digest_store store(root.fd, 16);
    auto ticket = store.request("f.bin", v.id, v.dev);
    REQUIRE(ticket);
    CHECK(store.request("f.bin", v.id, v.dev) == ticket); // one hash however many ask
    REQUIRE(eventually([&] { return !ticket->field().empty(); }));
    CHECK(ticket->field() == expected_field(bytes));
    CHECK(store.totals().hashed == 1);
    CHECK(store.totals().hashed_bytes == bytes.size());
    if (has_user_xattrs(root.path / "f.bin")) {
        char stamp[128];
        auto n =
            ::getxattr((root.path / "f.bin").c_str(), "user.spliced.sha256", stamp, sizeof stamp);
        REQUIRE(n > 0);
        CHECK(std::string_view(stamp, std::size_t(n)).starts_with("sha-256 3145728 "));
        CHECK(version_of(root.path / "f.bin").id.mtime_nsec == v.id.mtime_nsec); // not touched
    }

    // Asked for a version that is not the one on disk (the file moved on): never a digest.
    auto stale = v.id;
    stale.mtime_nsec ^= 1;
    auto wrong = store.request("f.bin", stale, v.dev);
    REQUIRE(wrong);
    REQUIRE(eventually([&] { return store.totals().failed == 1; }));
    CHECK(wrong->field().empty());
    CHECK(store.request("missing", v.id, v.dev + 1) != nullptr);
    REQUIRE(eventually([&] { return store.totals().failed == 2; }));
}

TEST_CASE("digest_store: a stamp is believed only for the size and mtime it names") {
    root_dir root;
    if (root.write("probe", "p"), !has_user_xattrs(root.path / "probe"))
        return; // a file system without user xattrs: nothing to read back
    root.write("f", std::string(100000, 'a'));
    auto v = version_of(root.path / "f");
    {
        fs::digest_store first(root.fd, 16);
        auto t = first.request("f", v.id, v.dev);
        REQUIRE(eventually([&] { return !t->field().empty(); }));
    }
    // A restart, with hashing held: the stamp alone gives the digest.
    auto gate = (root.path / "gate").string();
    {
        fs::digest_store second(root.fd, 16, gate);
        auto t = second.request("f", v.id, v.dev);
        REQUIRE(eventually([&] { return !t->field().empty(); }));
        CHECK(t->field() == expected_field(std::string(100000, 'a')));
        CHECK(second.totals().stamped == 1);
        CHECK(second.totals().hashed == 0);
    }
    // Rewritten in place with the same size: the old stamp names another mtime and is ignored.
    std::string rewritten(100000, 'b');
    root.write("f", rewritten);
    timespec later[2] = {{0, UTIME_OMIT}, {v.id.mtime_sec + 5, 0}};
    REQUIRE(::utimensat(AT_FDCWD, (root.path / "f").c_str(), later, 0) == 0);
    auto w = version_of(root.path / "f");
    fs::digest_store third(root.fd, 16, gate);
    auto t = third.request("f", w.id, w.dev);
    REQUIRE(t);
    // The gate is closed: nothing may be hashed, so the field stays empty however long we look.
    for (int i = 0; i < 20; ++i) {
        CHECK(t->field().empty());
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    root.write("gate", "");
    REQUIRE(eventually([&] { return !t->field().empty(); }));
    CHECK(t->field() == expected_field(rewritten));
    CHECK(third.totals().hashed == 1);
}

TEST_CASE("digest_store: a full queue refuses instead of growing") {
    root_dir root;
    auto gate = (root.path / "gate").string();
    fs::digest_store store(root.fd, 2, gate);
    root.write("a", "a");
    root.write("b", "b");
    root.write("c", "c");
    root.write("d", "d");
    auto a = version_of(root.path / "a"), b = version_of(root.path / "b"),
         c = version_of(root.path / "c"), d = version_of(root.path / "d");
    auto ta = store.request("a", a.id, a.dev); // taken by the thread (then held at the gate)
    REQUIRE(eventually([&] {
        // Once the thread has taken `a`, two more fit in the queue and the next is refused.
        auto tb = store.request("b", b.id, b.dev);
        auto tc = store.request("c", c.id, c.dev);
        bool refused = store.request("d", d.id, d.dev) == nullptr;
        return refused && tb && tc;
    }));
    CHECK(store.totals().refused >= 1);
}
