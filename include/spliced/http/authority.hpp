#pragma once
// Syntax of the authority a request names, in Host and in absolute-form targets (RFC 9112 §3.2:
// a server MUST answer 400 to a request whose Host is invalid; RFC 3986 §3.2.2-3.2.3 for what is
// valid). Pure string work.

#include <optional>
#include <string_view>

namespace spliced::http {

// uri-host [ ":" port ] without userinfo: a reg-name (unreserved, sub-delims, %HH), an IPv4
// address (which reg-name covers) or an IP-literal ("[" IPv6address or IPvFuture "]"), then an
// optional port of digits only. `empty_host_ok`: an empty host is valid (a Host field may be
// empty when the target has no authority) — an http(s) URI's host never may be.
bool valid_authority(std::string_view authority, bool empty_host_ok) noexcept;

// The authority of an absolute-form target ("http://AUTHORITY/..." or "https://..."), or nullopt
// for an origin-form one.
std::optional<std::string_view> absolute_form_authority(std::string_view target) noexcept;

} // namespace spliced::http
