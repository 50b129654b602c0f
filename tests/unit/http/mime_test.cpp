#include "spliced/http/mime.hpp"

#include <doctest/doctest.h>

using spliced::http::mime_type_for;

TEST_CASE("mime_type_for: common types, case-insensitive, octet-stream otherwise") {
    struct row {
        std::string_view path;
        std::string_view type;
    };
    const row rows[] = {
        {"index.html", "text/html; charset=utf-8"},
        {"a/b/VIDEO.MP4", "video/mp4"},
        {"movie.mkv", "video/x-matroska"},
        {"song.mp3", "audio/mpeg"},
        {"song.flac", "audio/flac"},
        {"backup.tar", "application/x-tar"},
        {"backup.tar.gz", "application/gzip"},
        {"x.zst", "application/zstd"},
        {"x.7z", "application/x-7z-compressed"},
        {"x.iso", "application/x-iso9660-image"},
        {"seg.m4s", "video/iso.segment"},
        {"list.m3u8", "application/vnd.apple.mpegurl"},
        {"app.wasm", "application/wasm"},
        {"img.webp", "image/webp"},
        {"noext", "application/octet-stream"},
        {"dir.d/noext", "application/octet-stream"},
        {"trailing.", "application/octet-stream"},
        {".bashrc", "application/octet-stream"},
        {"x.unknownextension", "application/octet-stream"},
        {"x.averyveryverylongextension", "application/octet-stream"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.path);
        CHECK(mime_type_for(r.path) == r.type);
    }
}

TEST_CASE("the MIME table knows at least 100 extensions") {
    CHECK(spliced::http::mime_table_size() >= 100);
}
