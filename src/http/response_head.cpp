#include "spliced/http/response_head.hpp"

#include <charconv>

namespace spliced::http {

void response_head::start(status s, std::string_view date) {
    text_.clear();
    char code_text[4];
    auto [end, ec] = std::to_chars(code_text, code_text + 4, code(s));
    (void)ec;
    text_.append("HTTP/1.1 ");
    text_.append(code_text, std::size_t(end - code_text));
    text_.push_back(' ');
    text_.append(reason_phrase(s));
    text_.append("\r\nServer: spliced\r\n");
    field("Date", date);
}

void response_head::field(std::string_view name, std::string_view value) {
    text_.append(name);
    text_.append(": ");
    text_.append(value);
    text_.append("\r\n");
}

void response_head::field(std::string_view name, std::uint64_t value) {
    char digits[20];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    (void)ec;
    field(name, std::string_view(digits, std::size_t(end - digits)));
}

void response_head::finish(bool keep_alive, unsigned request_version) {
    if (!keep_alive)
        text_.append("Connection: close\r\n");
    else if (request_version < 11)
        text_.append("Connection: keep-alive\r\n");
    text_.append("\r\n");
}

void write_simple_response(response_head& out, status s, std::string_view date, bool keep_alive,
                           unsigned request_version, std::string_view extra, bool with_body) {
    out.start(s, date);
    // "404 Not Found\n": enough for a human, nothing for an attacker to reflect.
    char code_text[4];
    auto [end, ec] = std::to_chars(code_text, code_text + 4, code(s));
    (void)ec;
    std::string_view code_view(code_text, std::size_t(end - code_text));
    auto reason = reason_phrase(s);
    out.field("Content-Type", "text/plain; charset=utf-8");
    out.field("Content-Length", std::uint64_t(code_view.size() + 1 + reason.size() + 1));
    out.buffer().append(extra);
    out.finish(keep_alive, request_version);
    if (with_body) {
        out.buffer().append(code_view);
        out.buffer().push_back(' ');
        out.buffer().append(reason);
        out.buffer().push_back('\n');
    }
}

} // namespace spliced::http
