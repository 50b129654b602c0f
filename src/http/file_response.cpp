#include "spliced/http/file_response.hpp"

#include "spliced/http/conditional.hpp"
#include "text.hpp"

#include <charconv>

namespace spliced::http {

namespace {

void append_number(std::string& out, std::uint64_t v) {
    char digits[20];
    auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
    out.append(digits, std::size_t(end - digits));
}

// "bytes first-last/size"
std::string content_range(const byte_range& r, std::uint64_t size) {
    std::string out = "bytes ";
    append_number(out, r.first);
    out.push_back('-');
    append_number(out, r.last);
    out.push_back('/');
    append_number(out, size);
    return out;
}

conditions conditions_of(const request_head& req) {
    conditions c;
    if (req.if_match)
        c.if_match = *req.if_match;
    if (req.if_none_match)
        c.if_none_match = *req.if_none_match;
    if (req.if_modified_since)
        c.if_modified_since = *req.if_modified_since;
    if (req.if_unmodified_since)
        c.if_unmodified_since = *req.if_unmodified_since;
    return c;
}

// RFC 9110 §14.6: each part has its own Content-Type and Content-Range; the body ends with the
// closing delimiter. The leading CRLF of each delimiter belongs to it (RFC 2046 §5.1.1).
void lay_out_multipart(file_response& r, const file_facts& file, std::string_view boundary) {
    r.boundary.assign(boundary);
    r.content_length = 0;
    for (const auto& range : r.ranges) {
        std::string piece = "\r\n--";
        piece.append(boundary);
        piece.append("\r\nContent-Type: ");
        piece.append(file.content_type);
        piece.append("\r\nContent-Range: ");
        piece.append(content_range(range, file.size));
        piece.append("\r\n\r\n");
        r.content_length += piece.size() + range.length();
        r.pieces.push_back(std::move(piece));
    }
    std::string tail = "\r\n--";
    tail.append(boundary);
    tail.append("--\r\n");
    r.content_length += tail.size();
    r.pieces.push_back(std::move(tail));
}

} // namespace

boundary_generator::boundary_generator() : rng_(std::random_device{}()) {}

std::string boundary_generator::next() {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(20, '0');
    std::uint64_t bits = rng_();
    for (std::size_t i = 0; i < 16; ++i, bits >>= 4)
        out[i] = hex[bits & 15];
    bits = rng_();
    for (std::size_t i = 16; i < 20; ++i, bits >>= 4)
        out[i] = hex[bits & 15];
    return out;
}

std::string content_disposition_attachment(std::string_view path) {
    auto name = path.substr(path.rfind('/') + 1);
    // RFC 8187 §3.2.1: attr-char is ALPHA / DIGIT / "!#$&+-.^_`|~".
    return "Content-Disposition: attachment; filename*=UTF-8''" +
           text::percent_encode(name, "!#$&+-.^_`|~") + "\r\n";
}

file_response plan_file_response(const request_head& req, const file_facts& file,
                                 unsigned max_ranges, std::string_view boundary) {
    file_response r;
    const validators v{file.etag, file.last_modified};
    switch (evaluate(conditions_of(req), v)) {
    case precondition::failed:
        r.code = status::precondition_failed;
        return r;
    case precondition::not_modified:
        r.code = status::not_modified;
        return r;
    case precondition::proceed:
        break;
    }
    const bool range_applies = req.range && (!req.if_range || if_range_allows(*req.if_range, v));
    auto plan = range_applies ? plan_ranges(*req.range, file.size, max_ranges) : range_plan{};
    switch (plan.decision) {
    case range_decision::unsatisfiable:
        r.code = status::range_not_satisfiable;
        return r;
    case range_decision::whole:
        if (file.size > 0)
            r.ranges.push_back({0, file.size - 1});
        r.content_length = file.size;
        return r;
    case range_decision::partial:
        break;
    }
    r.code = status::partial_content;
    r.ranges = std::move(plan.ranges);
    if (r.ranges.size() == 1)
        r.content_length = r.ranges.front().length();
    else
        lay_out_multipart(r, file, boundary);
    return r;
}

void write_file_head(response_head& out, const file_response& r, const file_facts& file,
                     std::string_view date, bool keep_alive, unsigned version,
                     std::string_view extra) {
    out.start(r.code, date);
    switch (r.code) {
    case status::not_modified:
        // RFC 9110 §15.4.5: the validators and caching fields a 200 would have, no content.
        out.field("ETag", file.etag);
        out.field("Last-Modified", file.last_modified_text);
        out.buffer().append(extra);
        out.finish(keep_alive, version);
        return;
    default:
        break;
    }
    if (r.pieces.empty()) {
        out.field("Content-Type", file.content_type);
        if (r.code == status::partial_content)
            out.field("Content-Range", content_range(r.ranges.front(), file.size));
    } else {
        std::string type = "multipart/byteranges; boundary=";
        type.append(r.boundary);
        out.field("Content-Type", type);
    }
    out.field("Content-Length", r.content_length);
    out.field("Last-Modified", file.last_modified_text);
    out.field("ETag", file.etag);
    out.field("Accept-Ranges", "bytes");
    out.buffer().append(extra);
    out.finish(keep_alive, version);
}

} // namespace spliced::http
