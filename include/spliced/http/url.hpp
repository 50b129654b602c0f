#pragma once
// http:// URLs as a download client is given them (RFC 3986 §3, RFC 9110 §4.2.1): where to
// connect, what to put in the Host field and the request target, and what to name the file.

#include "spliced/core/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spliced::http {

struct url {
    std::string host; // a name or an address; IPv6 without its brackets
    std::uint16_t port = 80;
    std::string authority; // the Host field: host[:port] as the URL wrote it, lower-cased host
    std::string target;    // origin-form: path (starting with '/') and query, never a fragment
    friend bool operator==(const url&, const url&) = default;
};

// Parses an absolute "http://" URL. Fails with EPROTONOSUPPORT for any other scheme (https is not
// spoken yet), EINVAL for a URL without a host, with userinfo, a bad port, or bytes that may not
// appear in a request line (controls, spaces, non-ASCII: percent-encode them).
result<url> parse_url(std::string_view text);

// The local file name a download of `u` gets when none is given: the last path segment,
// percent-decoded once; "index.html" for a path that ends in '/'. nullopt when that name would
// not stay in the current directory or is not a plain name ("." or "..", a decoded '/', a NUL,
// a control byte), so the caller asks for -o instead of guessing.
std::optional<std::string> file_name_for(const url& u);

} // namespace spliced::http
