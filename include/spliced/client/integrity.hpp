#pragma once
// What a download is checked against (--checksum, or the origin's Repr-Digest) and the SHA-256
// that checks it: bytes that arrive in file order are hashed from the receive buffer as they are
// written; whatever arrived out of order is read back (from the page cache) at the end, so a
// one-connection download is hashed without a second pass.

#include "spliced/core/sha256.hpp"
#include "spliced/http/repr_digest.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace spliced::client {

class integrity {
  public:
    // `checksum` (from the command line) wins over `repr_digest` (from the origin). `always`:
    // hash even with nothing to compare against (for --json's sha256).
    integrity(std::optional<http::sha256_digest> checksum,
              std::optional<http::sha256_digest> repr_digest, bool always);

    // A Repr-Digest on a later response of the pinned version (the origin may not have had it
    // ready for the first). The first one offered is the one checked against, unless --checksum
    // was given; a different one later means the origin contradicts itself, and verify() fails.
    void offer_repr_digest(const http::sha256_digest& digest) noexcept;

    // `bytes` were written at `offset`.
    void written(std::uint64_t offset, std::span<const std::byte> bytes) noexcept;

    struct verdict {
        bool ok = true;
        std::string sha256;   // hex; empty when nothing was hashed
        std::string method;   // "checksum", "repr-digest" or "none"
        std::string expected; // hex, when compared
    };
    // Hashes [frontier, size) of `fd` and compares. An error when reading `fd` fails.
    result<verdict> verify(int fd, std::uint64_t size);

  private:
    std::optional<http::sha256_digest> expected_;
    std::string method_ = "none";
    bool contradicted_ = false;
    bool hashing_;                 // something to compare against, or --json wants the sum
    std::unique_ptr<sha256> hash_; // over [0, frontier_) while hashing_
    std::uint64_t frontier_ = 0;
};

} // namespace spliced::client
