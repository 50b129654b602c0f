#include "flags.hpp"

#include "spliced/core/duration.hpp"
#include "spliced/core/size.hpp"
#include "spliced/core/unique_fd.hpp"
#include "spliced/server/server.hpp"

#include <algorithm>
#include <boost/program_options.hpp>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace spliced::cli {

namespace po = boost::program_options;

namespace {

// A refused value: the message names the flag and what it accepts.
struct flag_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] void refuse(const std::string& flag, const std::string& accepted,
                         const std::string& got) {
    throw flag_error("--" + flag + ": expected " + accepted + ", got '" + got + "'");
}

std::uint64_t integer_in(const std::string& flag, const std::string& text, std::uint64_t lo,
                         std::uint64_t hi) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || v < lo || v > hi)
        refuse(flag, "an integer from " + std::to_string(lo) + " to " + std::to_string(hi), text);
    return v;
}

std::uint64_t size_in(const std::string& flag, const std::string& text, std::uint64_t lo,
                      std::uint64_t hi) {
    auto v = parse_size(text);
    if (!v || *v < lo || *v > hi)
        refuse(flag,
               "a size from " + std::to_string(lo) + " to " + std::to_string(hi) +
                   " bytes (suffixes k, M, G)",
               text);
    return *v;
}

std::chrono::milliseconds duration_in(const std::string& flag, const std::string& text,
                                      std::chrono::milliseconds lo, std::chrono::milliseconds hi) {
    auto v = parse_duration(text);
    if (!v || *v < lo || *v > hi)
        refuse(flag,
               "a duration from " + std::to_string(lo.count()) + "ms to " +
                   std::to_string(hi.count() / 1000) + "s (e.g. 500ms, 5s, 2m)",
               text);
    return *v;
}

server::endpoint endpoint_of(const std::string& flag, const std::string& text) {
    const std::string accepted = "HOST:PORT (e.g. 0.0.0.0:8080, 127.0.0.1:0, [::]:8080)";
    auto colon = text.rfind(':');
    if (colon == std::string::npos)
        refuse(flag, accepted, text);
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host.empty())
        host = "0.0.0.0";
    auto port_text = text.substr(colon + 1);
    std::uint64_t port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
        port > 65535)
        refuse(flag, accepted, text);
    return {host, static_cast<std::uint16_t>(port)};
}

constexpr const char* usage_head = R"(spliced — an io_uring HTTP/1.1 file server (download origin)

Usage: spliced [--root] DIR [options]

Serves the regular files under DIR over HTTP/1.1 (GET, HEAD). Bodies move file → pipe → socket
with io_uring splices; nothing is copied through user space. Durations accept 500ms, 5s, 2m, 1h;
sizes accept k, M, G suffixes.

Options)";

