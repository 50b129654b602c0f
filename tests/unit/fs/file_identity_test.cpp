#include "spliced/fs/file_identity.hpp"
#include "spliced/http/date.hpp"

#include <doctest/doctest.h>
#include <linux/stat.h>

using namespace spliced;

TEST_CASE("format_http_date is IMF-fixdate") {
    struct row {
        std::int64_t t;
        std::string_view text;
    };
    const row rows[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {4102444799, "Thu, 31 Dec 2099 23:59:59 GMT"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.t);
        auto d = http::format_http_date(r.t);
        CHECK(http::view(d) == r.text);
    }
}

TEST_CASE("make_etag is quoted size-mtime_ns in hex and changes with either") {
    fs::file_identity id{255, 1, 2, 7};
    CHECK(fs::make_etag(id).view() == "\"ff-3b9aca02\"");
    auto other_size = id;
    other_size.size = 256;
    auto other_ns = id;
    other_ns.mtime_nsec = 3;
    CHECK(fs::make_etag(other_size).view() != fs::make_etag(id).view());
    CHECK(fs::make_etag(other_ns).view() != fs::make_etag(id).view());
    // The separator keeps (size 0x1, mtime 0x23) apart from (size 0x12, mtime 0x3).
    CHECK(fs::make_etag({1, 0, 0x23, 0}).view() != fs::make_etag({0x12, 0, 0x3, 0}).view());
}

TEST_CASE("identity_of reads size, mtime and inode from statx") {
    struct statx st {};
    st.stx_size = 5'000'000'000ull;
    st.stx_mtime.tv_sec = 1700000000;
    st.stx_mtime.tv_nsec = 123;
    st.stx_ino = 42;
    auto id = fs::identity_of(st);
    CHECK(id.size == 5'000'000'000ull);
    CHECK(id.mtime_sec == 1700000000);
    CHECK(id.mtime_nsec == 123);
    CHECK(id.inode == 42);
    CHECK(http::view(fs::last_modified(id)) == "Tue, 14 Nov 2023 22:13:20 GMT");
}

TEST_CASE("an encoded representation's ETag names its coding inside the quotes") {
    CHECK(spliced::fs::etag_for_coding("\"10-5f\"", "br") == "\"10-5f-br\"");
    CHECK(spliced::fs::etag_for_coding("\"10-5f\"", "gzip") == "\"10-5f-gzip\"");
}
