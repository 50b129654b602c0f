// spliced-get: flags → options → one download (DESIGN.md "Layout"). Exit codes: README
// "spliced-get" and client/get_options.hpp.

#include "spliced/client/downloader.hpp"
#include "spliced/core/duration.hpp"
#include "spliced/core/size.hpp"

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <string>

namespace po = boost::program_options;
using namespace spliced;
using client::exit_code;

namespace {

[[noreturn]] void refuse(const std::string& what) {
    std::fprintf(stderr, "spliced-get: %s\n", what.c_str());
    std::exit(int(exit_code::usage));
}

std::chrono::milliseconds duration_flag(const po::variables_map& vm, const char* name) {
    auto text = vm[name].as<std::string>();
    auto d = parse_duration(text);
    if (!d || d->count() == 0)
        refuse(std::string("--") + name + ": '" + text +
               "' is not a duration (e.g. 500ms, 30s, 2m)");
    return *d;
}

std::string json_escape(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(char(c));
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out.append(buf);
        } else {
            out.push_back(char(c));
        }
    }
    return out;
}

void print_json(const client::get_options& o, const client::download_report& r) {
    std::string origins;
    for (const auto& m : r.origins)
        origins += std::string(origins.empty() ? "" : ", ") + "{\"url\": \"" + json_escape(m.url) +
                   "\", \"bytes\": " + std::to_string(m.bytes) +
                   ", \"dropped\": " + (m.dropped ? "true" : "false") + "}";
    std::printf("{\"url\": \"%s\", \"output\": \"%s\", \"size\": %llu, \"sha256\": \"%s\", "
                "\"etag\": \"%s\", \"integrity\": \"%s\", \"io\": \"%s\", \"bytes_fetched\": %llu, "
                "\"bytes_resumed\": %llu, \"retries\": %u, \"restarts\": %u, "
                "\"unchanged\": %s, \"origins\": [%s], \"seconds\": %.3f, \"exit_code\": %d, "
                "\"error\": \"%s\"}\n",
                json_escape(o.url_text).c_str(), json_escape(o.output).c_str(),
                (unsigned long long)r.size, r.sha256.c_str(), json_escape(r.etag).c_str(),
                r.integrity.c_str(), r.io.c_str(), (unsigned long long)r.bytes_fetched,
                (unsigned long long)r.bytes_resumed, r.retries, r.restarts,
                r.unchanged ? "true" : "false", origins.c_str(), r.seconds, int(r.code),
                json_escape(r.message).c_str());
}

