// The request reader fed a byte stream the way a connection feeds it: whatever has arrived,
// again and again as more arrives, one pipelined request after another. Properties:
// - however the stream is cut into arrivals, the reader sees the same requests, consumes the same
//   bytes for each and ends in the same state (an error with the same status, or waiting for more
//   with the same bytes left over): TCP segmentation must never change what a request means;
// - `consumed` is within what was fed, and positive for a parsed request;
// - a parsed request's target is non-empty and its version is 1.0 or 1.1.
// Input: byte 0 picks the header limit and the cuts, the rest is the stream.

#include "fuzz_check.hpp"
#include "spliced/http/request_reader.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace {

using spliced::http::request_head;
using spliced::http::request_reader;

std::string describe(const request_head& h) {
    std::string out;
    auto add = [&out](std::string_view s) {
        out.append(std::to_string(s.size())).push_back(':');
        out.append(s);
    };
    auto add_optional = [&](const std::optional<std::string>& s) { s ? add(*s) : add("<none>"); };
    out.push_back(char('0' + int(h.method)));
    add(h.method_text);
    add(h.target);
    out.append(std::to_string(h.version)).push_back(h.keep_alive ? 'k' : 'c');
    for (const auto* field : {&h.range, &h.if_range, &h.if_match, &h.if_none_match,
                              &h.if_modified_since, &h.if_unmodified_since, &h.accept_encoding})
        add_optional(*field);
    add(h.referer);
    add(h.user_agent);
    return out;
}

// One line per request parsed, then one for how the stream ended.
std::vector<std::string> read_stream(std::string_view stream, std::size_t limit,
                                     const std::vector<std::size_t>& arrivals) {
    request_reader reader(limit);
    std::vector<std::string> seen;
    std::string received;
    std::size_t offset = 0;
    for (auto size : arrivals) {
        received.append(stream.substr(offset, size));
        offset += size;
        for (;;) {
            auto o = reader.feed(received);
            FUZZ_CHECK(o.consumed <= received.size());
            if (o.result == request_reader::state::need_more) {
                FUZZ_CHECK(o.consumed == 0);
                break;
            }
            if (o.result == request_reader::state::error) {
                seen.push_back("error " + std::to_string(int(o.error)));
                return seen;
            }
            const auto& head = reader.head();
            FUZZ_CHECK(o.consumed > 0);
            FUZZ_CHECK(!head.target.empty());
            FUZZ_CHECK(head.version == 10 || head.version == 11);
            seen.push_back(describe(head) + " consumed " + std::to_string(o.consumed));
            received.erase(0, o.consumed);
            reader.reset();
        }
    }
    FUZZ_CHECK(offset == stream.size());
    seen.push_back("waiting with " + received);
    return seen;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1)
        return 0;
    const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
    spliced::fuzz::choices pick(data[0]);
    const std::size_t limit = data[0] & 1 ? 8192 : pick.between(16, 512);

    const auto at_once = read_stream(stream, limit, {stream.size()});

    std::vector<std::size_t> arrivals;
    for (std::size_t left = stream.size(); left > 0;) {
        auto roll = pick.between(0, 9);
        std::size_t n = roll < 6 ? pick.between(1, 8) : roll < 9 ? pick.between(1, 64) : left;
        n = std::min(n, left);
        arrivals.push_back(n);
        left -= n;
    }
    FUZZ_CHECK(read_stream(stream, limit, arrivals) == at_once);

    if (stream.size() <= 128) { // a byte at a time, the hardest case for resumption
        std::vector<std::size_t> bytes(stream.size(), 1);
        FUZZ_CHECK(read_stream(stream, limit, bytes) == at_once);
    }
    return 0;
}
