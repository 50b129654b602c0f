#pragma once
// Command-line flags (DESIGN.md "Contracts"): parsed with Boost.Program_options, every value
// checked against its accepted range, a refused value reported on one line naming the flag.

#include "spliced/server/config.hpp"

#include <optional>
#include <string>

namespace spliced::cli {

struct parsed_flags {
    server::config cfg;
    std::optional<int> exit_code; // set when the process should exit now with this code
};

parsed_flags parse_flags(int argc, char** argv);

// The key in a --secure-link-secret file: its bytes, one trailing newline stripped. Throws
// std::runtime_error naming the file and what is wrong: unreadable, empty, or readable by users
// other than its owner and group (a key anyone on the machine can read signs links for anyone).
std::string read_link_secret(const std::string& path);

// `spliced sign PATH ...`: prints a signed link (see sign.cpp); returns the exit code.
int sign_command(int argc, char** argv);

} // namespace spliced::cli
