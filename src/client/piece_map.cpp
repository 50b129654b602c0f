#include "spliced/client/piece_map.hpp"

#include <algorithm>

namespace spliced::client {

piece_map::piece_map(std::uint64_t size, std::uint64_t piece_size, std::uint64_t min_split)
    : size_(size), min_split_(std::max<std::uint64_t>(min_split, 1)) {
    piece_size = std::max<std::uint64_t>(piece_size, 1);
    for (std::uint64_t first = 0; first < size; first += std::min(piece_size, size - first)) {
        std::uint64_t last = first + std::min(piece_size, size - first) - 1;
        pieces_.push_back({first, last, first, std::nullopt});
    }
}

piece_map piece_map::with_done(std::uint64_t size, std::uint64_t piece_size,
                               std::uint64_t min_split, const std::vector<http::byte_range>& done) {
    piece_map map(size, piece_size, min_split);
    // Each done range is cut along the piece boundaries; a piece whose present bytes do not start
    // at its first byte is split there, so that every piece keeps the "[first, next) present"
    // invariant.
    std::vector<piece> pieces;
    for (const auto& p : map.pieces_) {
        std::uint64_t cursor = p.first;
        for (const auto& d : done) {
            if (d.last < cursor || d.first > p.last)
                continue;
            std::uint64_t from = std::max(d.first, cursor);
            std::uint64_t to = std::min(d.last, p.last);
            if (from > cursor)
                pieces.push_back({cursor, from - 1, cursor, std::nullopt});
            pieces.push_back({from, to, to + 1, std::nullopt});
            map.present_bytes_ += to + 1 - from;
            cursor = to + 1;
        }
        if (cursor <= p.last)
            pieces.push_back({cursor, p.last, cursor, std::nullopt});
    }
    map.pieces_ = std::move(pieces);
    return map;
}

piece_map::piece* piece_map::owned_by(owner_id owner) {
    for (auto& p : pieces_)
        if (p.owner == owner)
            return &p;
    return nullptr;
}

const piece_map::piece* piece_map::owned_by(owner_id owner) const {
    return const_cast<piece_map*>(this)->owned_by(owner);
}

std::optional<piece_map::assignment> piece_map::assign() {
    for (auto& p : pieces_) {
        if (!p.owner && p.remaining() > 0) {
            p.owner = next_owner_++;
            return assignment{*p.owner, {p.next, p.last}};
        }
    }
    return split_largest();
}

std::optional<piece_map::assignment> piece_map::split_largest() {
    auto largest =
        std::max_element(pieces_.begin(), pieces_.end(), [](const piece& a, const piece& b) {
            return (a.owner ? a.remaining() : 0) < (b.owner ? b.remaining() : 0);
        });
    if (largest == pieces_.end() || !largest->owner || largest->remaining() < 2 * min_split_)
        return std::nullopt;
    // The old owner keeps the lower half (its bytes are arriving there now).
    std::uint64_t cut = largest->next + largest->remaining() / 2;
    piece upper{cut, largest->last, cut, next_owner_++};
    largest->last = cut - 1;
    auto inserted = pieces_.insert(largest + 1, upper);
    return assignment{*inserted->owner, {inserted->first, inserted->last}};
}

std::uint64_t piece_map::received(owner_id owner, std::uint64_t bytes) {
    piece* p = owned_by(owner);
    if (!p)
        return 0;
    std::uint64_t taken = std::min(bytes, p->remaining());
    p->next += taken;
    present_bytes_ += taken;
    return taken;
}

std::optional<std::uint64_t> piece_map::limit(owner_id owner) const {
    const piece* p = owned_by(owner);
    return p ? std::optional(p->last) : std::nullopt;
}

std::optional<std::uint64_t> piece_map::position(owner_id owner) const {
    const piece* p = owned_by(owner);
    return p ? std::optional(p->next) : std::nullopt;
}

void piece_map::release(owner_id owner) {
    piece* p = owned_by(owner);
    if (!p)
        return;
    p->owner.reset();
    if (p->next > p->first && p->next <= p->last) {
        // Keep the invariant: the received prefix becomes a done piece, the rest a free one.
        piece rest{p->next, p->last, p->next, std::nullopt};
        p->last = p->next - 1;
        pieces_.insert(pieces_.begin() + (p - pieces_.data()) + 1, rest);
    }
}

std::vector<http::byte_range> piece_map::present() const {
    std::vector<http::byte_range> out;
    for (const auto& p : pieces_) {
        if (p.next == p.first)
            continue;
        if (!out.empty() && out.back().last + 1 == p.first)
            out.back().last = p.next - 1;
        else
            out.push_back({p.first, p.next - 1});
    }
    return out;
}

unsigned piece_map::owned() const noexcept {
    return unsigned(std::count_if(pieces_.begin(), pieces_.end(),
                                  [](const piece& p) { return p.owner.has_value(); }));
}

std::uint64_t piece_map::auto_piece_size(std::uint64_t size, unsigned connections) noexcept {
    std::uint64_t p = size / (std::uint64_t(std::max(connections, 1u)) * 8);
    p = std::clamp<std::uint64_t>(p, 1 << 20, 64 << 20);
    return p & ~std::uint64_t(0xffff);
}

void piece_map::add_range(std::vector<http::byte_range>& ranges, http::byte_range r) {
    std::vector<http::byte_range> out;
    for (const auto& x : ranges) {
        if (x.last + 1 < r.first || r.last + 1 < x.first) {
            out.push_back(x);
        } else {
            r.first = std::min(r.first, x.first);
            r.last = std::max(r.last, x.last);
        }
    }
    out.push_back(r);
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.first < b.first; });
    ranges = std::move(out);
}

} // namespace spliced::client
