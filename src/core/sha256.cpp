#include "spliced/core/sha256.hpp"

#include <new>
#include <openssl/evp.h>
#include <unistd.h>
#include <vector>

namespace spliced {

struct sha256::context {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    ~context() { EVP_MD_CTX_free(md); }
};

sha256::sha256() : ctx_(std::make_unique<context>()) {
    if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1)
        throw std::bad_alloc(); // libcrypto fails here only when it cannot allocate
}

sha256::~sha256() = default;
sha256::sha256(sha256&&) noexcept = default;
sha256& sha256::operator=(sha256&&) noexcept = default;

void sha256::update(std::span<const std::byte> bytes) noexcept {
    EVP_DigestUpdate(ctx_->md, bytes.data(), bytes.size());
    bytes_ += bytes.size();
}

sha256_digest sha256::finish() noexcept {
    sha256_digest out{};
    unsigned length = 0;
    EVP_DigestFinal_ex(ctx_->md, out.data(), &length);
    return out;
}

result<void> hash_file_range(sha256& h, int fd, std::uint64_t from, std::uint64_t to,
                             const std::atomic<bool>* stop) {
    std::vector<std::byte> buffer(1 << 20);
    while (from < to) {
        if (stop && stop->load(std::memory_order_relaxed))
            return errno_code(ECANCELED);
        auto want = std::size_t(std::min<std::uint64_t>(buffer.size(), to - from));
        ssize_t n = ::pread(fd, buffer.data(), want, off_t(from));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_code(errno);
        if (n == 0)
            return errno_code(EIO); // the file is shorter than what was written to it
        h.update({buffer.data(), std::size_t(n)});
        from += std::uint64_t(n);
    }
    return {};
}

} // namespace spliced
