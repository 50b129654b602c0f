#include "spliced/client/integrity.hpp"

namespace spliced::client {

integrity::integrity(std::optional<http::sha256_digest> checksum,
                     std::optional<http::sha256_digest> repr_digest, bool always) {
    if (checksum) {
        expected_ = checksum;
        method_ = "checksum";
    } else if (repr_digest) {
        expected_ = repr_digest;
        method_ = "repr-digest";
    }
    if (expected_ || always)
        hash_ = std::make_unique<sha256>();
}

void integrity::written(std::uint64_t offset, std::span<const std::byte> bytes) noexcept {
    if (hash_ && offset == frontier_) {
        hash_->update(bytes);
        frontier_ += bytes.size();
    }
}

result<integrity::verdict> integrity::verify(int fd, std::uint64_t size) {
    verdict out;
    out.method = method_;
    if (!hash_)
        return out;
    if (auto caught_up = hash_file_range(*hash_, fd, frontier_, size); !caught_up)
        return caught_up.error();
    auto digest = hash_->finish();
    out.sha256 = http::to_hex(digest);
    if (expected_) {
        out.expected = http::to_hex(*expected_);
        out.ok = digest == *expected_;
    }
    return out;
}

} // namespace spliced::client
