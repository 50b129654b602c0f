#pragma once
// SHA-256 from OpenSSL's libcrypto (the EVP interface picks the CPU's SHA extensions where there
// are any): spliced-get's integrity checks and the server's Repr-Digest (RFC 9530).

#include "spliced/core/result.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

namespace spliced {

using sha256_digest = std::array<std::uint8_t, 32>;

class sha256 {
  public:
    sha256();
    ~sha256();
    sha256(sha256&&) noexcept;
    sha256& operator=(sha256&&) noexcept;

    void update(std::span<const std::byte> bytes) noexcept;
    // The digest of everything given; the object is then spent.
    sha256_digest finish() noexcept;
    std::uint64_t bytes() const noexcept { return bytes_; }

  private:
    struct context;
    std::unique_ptr<context> ctx_;
    std::uint64_t bytes_ = 0;
};

// Feeds bytes [from, to) of `fd` (read with pread, so the offset of `fd` is not moved) into `h`.
// EIO if the file ends before `to`; ECANCELED as soon as `*stop` is seen true between reads.
result<void> hash_file_range(sha256& h, int fd, std::uint64_t from, std::uint64_t to,
                             const std::atomic<bool>* stop = nullptr);

} // namespace spliced
