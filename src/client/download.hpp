#pragma once
// The state machine of one download (private to the client module; run_download() is its front).
//
// probing   one connection asks `Range: bytes=0-0` (with If-Range when resuming) and pins the
//           representation: size and a strong validator (response_check.hpp).
// fetching  up to N connections fetch pieces (piece_map) with If-Match; every 206 is checked
//           against the pin; a connection that finishes a piece is given the next one.
// stopping  every connection is stopped; the run ends when the last one is idle.
//
// Ownership: `slots_` owns the connections; a connection is freed only by reap(), between loop
// turns, when it is idle (no operation in flight) and done with — never from inside one of its
// own callbacks.

#include "origin.hpp"
#include "progress_bar.hpp"
#include "spliced/client/downloader.hpp"
#include "spliced/client/fetch_connection.hpp"
#include "spliced/client/integrity.hpp"
#include "spliced/client/output_file.hpp"
#include "spliced/client/piece_map.hpp"
#include "spliced/client/response_check.hpp"
#include "spliced/client/retry_policy.hpp"

#include <memory>
#include <optional>
#include <vector>

namespace spliced::client {

class download final : public fetch_events {
  public:
    download(const get_options& options, uring::ring& ring, output_file& out, origin from);
    download_report run();

  private:
    enum class phase { probing, fetching, stopping };
    struct slot {
        std::unique_ptr<fetch_connection> connection;
        std::optional<piece_map::assignment> job; // the piece being fetched, if any
        bool probe = false;
        bool dead = false;      // failed or closed: reap() frees it once idle
        bool timed_out = false; // stopped by the stall or connect timeout
        std::optional<std::chrono::seconds> retry_after;
        std::uint64_t attempt_ns = 0; // when its current request started (retry_policy)
    };

    body_target head_arrived(fetch_connection& c, const http::response_head& h) noexcept override;
    std::uint64_t may_write(fetch_connection& c, std::uint64_t offset) noexcept override;
    std::uint64_t receive_allowance(fetch_connection& c) noexcept override;
    void written(fetch_connection& c, std::uint64_t offset,
                 std::span<const std::byte> bytes) noexcept override;
    void response_done(fetch_connection& c, bool reusable) noexcept override;
    void failed(fetch_connection& c, int error) noexcept override;

    void load_state();
    slot& open_slot();
    slot* slot_of(const fetch_connection& c);
    void start_probe();
    body_target pin(slot& s, const check& c, const http::response_head& h);
    void begin_fetching(slot* reuse);
    bool give_job(slot& s);
    void fill(std::uint64_t now);
    void watch_timeouts(std::uint64_t now);
    void reap();
    void pace(std::uint64_t now);
    void note_failure(slot& s, std::string reason);
    void changed();
    void stop_all(exit_code code, std::string message);
    void checkpoint();
    bool interrupted();
    download_report finish();
    progress_bar::figures figures() const;

    const get_options& options_;
    uring::ring& ring_;
    output_file& out_;
    origin origin_;
    std::vector<std::unique_ptr<slot>> slots_;
    phase phase_ = phase::probing;
    std::optional<pinned> pin_;        // set once probed
    std::optional<pinned> resume_pin_; // from the state file
    std::vector<http::byte_range> resume_present_;
    std::optional<piece_map> map_;
    std::optional<output_file::validators> previous_; // --if-changed: the last download's
    std::optional<std::int64_t> modified_;            // the origin's Last-Modified, for FILE
    bool unchanged_ = false;                          // --if-changed and the origin said 304
    std::uint64_t piece_size_ = 0;
    unsigned connections_;
    std::optional<integrity> integrity_; // set when pinned
    exit_code code_ = exit_code::ok;     // what stopping ends with
    std::string message_;
    retry_policy retries_;
    std::uint64_t next_start_ns_ = 0; // backoff: no new connection before this
    std::uint64_t last_checkpoint_ns_ = 0;
    std::uint64_t checkpointed_bytes_ = 0;
    std::uint64_t started_ns_;
    // --limit-rate: a token bucket of bytes; it may go below zero when several connections spend
    // one allowance at once, and then pauses them all until it is refilled.
    std::int64_t rate_tokens_ = 0;
    std::uint64_t rate_refilled_ns_ = 0;
    progress_bar progress_;
    download_report report_;
};

} // namespace spliced::client
