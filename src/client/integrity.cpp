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
    hashing_ = expected_ || always;
    hash_ = std::make_unique<sha256>(); // made now so that offer_repr_digest() never allocates
}

void integrity::offer_repr_digest(const http::sha256_digest& digest) noexcept {
    if (method_ == "checksum")
        return;
    if (!expected_) {
        expected_ = digest;
        method_ = "repr-digest";
        hashing_ = true; // bytes before the frontier are read back at the end
    } else if (*expected_ != digest) {
        contradicted_ = true;
    }
}

void integrity::written(std::uint64_t offset, std::span<const std::byte> bytes) noexcept {
    if (hashing_ && offset == frontier_) {
        hash_->update(bytes);
        frontier_ += bytes.size();
    }
}

result<integrity::verdict> integrity::verify(int fd, std::uint64_t size) {
    verdict out;
    out.method = method_;
    if (!hashing_)
        return out;
    if (auto caught_up = hash_file_range(*hash_, fd, frontier_, size); !caught_up)
        return caught_up.error();
    auto digest = hash_->finish();
    out.sha256 = http::to_hex(digest);
    if (expected_) {
        out.expected = http::to_hex(*expected_);
        out.ok = digest == *expected_ && !contradicted_;
    }
    return out;
}

} // namespace spliced::client
