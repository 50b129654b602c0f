#pragma once
// What spliced-get was asked to do (src/get_flags.cpp fills it from the command line) and the
// exit codes scripts rely on (README "spliced-get": change them only by adding).

#include "spliced/client/receive_path.hpp"
#include "spliced/http/repr_digest.hpp"
#include "spliced/http/url.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace spliced::client {

enum class exit_code : int {
    ok = 0,            // downloaded and verified (or nothing to do)
    failure = 1,       // anything not listed below (e.g. io_uring refused)
    usage = 2,         // a bad flag or URL
    locked = 3,        // another spliced-get holds FILE.part
    exists = 4,        // FILE exists and --force was not given
    local_io = 5,      // writing FILE.part failed (disk full, permissions)
    network = 6,       // retries exhausted: connection, timeout, short body, 5xx
    http_error = 7,    // a final HTTP error such as 404 or 403
    changed = 8,       // the file changed on the origin and --on-change fail
    integrity = 9,     // --checksum or Repr-Digest did not match; FILE was not created
    no_resume = 10,    // the origin ignores Range and --require-resume was given
    interrupted = 130, // SIGINT; state saved, a rerun resumes
    terminated = 143,  // SIGTERM; state saved
};

enum class on_change { restart, fail };

struct get_options {
    http::url url;
    std::string url_text;
    std::string output;             // FILE
    std::vector<http::url> mirrors; // --mirror: more origins of the same representation
    unsigned connections = 4;
    std::uint64_t piece_size = 0; // 0: chosen from the size and the connections
    unsigned retries = 5;         // failed attempts in a row without progress before giving up
    std::chrono::milliseconds retry_max_time{60'000}; // without progress, then give up
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds stall_timeout{30'000}; // no byte on a busy connection
    client::on_change change = on_change::restart;
    bool require_resume = false;
    receive_path io = receive_path::automatic; // --io: how body bytes reach the file
    std::uint64_t limit_rate = 0;              // bytes/s over all connections; 0: unlimited
    bool if_changed = false; // fetch only if FILE's last download is no longer current
    std::optional<http::sha256_digest> checksum;
    bool force = false;
    bool quiet = false;
    bool json = false;
};

} // namespace spliced::client
