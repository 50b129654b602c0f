#pragma once
// spliced-get's view of the file being downloaded: pieces, who is fetching each, and how far
// each has come. Pure bookkeeping, no I/O: the downloader asks it what to fetch next and tells
// it what arrived (DESIGN.md "client").
//
// A piece is [first, last]; its bytes [first, next) have arrived, in order (a connection receives
// a range front to back). A piece has at most one owner, the connection fetching it. When no
// piece is left unowned, the one with the most bytes still to come is split in two and the upper
// half handed out, so one stalled connection cannot hold the download at 99 % (aria2's and
// axel's "split the slowest segment"): the old owner learns its piece now ends earlier from
// limit() and stops there.

#include "spliced/http/byte_range.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace spliced::client {

class piece_map {
  public:
    using owner_id = unsigned;

    // `piece_size` > 0; the last piece may be shorter. `min_split`: a piece with less than twice
    // this still to come is not split (the extra request would cost more than it saves).
    piece_map(std::uint64_t size, std::uint64_t piece_size, std::uint64_t min_split);

    // The same map, with the bytes of `done` (sorted, non-overlapping, within the file: a state
    // file's list, validated by the caller) already present.
    static piece_map with_done(std::uint64_t size, std::uint64_t piece_size,
                               std::uint64_t min_split, const std::vector<http::byte_range>& done);

    struct assignment {
        owner_id owner;
        http::byte_range range; // what to request
    };
    // Work for a free connection, or nullopt when every byte is present or owned and nothing is
    // worth splitting.
    std::optional<assignment> assign();

    // `bytes` more arrived for `owner`'s piece, in order. Returns how many of them belong to the
    // piece (fewer once a split has moved its end): the rest must be dropped by the caller.
    std::uint64_t received(owner_id owner, std::uint64_t bytes);
    // The last byte `owner` should still receive (its piece may have been split). nullopt when
    // `owner` holds no piece.
    std::optional<std::uint64_t> limit(owner_id owner) const;
    // Where `owner`'s next byte goes in the file.
    std::optional<std::uint64_t> position(owner_id owner) const;
    // `owner` stops (finished, failed or gone): what it received stays, the rest is free again.
    void release(owner_id owner);

    // Ranges present, merged, sorted: what a state file may claim once they are durable.
    std::vector<http::byte_range> present() const;
    std::uint64_t present_bytes() const noexcept { return present_bytes_; }
    std::uint64_t size() const noexcept { return size_; }
    bool complete() const noexcept { return present_bytes_ == size_; }
    // Pieces being fetched now.
    unsigned owned() const noexcept;

    // A piece size for `size` bytes over `connections`: about 8 pieces per connection, 1-64 MiB,
    // 64 KiB-aligned (page-cache and extent friendly).
    static std::uint64_t auto_piece_size(std::uint64_t size, unsigned connections) noexcept;
    // Adds `r` to the sorted, disjoint list `ranges`, merged with whatever it overlaps or touches.
    static void add_range(std::vector<http::byte_range>& ranges, http::byte_range r);

  private:
    struct piece {
        std::uint64_t first;
        std::uint64_t last;
        std::uint64_t next; // first byte not yet received; last + 1 when the piece is done
        std::optional<owner_id> owner;
        std::uint64_t remaining() const noexcept { return last + 1 - next; }
    };
    piece* owned_by(owner_id owner);
    const piece* owned_by(owner_id owner) const;
    std::optional<assignment> split_largest();

    std::vector<piece> pieces_; // ordered by first; together they cover [0, size) exactly
    std::uint64_t size_;
    std::uint64_t min_split_;
    std::uint64_t present_bytes_ = 0;
    owner_id next_owner_ = 0;
};

} // namespace spliced::client
