#pragma once
// Content-Type from a file name's extension.

#include <string_view>

namespace spliced::http {

// The media type for a path's extension (case-insensitive), with "; charset=utf-8" on text
// types; "application/octet-stream" for unknown or missing extensions.
std::string_view mime_type_for(std::string_view path) noexcept;

// How many extensions the table knows (for tests and --help).
std::size_t mime_table_size() noexcept;

} // namespace spliced::http