client::get_options parse(int argc, char** argv) {
    po::options_description flags("spliced-get URL [-o FILE] [options]\n\n"
                                  "Downloads URL to FILE (default: the URL's last path segment) "
                                  "over several connections, resumably:\nbytes go to FILE.part, "
                                  "which becomes FILE only when whole and verified.\n\nOptions");
    // clang-format off
    flags.add_options()
        ("help,h", "this text")
        ("output,o", po::value<std::string>(), "where to save (FILE; FILE.part and FILE.part.state while downloading)")
        ("connections,n", po::value<unsigned>()->default_value(4), "connections on the file (1-64), spread over the origins")
        ("mirror", po::value<std::vector<std::string>>(), "another http:// URL serving the same file (same size and strong ETag, checked); repeatable. Pieces are spread over all origins; one that keeps failing or serves another version is dropped")
        ("piece-size", po::value<std::string>(), "bytes per piece (e.g. 4M; default: about 8 pieces per connection, 1M-64M)")
        ("retries", po::value<unsigned>()->default_value(5), "failed attempts in a row without progress before giving up")
        ("retry-max-time", po::value<std::string>()->default_value("60s"), "give up after this long without progress")
        ("connect-timeout", po::value<std::string>()->default_value("10s"), "for each connection attempt")
        ("stall-timeout", po::value<std::string>()->default_value("30s"), "a busy connection with no byte for this long is retried")
        ("io", po::value<std::string>()->default_value("auto"), "how body bytes reach FILE.part: fixed (registered buffers, read_fixed + write_fixed, O_DIRECT where the filesystem allows), splice (socket -> pipe -> file), plain (recv + write), or auto: fixed where O_DIRECT works (ext4, XFS), else splice (tmpfs, ...), else plain; see perf/clients")
        ("limit-rate", po::value<std::string>(), "at most RATE bytes/s over all connections (e.g. 500k, 20M)")
        ("on-change", po::value<std::string>()->default_value("restart"), "the file changed on the origin: restart (start over) or fail (exit 8)")
        ("require-resume", "exit 10 instead of refetching from 0 when the origin ignores Range")
        ("if-changed", "fetch only if the origin's file is not the one FILE was last downloaded as (its ETag, kept in FILE's xattr user.spliced.etag, else FILE's mtime, set to the origin's Last-Modified): exit 0 without a body when unchanged; replaces FILE when changed")
        ("checksum", po::value<std::string>(), "sha-256=HEX: verify the result (exit 9 and keep nothing on mismatch)")
        ("force,f", "replace FILE if it exists")
        ("quiet,q", "print nothing but errors")
        ("json", "print one JSON object describing the run on stdout");
    // clang-format on
    po::options_description hidden;
    hidden.add_options()("url", po::value<std::string>());
    po::options_description all;
    all.add(flags).add(hidden);
    po::positional_options_description positional;
    positional.add("url", 1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(),
                  vm);
        po::notify(vm);
    } catch (const po::error& e) {
        refuse(e.what());
    }
    if (vm.count("help")) {
        std::cout << flags
                  << "\nExit codes: 0 done, 1 other failure, 2 usage, 3 locked, 4 FILE "
                     "exists, 5 local I/O (disk full),\n6 network (retries exhausted), "
                     "7 HTTP error, 8 changed on the origin, 9 checksum mismatch,\n"
                     "10 origin ignores Range with --require-resume, 130 SIGINT, "
                     "143 SIGTERM (state saved: rerun to resume).\n";
        std::exit(0);
    }
    if (!vm.count("url"))
        refuse("a URL is needed (spliced-get --help)");
    client::get_options o;
    o.url_text = vm["url"].as<std::string>();
    auto url = http::parse_url(o.url_text);
    if (!url)
        refuse("'" + o.url_text + "': " +
               (url.error() == std::errc::protocol_not_supported
                    ? std::string("only http:// URLs are supported")
                    : std::string("not a valid URL (percent-encode spaces and non-ASCII bytes)")));
    o.url = *url;
    if (vm.count("mirror")) {
        for (const auto& text : vm["mirror"].as<std::vector<std::string>>()) {
            auto mirror = http::parse_url(text);
            if (!mirror)
                refuse("--mirror: '" + text + "' is not an http:// URL");
            o.mirrors.push_back(*mirror);
        }
    }
    if (vm.count("output")) {
        o.output = vm["output"].as<std::string>();
    } else if (auto name = http::file_name_for(o.url)) {
        o.output = *name;
    } else {
        refuse("cannot name the output after '" + o.url_text + "': give -o FILE");
    }
    o.connections = vm["connections"].as<unsigned>();
    if (o.connections < 1 || o.connections > 64)
        refuse("-n: " + std::to_string(o.connections) + " is not within 1-64");
    if (vm.count("piece-size")) {
        auto p = parse_size(vm["piece-size"].as<std::string>());
        if (!p || *p < 1)
            refuse("--piece-size: '" + vm["piece-size"].as<std::string>() + "' is not a size");
        o.piece_size = *p;
    }
    if (vm.count("limit-rate")) {
        auto r = parse_size(vm["limit-rate"].as<std::string>());
        if (!r || *r < 1024)
            refuse("--limit-rate: '" + vm["limit-rate"].as<std::string>() +
                   "' is not a rate of at least 1k bytes/s");
        o.limit_rate = *r;
    }
    auto io = vm["io"].as<std::string>();
    if (io == "auto")
        o.io = client::receive_path::automatic;
    else if (io == "plain")
        o.io = client::receive_path::plain;
    else if (io == "fixed")
        o.io = client::receive_path::fixed;
    else if (io == "splice")
        o.io = client::receive_path::splice;
    else
        refuse("--io: '" + io + "' is not auto, plain, fixed or splice");
    o.retries = vm["retries"].as<unsigned>();
    o.retry_max_time = duration_flag(vm, "retry-max-time");
    o.connect_timeout = duration_flag(vm, "connect-timeout");
    o.stall_timeout = duration_flag(vm, "stall-timeout");
    auto change = vm["on-change"].as<std::string>();
    if (change != "restart" && change != "fail")
        refuse("--on-change: '" + change + "' is not restart or fail");
    o.change = change == "fail" ? client::on_change::fail : client::on_change::restart;
    o.require_resume = vm.count("require-resume") > 0;
    o.if_changed = vm.count("if-changed") > 0;
    if (vm.count("checksum")) {
        auto text = vm["checksum"].as<std::string>();
        auto digest =
            text.starts_with("sha-256=") ? http::parse_hex_sha256(text.substr(8)) : std::nullopt;
        if (!digest)
            refuse("--checksum: '" + text + "' is not sha-256=<64 hex digits>");
        o.checksum = digest;
    }
    o.force = vm.count("force") > 0;
    o.quiet = vm.count("quiet") > 0;
    o.json = vm.count("json") > 0;
    return o;
}

} // namespace

int main(int argc, char** argv) {
    auto options = parse(argc, argv);
    client::download_report report;
    try {
        report = client::run_download(options);
    } catch (const std::exception& e) {
        report.code = exit_code::failure;
        report.message = e.what();
    }
    if (options.json)
        print_json(options, report);
    if (report.code != exit_code::ok && !report.message.empty())
        std::fprintf(stderr, "spliced-get: %s\n", report.message.c_str());
    return int(report.code);
}
