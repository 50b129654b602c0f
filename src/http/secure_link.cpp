#include "spliced/http/secure_link.hpp"

#include <array>
#include <charconv>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace spliced::http {

namespace {

std::string base64url(const unsigned char* data, std::size_t n) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((n * 4 + 2) / 3);
    for (std::size_t i = 0; i < n; i += 3) {
        std::uint32_t chunk = std::uint32_t(data[i]) << 16;
        if (i + 1 < n)
            chunk |= std::uint32_t(data[i + 1]) << 8;
        if (i + 2 < n)
            chunk |= data[i + 2];
        const std::size_t chars = n - i >= 3 ? 4 : n - i + 1; // unpadded
        for (std::size_t c = 0; c < chars; ++c)
            out.push_back(alphabet[(chunk >> (18 - 6 * c)) & 63]);
    }
    return out;
}

// The value of `name` in an application/x-www-form-urlencoded query, as sent (the values checked
// here are digits and base64url, which need no decoding); empty if absent.
std::string_view query_value(std::string_view query, std::string_view name) noexcept {
    while (!query.empty()) {
        auto amp = query.find('&');
        auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        auto eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == name)
            return pair.substr(eq + 1);
    }
    return {};
}

} // namespace

std::string sign_link(std::string_view secret, std::string_view path, std::int64_t expires) {
    std::string message(path);
    message += std::to_string(expires);
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned length = 0;
    if (!HMAC(EVP_sha256(), secret.data(), int(secret.size()),
              reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(),
              &length))
        return {};
    return base64url(mac.data(), length);
}

link_verdict check_link(std::string_view secret, std::string_view path, std::string_view query,
                        std::int64_t now) {
    auto expires_text = query_value(query, "expires");
    auto sig = query_value(query, "sig");
    std::int64_t expires = 0;
    auto [end, ec] =
        std::from_chars(expires_text.data(), expires_text.data() + expires_text.size(), expires);
    if (expires_text.empty() || ec != std::errc() ||
        end != expires_text.data() + expires_text.size() || expires < 0 || sig.empty())
        return link_verdict::bad_signature;
    // Signed with the decimal form as sent: "0042" is not the "42" that was signed.
    if (std::to_string(expires) != expires_text)
        return link_verdict::bad_signature;
    const auto expected = sign_link(secret, path, expires);
    if (expected.empty() || expected.size() != sig.size() ||
        CRYPTO_memcmp(expected.data(), sig.data(), sig.size()) != 0)
        return link_verdict::bad_signature;
    return expires < now ? link_verdict::expired : link_verdict::valid;
}

bool under_prefix(std::string_view prefix, std::string_view path) noexcept {
    if (path.substr(0, prefix.size()) == prefix)
        return true;
    return !prefix.empty() && path.size() + 1 == prefix.size() &&
           prefix.substr(0, path.size()) == path; // "/dl" for "/dl/"
}

} // namespace spliced::http
