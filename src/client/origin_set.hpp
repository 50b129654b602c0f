#pragma once
// The origins of one download: the URL's server first, then every --mirror, each with what it
// did for this run. Connections are spread evenly over the origins still in use; an origin whose
// attempts fail `drop_after` times in a row without a byte between them, or that serves another
// version than the pinned one, is dropped — never the last one, whose failures are the retry
// policy's to judge.

#include "origin.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace spliced::client {

class origin_set {
  public:
    static constexpr unsigned drop_after = 3;

    explicit origin_set(std::vector<origin> origins);

    struct member {
        client::origin origin;
        std::string url;                 // as given, for messages and --json
        std::uint64_t bytes = 0;         // body bytes it delivered in this run
        unsigned failures = 0;           // attempts failed in a row
        unsigned connections = 0;        // live connections on it
        std::uint64_t next_start_ns = 0; // backoff: no new connection to it before this
        bool dropped = false;
    };

    std::size_t size() const noexcept { return members_.size(); }
    member& operator[](std::size_t i) noexcept { return members_[i]; }
    const std::vector<member>& members() const noexcept { return members_; }

    // The origin in use, out of its backoff at `now_ns`, with the fewest live connections (the
    // first of them on a tie); nullopt while every origin in use is backing off.
    std::optional<std::size_t> least_busy(std::uint64_t now_ns) const noexcept;
    // A failed attempt on origin `i`; true if that dropped it.
    bool failed(std::size_t i) noexcept;
    // Origin `i` serves something else than the pinned version; true if that dropped it (false:
    // it is the last origin in use, and the download must treat it as a changed file).
    bool serves_another_version(std::size_t i) noexcept;
    void delivered(std::size_t i, std::uint64_t bytes) noexcept;

  private:
    bool drop(std::size_t i) noexcept;
    std::vector<member> members_;
};

} // namespace spliced::client
