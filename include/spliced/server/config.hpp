#pragma once
// Everything the flags decide, already validated (src/main.cpp does the parsing).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace spliced::server {

struct endpoint {
    std::string host; // numeric address or name; "0.0.0.0", "127.0.0.1", "::"
    std::uint16_t port = 0;
};

enum class transfer_mode { automatic, splice, copy };

struct config {
    std::string root = ".";
    std::vector<endpoint> listen{{"0.0.0.0", 8080}};
    std::optional<endpoint> metrics_listen = endpoint{"127.0.0.1", 9100};
    bool metrics_per_worker = false; // a `worker` label on every shard series
    unsigned threads = 1;
    unsigned queue_depth = 4096;
    unsigned cq_depth = 0; // 0: 4 × queue_depth
    std::optional<unsigned> sqpoll_idle_ms;
    unsigned registered_files = 16384;
    unsigned pipe_size = 1u << 20;
    unsigned max_pipes = 1024;                // per worker
    unsigned iowq_workers = 2;                // per worker, bounded and unbounded each
    unsigned buffers = 256;                   // per worker: copy-tier buffers, and as many small
    std::size_t buffer_size = 256 << 10;      // bytes each
    std::size_t small_buffer_size = 16 << 10; // the small tier's buffers (as many as --buffers)
    // Provided buffers shared by every receive that starts with nothing buffered (idle keep-alive
    // connections hold none of their own): a power of two, and at most max_header_bytes + 1 each.
    unsigned recv_buffers = 1024;
    std::size_t recv_buffer_size = 2048;
    // What each shared receive buffer holds: never more than a head may be.
    std::size_t recv_buffer_bytes() const noexcept {
        return recv_buffer_size < max_header_bytes + 1 ? recv_buffer_size : max_header_bytes + 1;
    }
    // Neither --buffers nor --buffer-size was given: the pool grows with demand (and stops, with a
    // warning, where RLIMIT_MEMLOCK says) instead of being pinned whole at startup.
    bool buffers_on_demand = true;
    std::size_t open_file_cache = 10000; // entries per worker; 0 disables
    std::chrono::milliseconds open_file_cache_valid{1000};
    bool test_refuse_splice = false;   // test hook: every splice behaves as if refused (EINVAL)
    bool test_fail_allocation = false; // test hook: planning a file response runs out of memory
    // --digests sha-256: Repr-Digest on 200/206/HEAD for files whose digest is ready
    // (fs/digest_store.hpp).
    bool digests = false;
    std::string test_digest_gate; // test hook: hashing waits until this file exists
    transfer_mode transfer = transfer_mode::automatic;
    // auto's cut-overs, chosen from perf/RESULTS.md ("Tiers", 2026-11-26): a body of at most
    // auto_small_max bytes that fits a small buffer beside its head leaves with the head in one
    // SEND (small tier: cheapest per request up to 8 KiB; splice is cheaper from 16 KiB); bodies up
    // to auto_copy_max bytes take the copy tier (0: never; splice used less CPU at every size
    // measured); larger ones splice.
    std::size_t auto_small_max = 8 << 10;
    std::uint64_t auto_copy_max = 0;
    std::uint64_t max_connections = 100000; // per process
    std::size_t max_header_bytes = 8192;
    unsigned max_ranges = 16; // more ranges than this in one request: the whole file (200)
    // --batch-wait-us: while transfers are splicing or waiting for POLLOUT, the loop sleeps until
    // half of those operations have completed or this much time has passed, instead of waking per
    // completion. 0 (the default): wake for every completion.
    std::chrono::microseconds batch_wait{0};
    std::chrono::milliseconds header_timeout{10'000};
    std::chrono::milliseconds idle_timeout{60'000};
    std::chrono::milliseconds send_timeout{60'000};
    std::chrono::milliseconds drain_delay{5'000}; // SIGTERM → listeners close (see control_plane)
    std::chrono::milliseconds drain_timeout{30'000};
    std::string index = "index.html";
    // --precompressed-ranges encoded: a Range request may get an encoded sibling's bytes (RFC 9110
    // allows it; downloaders that send ranges cannot use them). Default: identity for ranges.
    bool precompressed_ranges_encoded = false;
    bool serve_hidden = false;
    // --secure-link-secret / --secure-link-prefix: requests under the prefix need a signed link.
    std::string secure_link_secret; // the key (empty: off)
    std::string secure_link_prefix; // "/dl/": starts and ends with '/'
    // --serve-hidden: paths with a segment starting with '.' are served
    std::string cache_control;                   // empty: no Cache-Control on files
    std::optional<std::chrono::seconds> expires; // Expires + Cache-Control: max-age
    bool content_disposition_attachment = false; // Content-Disposition: attachment
    std::string access_log = "off";              // a path, "-" for stdout, or "off"
    // Precompressed siblings to prefer, in order: {"br", ".br"}, {"gzip", ".gz"}, {"zstd", ".zst"}.
    std::vector<std::pair<std::string, std::string>> precompressed;
};

} // namespace spliced::server