po::options_description describe_options(std::uint64_t fd_limit) {
    const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
    const std::uint64_t default_files = std::min<std::uint64_t>(16384, fd_limit);
    po::options_description opts(usage_head);
    // clang-format off
    opts.add_options()
        ("help,h", "show this help and exit")
        ("version", "print the version and exit")
        ("root", po::value<std::string>()->value_name("DIR"),
            "directory to serve (default: the current directory)")
        ("listen", po::value<std::vector<std::string>>()->value_name("HOST:PORT"),
            "address to serve HTTP on; repeatable; port 0 picks a free port (default 0.0.0.0:8080)")
        ("metrics-listen", po::value<std::string>()->value_name("HOST:PORT|off")->default_value("127.0.0.1:9100"),
            "control plane: GET /metrics, /healthz, /readyz; 'off' disables it")
        ("metrics-per-worker", "label every worker's series with worker=\"N\" instead of summing them")
        ("threads", po::value<std::string>()->value_name("N")->default_value(std::to_string(cpus)),
            "worker threads, each with its own ring and listener (1-1024; default: online CPUs)")
        ("queue-depth", po::value<std::string>()->value_name("N")->default_value("4096"),
            "submission queue entries per ring (8-32768)")
        ("cq-depth", po::value<std::string>()->value_name("N"),
            "completion queue entries per ring (queue-depth to 65536; default 4 x queue-depth)")
        ("sqpoll", po::value<std::string>()->value_name("IDLE_MS")->implicit_value("1000"),
            "use a kernel submission-polling thread that sleeps after IDLE_MS idle (1-60000, default 1000 "
            "when given without a value); falls back with a warning where not permitted")
        ("registered-files", po::value<std::string>()->value_name("N")->default_value(std::to_string(default_files)),
            "fixed-file table slots per ring, for open files and pipes (64 to RLIMIT_NOFILE; default 16384 or RLIMIT_NOFILE if lower)")
        ("pipe-size", po::value<std::string>()->value_name("BYTES")->default_value("1M"),
            "capacity of each splice pipe, clamped to /proc/sys/fs/pipe-max-size (4k-1G)")
        ("iowq-workers", po::value<std::string>()->value_name("N")->default_value("2"),
            "io-wq kernel threads per ring, each of the bounded and unbounded kinds (1-256)")
        ("transfer", po::value<std::string>()->value_name("auto|splice|copy")->default_value("auto"),
            "how bodies move: splice (file -> pipe -> socket), copy (registered buffers: READ_FIXED + SEND), or auto (bodies up to 8 KiB in one SEND with the head, splice above, copy where splice is refused)")
        ("buffers", po::value<std::string>()->value_name("N")->default_value("256"),
            "registered buffers per worker for the copy tier, and as many 16 KiB ones for the small tier (1-8192: a ring registers at most 16,384 buffers); pinned as demand grows unless --buffers/--buffer-size is given")
        ("buffer-size", po::value<std::string>()->value_name("BYTES")->default_value("256k"),
            "size of each registered buffer (4k-16M); buffers x size x threads is pinned memory (LimitMEMLOCK)")
        ("batch-wait-us", po::value<std::string>()->value_name("N")->default_value("0"),
            "while transfers are splicing or waiting for their sockets, wake once half of those operations have completed or after N microseconds instead of once per completion: less CPU per GiB, up to N us more latency for other requests (0-10000; 0: off)")
        ("recv-buffers", po::value<std::string>()->value_name("N")->default_value("1024"),
            "receive buffers of 2 KiB per worker, shared by every connection waiting for a request (a power of two up to 32768); idle keep-alive connections hold no buffer of their own. 0: each connection keeps its own")
        ("open-file-cache", po::value<std::string>()->value_name("N")->default_value("10000"),
            "open files kept per worker with their ready-made headers (0-1000000; 0 disables; at most 3/4 of the fixed slots left for files)")
        ("open-file-cache-valid", po::value<std::string>()->value_name("DURATION")->default_value("1s"),
            "how long a cached file is served without checking its path; then one STATX, and a reopen if it was replaced or changed (0ms-1h)")
        ("max-connections", po::value<std::string>()->value_name("N")->default_value("100000"),
            "open connections per process; beyond it new ones wait in the listen backlog (1-10000000)")
        ("header-timeout", po::value<std::string>()->value_name("DURATION")->default_value("10s"),
            "time allowed to receive a whole request head (1ms-1h)")
        ("idle-timeout", po::value<std::string>()->value_name("DURATION")->default_value("60s"),
            "keep-alive time between requests (1ms-1h)")
        ("send-timeout", po::value<std::string>()->value_name("DURATION")->default_value("60s"),
            "time a response may make no progress before the connection is closed (1ms-1h)")
        ("drain-delay", po::value<std::string>()->value_name("DURATION")->default_value("5s"),
            "on SIGTERM, time /readyz answers 503 while listeners keep accepting, so a load balancer takes the instance out before they close; SIGINT skips it (0ms-1h)")
        ("drain-timeout", po::value<std::string>()->value_name("DURATION")->default_value("30s"),
            "on SIGTERM/SIGINT, after the delay, time transfers in flight get to finish (0ms-1h)")
        ("max-header-bytes", po::value<std::string>()->value_name("BYTES")->default_value("8k"),
            "largest request head; a longer request line gets 414, longer fields 431 (1k-1M)")
        ("max-ranges", po::value<std::string>()->value_name("N")->default_value("16"),
            "most ranges one request may ask for; more, or ranges adding up to more than the file, get the whole file (1-1024)")
        ("cache-control", po::value<std::string>()->value_name("VALUE"),
            "Cache-Control value for 200, 206 and 304 file responses (default: none)")
        ("expires", po::value<std::string>()->value_name("DURATION"),
            "alternative to --cache-control: Expires now+DURATION and Cache-Control: max-age (0s-3650d)")
        ("content-disposition", po::value<std::string>()->value_name("off|attachment")->default_value("off"),
            "'attachment' makes browsers save files instead of displaying them")
        ("access-log", po::value<std::string>()->value_name("PATH|-|off")->default_value("off"),
            "one line per request (nginx combined format + time, range, completion); '-' is stdout")
        ("precompressed", po::value<std::string>()->value_name("LIST"),
            "serve FILE.br / FILE.gz / FILE.zst instead of FILE when the client accepts it and the sibling is not older, e.g. br,gzip (default: off)")
        ("precompressed-ranges", po::value<std::string>()->value_name("identity|encoded")->default_value("identity"),
            "what a request with Range gets where a precompressed sibling exists: the file itself (identity; still Vary: Accept-Encoding), or ranges of the encoded bytes (encoded, which downloaders such as wget2 --chunk-size and python requests mishandle)")
        ("digests", po::value<std::string>()->value_name("off|sha-256")->default_value("off"),
            "send Repr-Digest (RFC 9530) with 200, 206 and HEAD once a file's digest is known: hashed by one background thread, never delaying a response, kept across restarts in the xattr user.spliced.sha256")
        ("index", po::value<std::string>()->value_name("NAME")->default_value("index.html"),
            "file served for a directory path ending in '/'")
        ("secure-link-secret", po::value<std::string>()->value_name("FILE"),
            "key for signed links: requests under --secure-link-prefix need ?expires=UNIX&sig=HMAC (spliced sign PATH prints one); the file must not be readable by others")
        ("secure-link-prefix", po::value<std::string>()->value_name("/PATH/"),
            "the part of the tree served only through signed links: missing or wrong signature 403, expired 410")
        ("serve-hidden", "serve paths with a segment beginning with '.' (/.env, /.git/...), by name or through a symlink; by default they are 404, except /.well-known/");
    // clang-format on
    return opts;
}

