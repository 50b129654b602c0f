// `spliced sign PATH [--expires DURATION | --expires-at UNIX] --secret FILE [--base URL]`:
// prints the signed link for PATH (as the server decodes and normalizes it) that spliced accepts
// under --secure-link-prefix until the expiry (http/secure_link.hpp).

#include "flags.hpp"
#include "spliced/core/duration.hpp"
#include "spliced/http/path.hpp"
#include "spliced/http/secure_link.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>

namespace spliced::cli {

namespace {

constexpr const char* usage =
    "usage: spliced sign PATH [--expires DURATION | --expires-at UNIX_SECONDS] --secret FILE "
    "[--base URL]\n"
    "  PATH        the file's path as served, e.g. /dl/release.iso (unencoded)\n"
    "  --expires   how long the link works (default 1h; 500ms, 30s, 10m, 2h, 7d...)\n"
    "  --expires-at  the expiry as Unix seconds instead\n"
    "  --secret    the --secure-link-secret file the server reads\n"
    "  --base      printed before the path, e.g. https://dl.example.com\n";

int fail(const std::string& message) {
    std::fprintf(stderr, "spliced sign: %s\n%s", message.c_str(), usage);
    return 2;
}

} // namespace

int sign_command(int argc, char** argv) {
    std::string path, secret_file, base;
    std::chrono::milliseconds lifetime = std::chrono::hours(1);
    std::int64_t expires_at = -1;
    for (int i = 2; i < argc; ++i) {
        std::string_view arg = argv[i];
        auto value = [&]() -> std::string_view {
            if (i + 1 >= argc)
                throw std::invalid_argument(std::string(arg) + " needs a value");
            return argv[++i];
        };
        try {
            if (arg == "--help" || arg == "-h") {
                std::fputs(usage, stdout);
                return 0;
            } else if (arg == "--expires") {
                auto d = parse_duration(value());
                if (!d || d->count() <= 0)
                    return fail("--expires: expected a duration such as 1h");
                lifetime = *d;
            } else if (arg == "--expires-at") {
                auto v = value();
                auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), expires_at);
                if (ec != std::errc() || end != v.data() + v.size() || expires_at < 0)
                    return fail("--expires-at: expected Unix seconds");
            } else if (arg == "--secret") {
                secret_file = value();
            } else if (arg == "--base") {
                base = value();
            } else if (!arg.empty() && arg.front() != '-' && path.empty()) {
                path = arg;
            } else {
                return fail("unexpected argument '" + std::string(arg) + "'");
            }
        } catch (const std::invalid_argument& e) {
            return fail(e.what());
        }
    }
    if (path.empty() || path.front() != '/')
        return fail("PATH must start with '/'");
    if (secret_file.empty())
        return fail("--secret FILE is required");
    std::string secret;
    try {
        secret = read_link_secret(secret_file);
    } catch (const std::runtime_error& e) {
        std::fprintf(stderr, "spliced sign: --secret %s\n", e.what());
        return 1;
    }
    // Signed as the server will see it: encoded for the wire, then decoded and normalized.
    auto normalized = http::normalize_target(http::percent_encode_path(path));
    if (!normalized)
        return fail("PATH climbs above the root or holds a NUL byte");
    if (expires_at < 0) {
        auto now = std::chrono::system_clock::now();
        expires_at =
            std::chrono::duration_cast<std::chrono::seconds>((now + lifetime).time_since_epoch())
                .count();
    }
    const auto sig = http::sign_link(secret, normalized->absolute, expires_at);
    std::printf("%s%s?expires=%lld&sig=%s\n", base.c_str(),
                http::percent_encode_path(normalized->absolute).c_str(),
                static_cast<long long>(expires_at), sig.c_str());
    return 0;
}

} // namespace spliced::cli
