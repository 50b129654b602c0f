#include "origin_set.hpp"

namespace spliced::client {

origin_set::origin_set(std::vector<origin> origins) {
    for (auto& o : origins) {
        std::string url = "http://" + o.url().authority + o.url().target;
        members_.push_back(member{std::move(o), std::move(url)});
    }
}

std::optional<std::size_t> origin_set::least_busy(std::uint64_t now_ns) const noexcept {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < members_.size(); ++i) {
        const auto& m = members_[i];
        if (m.dropped || now_ns < m.next_start_ns)
            continue;
        if (!best || m.connections < members_[*best].connections)
            best = i;
    }
    return best;
}

bool origin_set::drop(std::size_t i) noexcept {
    unsigned in_use = 0;
    for (const auto& m : members_)
        in_use += !m.dropped;
    if (members_[i].dropped || in_use < 2)
        return false;
    members_[i].dropped = true;
    return true;
}

bool origin_set::failed(std::size_t i) noexcept {
    return ++members_[i].failures >= drop_after && drop(i);
}

bool origin_set::serves_another_version(std::size_t i) noexcept {
    return drop(i);
}

void origin_set::delivered(std::size_t i, std::uint64_t bytes) noexcept {
    members_[i].bytes += bytes;
    members_[i].failures = 0;
}

} // namespace spliced::client