// The ring, its pools and the transfer tiers.
void ring_flags(server::config& cfg, const po::variables_map& vm, std::uint64_t fd_limit) {
    auto get = [&](const char* name) { return vm[name].as<std::string>(); };
    cfg.threads = unsigned(integer_in("threads", get("threads"), 1, 1024));
    cfg.queue_depth = unsigned(integer_in("queue-depth", get("queue-depth"), 8, 32768));
    if (vm.count("cq-depth"))
        cfg.cq_depth = unsigned(integer_in("cq-depth", get("cq-depth"), cfg.queue_depth, 65536));
    else
        cfg.cq_depth = std::min(4 * cfg.queue_depth, 65536u);
    if (vm.count("sqpoll"))
        cfg.sqpoll_idle_ms = unsigned(integer_in("sqpoll", get("sqpoll"), 1, 60000));
    cfg.registered_files = unsigned(integer_in("registered-files", get("registered-files"), 64,
                                               std::max<std::uint64_t>(64, fd_limit)));
    cfg.pipe_size = unsigned(size_in("pipe-size", get("pipe-size"), 4096, 1ull << 30));
    cfg.iowq_workers = unsigned(integer_in("iowq-workers", get("iowq-workers"), 1, 256));
    if (get("transfer") == "auto")
        cfg.transfer = server::transfer_mode::automatic;
    else if (get("transfer") == "splice")
        cfg.transfer = server::transfer_mode::splice;
    else if (get("transfer") == "copy")
        cfg.transfer = server::transfer_mode::copy;
    else
        refuse("transfer", "auto, splice or copy", get("transfer"));
    // The kernel's table holds IORING_MAX_REG_BUFFERS (16,384) per ring, and each worker registers
    // two pools of --buffers (copy and small tier).
    cfg.buffers = unsigned(integer_in("buffers", get("buffers"), 1, 8192));
    cfg.buffer_size = size_in("buffer-size", get("buffer-size"), 4096, 16u << 20);
    cfg.buffers_on_demand = vm["buffers"].defaulted() && vm["buffer-size"].defaulted();
    cfg.batch_wait =
        std::chrono::microseconds(integer_in("batch-wait-us", get("batch-wait-us"), 0, 10'000));
    cfg.recv_buffers = unsigned(integer_in("recv-buffers", get("recv-buffers"), 0, 32768));
    if (cfg.recv_buffers & (cfg.recv_buffers - 1))
        throw flag_error("--recv-buffers: expected 0 or a power of two up to 32768, got '" +
                         get("recv-buffers") + "'");
    cfg.test_refuse_splice = vm.count("test-refuse-splice") > 0;
    cfg.test_fail_allocation = vm.count("test-fail-allocation") > 0;
    if (vm.count("auto-small-max"))
        cfg.auto_small_max = size_in("auto-small-max", get("auto-small-max"), 0, 16u << 20);
    if (vm.count("auto-copy-max"))
        cfg.auto_copy_max = size_in("auto-copy-max", get("auto-copy-max"), 0, 1ull << 40);
}

// Caches, limits and timeouts.
void limit_flags(server::config& cfg, const po::variables_map& vm) {
    auto get = [&](const char* name) { return vm[name].as<std::string>(); };
    using std::chrono::milliseconds;
    const milliseconds hour{3'600'000};
    cfg.open_file_cache = integer_in("open-file-cache", get("open-file-cache"), 0, 1'000'000);
    cfg.open_file_cache_valid =
        duration_in("open-file-cache-valid", get("open-file-cache-valid"), milliseconds(0), hour);
    cfg.max_connections = integer_in("max-connections", get("max-connections"), 1, 10'000'000);
    cfg.header_timeout =
        duration_in("header-timeout", get("header-timeout"), milliseconds(1), hour);
    cfg.idle_timeout = duration_in("idle-timeout", get("idle-timeout"), milliseconds(1), hour);
    cfg.send_timeout = duration_in("send-timeout", get("send-timeout"), milliseconds(1), hour);
    cfg.drain_delay = duration_in("drain-delay", get("drain-delay"), milliseconds(0), hour);
    cfg.drain_timeout = duration_in("drain-timeout", get("drain-timeout"), milliseconds(0), hour);
    cfg.max_header_bytes = size_in("max-header-bytes", get("max-header-bytes"), 1024, 1u << 20);
    cfg.max_ranges = unsigned(integer_in("max-ranges", get("max-ranges"), 1, 1024));
}

// What responses carry, and what is logged.
void response_flags(server::config& cfg, const po::variables_map& vm) {
    auto get = [&](const char* name) { return vm[name].as<std::string>(); };
    using std::chrono::milliseconds;
    const milliseconds hour{3'600'000};
    if (vm.count("cache-control")) {
        cfg.cache_control = get("cache-control");
        if (cfg.cache_control.empty() ||
            std::any_of(cfg.cache_control.begin(), cfg.cache_control.end(),
                        [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
            refuse("cache-control", "a header value without control characters", cfg.cache_control);
    }
    if (vm.count("expires")) {
        if (vm.count("cache-control"))
            refuse("expires", "either --expires or --cache-control, not both", get("expires"));
        cfg.expires = std::chrono::duration_cast<std::chrono::seconds>(
            duration_in("expires", get("expires"), milliseconds(0), hour * 24 * 3650));
    }
    if (get("digests") == "sha-256")
        cfg.digests = true;
    else if (get("digests") != "off")
        refuse("digests", "off or sha-256", get("digests"));
    if (vm.count("test-digest-gate"))
        cfg.test_digest_gate = get("test-digest-gate");
    if (get("content-disposition") == "attachment")
        cfg.content_disposition_attachment = true;
    else if (get("content-disposition") != "off")
        refuse("content-disposition", "off or attachment", get("content-disposition"));
    if (vm.count("precompressed")) {
        std::string_view list = vm["precompressed"].as<std::string>();
        while (!list.empty()) {
            auto comma = list.find(',');
            auto name = list.substr(0, comma);
            list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
            if (name == "br")
                cfg.precompressed.emplace_back("br", ".br");
            else if (name == "gzip")
                cfg.precompressed.emplace_back("gzip", ".gz");
            else if (name == "zstd")
                cfg.precompressed.emplace_back("zstd", ".zst");
            else
                refuse("precompressed", "a list of br, gzip, zstd", get("precompressed"));
        }
    }
    cfg.access_log = get("access-log");
    if (cfg.access_log.empty())
        refuse("access-log", "a path, - or off", cfg.access_log);
    cfg.serve_hidden = vm.count("serve-hidden") > 0;
    if (vm.count("secure-link-secret") != vm.count("secure-link-prefix"))
        throw flag_error("--secure-link-secret and --secure-link-prefix go together");
    if (vm.count("secure-link-prefix")) {
        cfg.secure_link_prefix = get("secure-link-prefix");
        if (cfg.secure_link_prefix.size() < 2 || cfg.secure_link_prefix.front() != '/' ||
            cfg.secure_link_prefix.back() != '/')
            refuse("secure-link-prefix", "a path starting and ending with '/'",
                   cfg.secure_link_prefix);
        try {
            cfg.secure_link_secret = read_link_secret(get("secure-link-secret"));
        } catch (const std::runtime_error& e) {
            throw flag_error(std::string("--secure-link-secret ") + e.what());
        }
    }
    if (auto ranges = get("precompressed-ranges"); ranges == "encoded" || ranges == "identity")
        cfg.precompressed_ranges_encoded = ranges == "encoded";
    else
        refuse("precompressed-ranges", "identity or encoded", ranges);
    cfg.index = get("index");
    if (cfg.index.empty() || cfg.index.find('/') != std::string::npos || cfg.index == "." ||
        cfg.index == "..")
        refuse("index", "a file name without '/'", cfg.index);
}

// Every value checked against its range; throws flag_error naming the first one refused.
server::config config_from(const po::variables_map& vm, std::uint64_t fd_limit) {
    server::config cfg;
    auto get = [&](const char* name) { return vm[name].as<std::string>(); };
    cfg.root = vm.count("root") ? get("root") : ".";
    if (vm.count("listen")) {
        cfg.listen.clear();
        for (auto& l : vm["listen"].as<std::vector<std::string>>())
            cfg.listen.push_back(endpoint_of("listen", l));
    }
    cfg.metrics_per_worker = vm.count("metrics-per-worker") > 0;
    if (get("metrics-listen") == "off")
        cfg.metrics_listen.reset();
    else
        cfg.metrics_listen = endpoint_of("metrics-listen", get("metrics-listen"));
    ring_flags(cfg, vm, fd_limit);
    limit_flags(cfg, vm);
    response_flags(cfg, vm);
    return cfg;
}

} // namespace

std::string read_link_secret(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0)
        throw std::runtime_error(path + ": " + std::strerror(errno));
    if (st.st_mode & S_IROTH)
        throw std::runtime_error(path + ": readable by others (mode " +
                                 std::to_string((st.st_mode >> 6) & 7) +
                                 std::to_string((st.st_mode >> 3) & 7) +
                                 std::to_string(st.st_mode & 7) + "); chmod o-r it");
    std::string key;
    char buffer[4096];
    for (;;) {
        auto n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0)
            throw std::runtime_error(path + ": " + std::strerror(errno));
        if (n == 0)
            break;
        key.append(buffer, std::size_t(n));
        if (key.size() > (1 << 20))
            throw std::runtime_error(path + ": larger than 1 MiB");
    }
    if (!key.empty() && key.back() == '\n')
        key.pop_back();
    if (key.empty())
        throw std::runtime_error(path + ": empty");
    return key;
}

parsed_flags parse_flags(int argc, char** argv) {
    parsed_flags out;
    const std::uint64_t fd_limit = server::raise_fd_limit();
    const auto opts = describe_options(fd_limit);
    // Not in --help: lets the test suite exercise the copy fallback on any file system, and the
    // tier benchmark (perf/tiers.py) move auto's cut-overs.
    po::options_description hidden;
    hidden.add_options()("test-refuse-splice", "")("test-fail-allocation", "")(
        "test-digest-gate", po::value<std::string>())("auto-small-max", po::value<std::string>())(
        "auto-copy-max", po::value<std::string>());
    po::options_description all;
    all.add(opts).add(hidden);
    po::positional_options_description positional;
    positional.add("root", 1);
    try {
        po::variables_map vm;
        po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(),
                  vm);
        po::notify(vm);
        if (vm.count("help")) {
            std::cout << opts << '\n';
            out.exit_code = 0;
        } else if (vm.count("version")) {
            std::cout << "spliced " << SPLICED_VERSION << '\n';
            out.exit_code = 0;
        } else {
            out.cfg = config_from(vm, fd_limit);
        }
    } catch (const flag_error& e) {
        std::fprintf(stderr, "spliced: %s\n", e.what());
        out.exit_code = 2;
    } catch (const po::error& e) {
        std::fprintf(stderr, "spliced: %s (see --help)\n", e.what());
        out.exit_code = 2;
    }
    return out;
}

} // namespace spliced::cli
