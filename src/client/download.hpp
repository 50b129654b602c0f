#pragma once
// The state machine of one download (private to the client module; run_download() is its front).
//
// probing   one connection asks `Range: bytes=0-0` (with If-Range when resuming) and pins the
//           representation: size and a strong validator (response_check.hpp).
// fetching  up to N connections fetch pieces (piece_map) with If-Match; every 206 is checked
//           against the pin; a connection that finishes a piece is given the next one.
// stopping  every connection is stopped; the run ends when the last one is idle.
//
// Ownership: `pool_` owns the connections and frees one only between loop turns, once it is
// dead and idle (connection_pool.hpp).

#include "connection_pool.hpp"
#include "origin_set.hpp"
#include "progress_bar.hpp"
#include "rate_limiter.hpp"
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
    download(const get_options& options, uring::ring& ring, output_file& out, origin_set origins);
    download_report run();

  private:
    // restarting: the file changed; every connection is being stopped, and only once the last
    // is gone (its writes landed) are the map, the digest and the file thrown away.
    enum class phase { probing, fetching, restarting, stopping };
    using slot = connection_pool::slot;

    body_target head_arrived(fetch_connection& c, const http::response_head& h) noexcept override;
    std::uint64_t may_write(fetch_connection& c, std::uint64_t offset) noexcept override;
    std::uint64_t receive_allowance(fetch_connection& c) noexcept override;
    void written(fetch_connection& c, std::uint64_t offset, std::uint64_t length,
                 std::span<const std::byte> bytes) noexcept override;
    void response_done(fetch_connection& c, bool reusable) noexcept override;
    void failed(fetch_connection& c, int error) noexcept override;

    void load_state();
    void start_probe(std::size_t origin);
    body_target pin(slot& s, const check& c, const http::response_head& h);
    void begin_fetching(slot* reuse);
    bool give_job(slot& s);
    void fill(std::uint64_t now);
    void pace(std::uint64_t now);
    void note_failure(slot& s, std::string reason);
    void dropped(std::size_t origin, const std::string& why);
    void changed();
    void restart_from_scratch();
    void stop_all(exit_code code, std::string message);
    void checkpoint();
    download_report finish();
    progress_bar::figures figures() const;

    const get_options& options_;
    uring::ring& ring_;
    output_file& out_;
    origin_set origins_;
    std::size_t pin_origin_ = 0; // the origin whose answer pinned the version
    connection_pool pool_;
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
    std::uint64_t last_checkpoint_ns_ = 0;
    std::uint64_t checkpointed_bytes_ = 0;
    std::uint64_t started_ns_;
    rate_limiter rate_;
    progress_bar progress_;
    download_report report_;
};

} // namespace spliced::client
