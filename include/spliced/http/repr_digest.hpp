#pragma once
// RFC 9530 Repr-Digest: a Structured Fields dictionary (RFC 8941 §3.2) of algorithm = byte
// sequence, e.g. `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`. Only sha-256 is spoken.

#include "spliced/core/sha256.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace spliced::http {

using spliced::sha256_digest;

// The sha-256 member of a Repr-Digest field; nullopt when absent or malformed (a member that is
// not a byte sequence, base64 that does not decode to 32 bytes).
std::optional<sha256_digest> parse_repr_digest_sha256(std::string_view field) noexcept;

// "sha-256=:BASE64:"
std::string format_repr_digest(const sha256_digest& digest);

// Whether a response may carry a sha-256 Repr-Digest for a request whose Want-Repr-Digest field
// (RFC 9530 §4: a dictionary of algorithm = preference 0-10) is `want`: yes when the field is
// absent, and when present only if it gives sha-256 a preference above 0 (0 means "not
// acceptable"; a request that lists only other algorithms did not ask for sha-256). A malformed
// field counts as absent.
bool repr_digest_wanted(const std::optional<std::string>& want) noexcept;

// Lower-case hex and back (for --checksum sha-256=HEX and logs).
std::string to_hex(const sha256_digest& digest);
std::optional<sha256_digest> parse_hex_sha256(std::string_view hex) noexcept;

} // namespace spliced::http
