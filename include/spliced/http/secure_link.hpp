#pragma once
// Signed, expiring links (nginx's secure_link, with HMAC): under --secure-link-prefix a request
// must carry ?expires=UNIX_SECONDS&sig=SIG where SIG is the unpadded base64url of
// HMAC-SHA-256(secret, PATH + decimal expires) and PATH is the request's path percent-decoded and
// normalized (normalize_target's `absolute`), so that no encoding of another file's path
// ("%2F", "..") can carry this file's signature. Pure computation (libcrypto's HMAC).

#include <cstdint>
#include <string>
#include <string_view>

namespace spliced::http {

enum class link_verdict { valid, bad_signature, expired };

// The signature of `path` until `expires`.
std::string sign_link(std::string_view secret, std::string_view path, std::int64_t expires);

// Checks the query string (without '?') of a request for `path` at `now` (Unix seconds). A
// missing or malformed expires/sig, or a signature that differs (compared in constant time), is
// bad_signature; a right one with expires < now is expired. The signature is checked first, so
// an expired answer is only ever given to the link's holder.
link_verdict check_link(std::string_view secret, std::string_view path, std::string_view query,
                        std::int64_t now);

// Whether `path` (normalized, absolute) lies under `prefix` (which ends with '/'); the prefix's
// own directory ("/dl" for "/dl/") counts as under it.
bool under_prefix(std::string_view prefix, std::string_view path) noexcept;

} // namespace spliced::http
