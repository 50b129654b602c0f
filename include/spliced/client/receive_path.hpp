#pragma once
// How spliced-get moves body bytes from a socket into FILE.part (--io; fetch_connection.hpp
// describes each path, perf/clients measures them).

namespace spliced::client {

enum class receive_path { plain, fixed, splice };

} // namespace spliced::client
