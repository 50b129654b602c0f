#pragma once
// Command-line flags (DESIGN.md "Contracts"): parsed with Boost.Program_options, every value
// checked against its accepted range, a refused value reported on one line naming the flag.

#include "spliced/server/config.hpp"

#include <optional>

namespace spliced::cli {

struct parsed_flags {
    server::config cfg;
    std::optional<int> exit_code; // set when the process should exit now with this code
};

parsed_flags parse_flags(int argc, char** argv);

} // namespace spliced::cli
