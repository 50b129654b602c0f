#include "spliced/http/mime.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace spliced::http {

namespace {

struct mime_entry {
    std::string_view extension; // lower case, without the dot
    std::string_view type;
};

// Sorted by extension for binary search; checked by the unit test.
constexpr mime_entry mime_table[] = {
    {"3g2", "video/3gpp2"},
    {"3gp", "video/3gpp"},
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"aiff", "audio/aiff"},
    {"amr", "audio/amr"},
    {"apk", "application/vnd.android.package-archive"},
    {"apng", "image/apng"},
    {"appimage", "application/vnd.appimage"},
    {"arj", "application/x-arj"},
    {"asc", "application/pgp-signature"},
    {"asf", "video/x-ms-asf"},
    {"ass", "text/x-ssa; charset=utf-8"},
    {"atom", "application/atom+xml"},
    {"avi", "video/x-msvideo"},
    {"avif", "image/avif"},
    {"bin", "application/octet-stream"},
    {"bmp", "image/bmp"},
    {"bz", "application/x-bzip"},
    {"bz2", "application/x-bzip2"},
    {"c", "text/x-c; charset=utf-8"},
    {"cab", "application/vnd.ms-cab-compressed"},
    {"conf", "text/plain; charset=utf-8"},
    {"cpio", "application/x-cpio"},
    {"cpp", "text/x-c++; charset=utf-8"},
    {"crt", "application/x-x509-ca-cert"},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"deb", "application/vnd.debian.binary-package"},
    {"dmg", "application/x-apple-diskimage"},
    {"doc", "application/msword"},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"eot", "application/vnd.ms-fontobject"},
    {"epub", "application/epub+zip"},
    {"exe", "application/vnd.microsoft.portable-executable"},
    {"flac", "audio/flac"},
    {"flv", "video/x-flv"},
    {"gem", "application/x-tar"},
    {"gif", "image/gif"},
    {"gpg", "application/pgp-encrypted"},
    {"gz", "application/gzip"},
    {"h", "text/x-c; charset=utf-8"},
    {"heic", "image/heic"},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/vnd.microsoft.icon"},
    {"ics", "text/calendar; charset=utf-8"},
    {"img", "application/octet-stream"},
    {"ini", "text/plain; charset=utf-8"},
    {"iso", "application/x-iso9660-image"},
    {"jar", "application/java-archive"},
    {"jfif", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"jsonld", "application/ld+json"},
    {"jxl", "image/jxl"},
    {"key", "application/pgp-keys"},
    {"log", "text/plain; charset=utf-8"},
    {"lz", "application/x-lzip"},
    {"lz4", "application/x-lz4"},
    {"lzma", "application/x-lzma"},
    {"m3u8", "application/vnd.apple.mpegurl"},
    {"m4a", "audio/mp4"},
    {"m4s", "video/iso.segment"},
    {"m4v", "video/x-m4v"},
    {"map", "application/json"},
    {"md", "text/markdown; charset=utf-8"},
    {"mid", "audio/midi"},
    {"midi", "audio/midi"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"mka", "audio/x-matroska"},
    {"mkv", "video/x-matroska"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpd", "application/dash+xml"},
    {"mpeg", "video/mpeg"},
    {"mpg", "video/mpeg"},
    {"msi", "application/x-msi"},
    {"mts", "video/mp2t"},
    {"nupkg", "application/zip"},
    {"odp", "application/vnd.oasis.opendocument.presentation"},
    {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {"odt", "application/vnd.oasis.opendocument.text"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"opus", "audio/opus"},
    {"otf", "font/otf"},
    {"ova", "application/x-virtualbox-ova"},
    {"pdf", "application/pdf"},
    {"pem", "application/x-pem-file"},
    {"pgp", "application/pgp-encrypted"},
    {"pkg", "application/octet-stream"},
    {"png", "image/png"},
    {"ppt", "application/vnd.ms-powerpoint"},
    {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"ps", "application/postscript"},
    {"py", "text/x-python; charset=utf-8"},
    {"qcow2", "application/octet-stream"},
    {"rar", "application/vnd.rar"},
    {"rpm", "application/x-rpm"},
    {"rss", "application/rss+xml"},
    {"rtf", "application/rtf"},
    {"sh", "text/x-shellscript; charset=utf-8"},
    {"sha256", "text/plain; charset=utf-8"},
    {"sig", "application/pgp-signature"},
    {"srt", "application/x-subrip"},
    {"svg", "image/svg+xml"},
    {"swf", "application/x-shockwave-flash"},
    {"tar", "application/x-tar"},
    {"tbz2", "application/x-bzip2"},
    {"tgz", "application/gzip"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"toml", "application/toml"},
    {"torrent", "application/x-bittorrent"},
    {"ts", "video/mp2t"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"txz", "application/x-xz"},
    {"vhd", "application/x-vhd"},
    {"vmdk", "application/x-vmdk"},
    {"vob", "video/dvd"},
    {"vtt", "text/vtt; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"weba", "audio/webm"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"whl", "application/zip"},
    {"wma", "audio/x-ms-wma"},
    {"wmv", "video/x-ms-wmv"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml"},
    {"xls", "application/vnd.ms-excel"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"xml", "application/xml"},
    {"xz", "application/x-xz"},
    {"yaml", "application/yaml"},
    {"yml", "application/yaml"},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
};

constexpr std::size_t max_extension_length = 16;

} // namespace

std::string_view mime_type_for(std::string_view path) noexcept {
    constexpr std::string_view fallback = "application/octet-stream";
    auto dot = path.rfind('.');
    auto slash = path.rfind('/');
    if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
        return fallback;
    auto extension = path.substr(dot + 1);
    if (extension.empty() || extension.size() > max_extension_length)
        return fallback;
    std::array<char, max_extension_length> lower{};
    std::transform(extension.begin(), extension.end(), lower.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; });
    std::string_view key(lower.data(), extension.size());
    auto it =
        std::lower_bound(std::begin(mime_table), std::end(mime_table), key,
                         [](const mime_entry& e, std::string_view k) { return e.extension < k; });
    if (it == std::end(mime_table) || it->extension != key)
        return fallback;
    return it->type;
}

std::size_t mime_table_size() noexcept {
    return std::size(mime_table);
}

} // namespace spliced::http
