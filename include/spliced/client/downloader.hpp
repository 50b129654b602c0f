#pragma once
// One download: probe, pin, fetch pieces over up to N connections on one ring, checkpoint,
// retry, verify, commit (README "spliced-get"). Single-threaded: everything below runs on the
// thread that calls run().

#include "spliced/client/get_options.hpp"

#include <vector>

namespace spliced::client {

// What a run did, for --json and the exit code.
struct download_report {
    exit_code code = exit_code::failure;
    std::string message; // one line for stderr when code != ok
    std::uint64_t size = 0;
    std::string etag;
    std::string sha256;    // hex, when computed
    std::string integrity; // "checksum", "repr-digest" or "none"
    std::string io;        // the receive path used: "plain", "fixed" or "splice"
    std::uint64_t bytes_fetched = 0;
    std::uint64_t bytes_resumed = 0;
    unsigned retries = 0;
    unsigned restarts = 0;
    bool unchanged = false; // --if-changed: the origin answered 304, FILE was left alone
    struct origin_report {
        std::string url;
        std::uint64_t bytes = 0; // body bytes it delivered
        bool dropped = false;
    };
    std::vector<origin_report> origins; // the URL's server, then each --mirror
    double seconds = 0;
};

// Blocks SIGINT and SIGTERM for the calling thread, then runs the download; the loop takes
// those signals between turns (pending_stop_signal) and ends with the state saved.
download_report run_download(const get_options& options);

// SIGINT or SIGTERM if one is pending (and takes it), else 0. Never waits.
int pending_stop_signal() noexcept;

} // namespace spliced::client
