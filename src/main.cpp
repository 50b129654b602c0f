// spliced: flags → config → server (DESIGN.md "Layout").

#include "flags.hpp"
#include "spliced/server/server.hpp"

#include <cstdio>
#include <exception>
#include <string_view>
#include <system_error>

int main(int argc, char** argv) {
    if (argc >= 2 && std::string_view(argv[1]) == "sign")
        return spliced::cli::sign_command(argc, argv);
    auto parsed = spliced::cli::parse_flags(argc, argv);
    if (parsed.exit_code)
        return *parsed.exit_code; // --help, --version, or a refused flag (already reported)
    try {
        return spliced::server::run(parsed.cfg);
    } catch (const std::system_error& e) {
        std::fprintf(stderr, "spliced: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "spliced: %s\n", e.what());
        return 1;
    }
}
