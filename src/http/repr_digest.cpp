#include "spliced/http/repr_digest.hpp"

#include "text.hpp"

namespace spliced::http {

namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) noexcept {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

// Standard base64 with padding, exactly 32 bytes (44 characters, one '=').
std::optional<sha256_digest> decode_32(std::string_view b64) noexcept {
    if (b64.size() != 44 || b64[43] != '=' || b64[42] == '=')
        return std::nullopt;
    sha256_digest out{};
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t n = 0;
    for (char c : b64.substr(0, 43)) {
        int v = base64_value(c);
        if (v < 0)
            return std::nullopt;
        acc = (acc << 6) | unsigned(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == out.size())
                return std::nullopt;
            out[n++] = std::uint8_t(acc >> bits);
        }
    }
    if (n != out.size() || (acc & ((1u << bits) - 1)) != 0) // canonical: unused bits are zero
        return std::nullopt;
    return out;
}

} // namespace

std::optional<sha256_digest> parse_repr_digest_sha256(std::string_view field) noexcept {
    while (!field.empty()) {
        auto comma = field.find(',');
        auto member = text::trim_ows(field.substr(0, comma));
        field = comma == std::string_view::npos ? std::string_view() : field.substr(comma + 1);
        auto eq = member.find('=');
        if (eq == std::string_view::npos || member.substr(0, eq) != "sha-256")
            continue;
        auto value = member.substr(eq + 1);
        if (auto semi = value.find(';'); semi != std::string_view::npos)
            value = value.substr(0, semi); // parameters carry nothing for us
        if (value.size() < 2 || value.front() != ':' || value.back() != ':')
            return std::nullopt;
        return decode_32(value.substr(1, value.size() - 2));
    }
    return std::nullopt;
}

std::string format_repr_digest(const sha256_digest& digest) {
    std::string out = "sha-256=:";
    std::uint32_t acc = 0;
    int bits = 0;
    for (auto byte : digest) {
        acc = (acc << 8) | byte;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(alphabet[(acc >> bits) & 63]);
        }
    }
    out.push_back(alphabet[(acc << (6 - bits)) & 63]); // 32 bytes leave 4 bits
    out.append("=:");
    return out;
}

bool repr_digest_wanted(const std::optional<std::string>& want) noexcept {
    if (!want)
        return true;
    std::string_view field = *want;
    bool listed_any = false;
    while (!field.empty()) {
        auto comma = field.find(',');
        auto member = text::trim_ows(field.substr(0, comma));
        field = comma == std::string_view::npos ? std::string_view() : field.substr(comma + 1);
        auto eq = member.find('=');
        if (eq == std::string_view::npos)
            return true; // not a dictionary of preferences
        auto value = member.substr(eq + 1);
        if (auto semi = value.find(';'); semi != std::string_view::npos)
            value = value.substr(0, semi);
        if (value.empty() || value.size() > 2 ||
            value.find_first_not_of("0123456789") != std::string_view::npos)
            return true;
        listed_any = true;
        if (member.substr(0, eq) == "sha-256")
            return value.find_first_not_of('0') != std::string_view::npos;
    }
    return !listed_any;
}

std::string to_hex(const sha256_digest& digest) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (auto byte : digest) {
        out.push_back(hex[byte >> 4]);
        out.push_back(hex[byte & 15]);
    }
    return out;
}

std::optional<sha256_digest> parse_hex_sha256(std::string_view text) noexcept {
    if (text.size() != 64)
        return std::nullopt;
    sha256_digest out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = text::hex_value(text[2 * i]), lo = text::hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out[i] = std::uint8_t(hi * 16 + lo);
    }
    return out;
}

} // namespace spliced::http
