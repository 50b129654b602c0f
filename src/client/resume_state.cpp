#include "spliced/client/resume_state.hpp"

#include "spliced/core/unique_fd.hpp"

#include <charconv>
#include <fcntl.h>
#include <map>
#include <unistd.h>

namespace spliced::client {

namespace {

constexpr std::string_view version_line = "spliced-get-state 1";

bool one_line(std::string_view value) noexcept {
    return value.find_first_of("\r\n") == std::string_view::npos;
}

std::optional<std::uint64_t> number(std::string_view text) noexcept {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return v;
}

std::optional<http::byte_range> range(std::string_view text) noexcept {
    auto dash = text.find('-');
    if (dash == std::string_view::npos)
        return std::nullopt;
    auto first = number(text.substr(0, dash));
    auto last = number(text.substr(dash + 1));
    if (!first || !last || *last < *first)
        return std::nullopt;
    return http::byte_range{*first, *last};
}

result<void> write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_code(errno);
        bytes.remove_prefix(std::size_t(n));
    }
    return {};
}

} // namespace

result<std::string> to_text(const resume_state& s) {
    if (!one_line(s.url) || !one_line(s.etag) || !one_line(s.last_modified))
        return errno_code(EINVAL);
    std::string out(version_line);
    out += "\nurl " + s.url;
    out += "\nsize " + std::to_string(s.size);
    out += "\netag " + s.etag;
    out += "\nlast-modified " + s.last_modified;
    out += "\npiece-size " + std::to_string(s.piece_size);
    for (const auto& r : s.present)
        out += "\npresent " + std::to_string(r.first) + "-" + std::to_string(r.last);
    out += "\n";
    return out;
}

result<resume_state> parse_resume_state(std::string_view text) {
    auto bad = [] { return errno_code(EINVAL); };
    auto eol = text.find('\n');
    if (eol == std::string_view::npos || text.substr(0, eol) != version_line)
        return bad();
    text.remove_prefix(eol + 1);
    std::map<std::string_view, std::string_view> single;
    std::vector<http::byte_range> present;
    while (!text.empty()) {
        eol = text.find('\n');
        if (eol == std::string_view::npos)
            return bad(); // a torn last line: the rename makes this impossible, so distrust it
        auto line = text.substr(0, eol);
        text.remove_prefix(eol + 1);
        auto space = line.find(' ');
        if (space == std::string_view::npos)
            return bad();
        auto key = line.substr(0, space), value = line.substr(space + 1);
        if (key == "present") {
            auto r = range(value);
            if (!r || (!present.empty() && r->first <= present.back().last + 1))
                return bad(); // out of order, overlapping, or adjacent (never written so)
            present.push_back(*r);
        } else if (!single.emplace(key, value).second) {
            return bad();
        }
    }
    resume_state s;
    for (auto key : {"url", "size", "etag", "last-modified", "piece-size"})
        if (!single.count(key))
            return bad();
    if (single.size() != 5)
        return bad(); // a key this version does not know
    auto size = number(single["size"]);
    auto piece_size = number(single["piece-size"]);
    if (!size || !piece_size || *piece_size == 0 || single["url"].empty())
        return bad();
    if (!present.empty() && present.back().last >= *size)
        return bad();
    s.url = single["url"];
    s.size = *size;
    s.etag = single["etag"];
    s.last_modified = single["last-modified"];
    s.piece_size = *piece_size;
    s.present = std::move(present);
    return s;
}

result<void> save_resume_state(int part_fd, int dir_fd, const std::string& name,
                               const resume_state& state) {
    auto text = to_text(state);
    if (!text)
        return text.error();
    if (::fdatasync(part_fd) != 0) // the bytes first: the state may only describe durable data
        return errno_code(errno);
    const std::string tmp = name + ".tmp";
    unique_fd fd(::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd)
        return errno_code(errno);
    if (auto written = write_all(fd.get(), *text); !written) {
        ::unlinkat(dir_fd, tmp.c_str(), 0);
        return written.error();
    }
    if (::fsync(fd.get()) != 0 || ::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
        int err = errno;
        ::unlinkat(dir_fd, tmp.c_str(), 0);
        return errno_code(err);
    }
    if (::fsync(dir_fd) != 0)
        return errno_code(errno);
    return {};
}

result<std::optional<resume_state>> load_resume_state(int dir_fd, const std::string& name) {
    unique_fd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT)
            return std::optional<resume_state>();
        return errno_code(errno);
    }
    std::string text;
    char chunk[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_code(errno);
        if (n == 0)
            break;
        text.append(chunk, std::size_t(n));
        if (text.size() > (64u << 20))
            return errno_code(EFBIG); // no state file of ours is this large
    }
    auto state = parse_resume_state(text);
    if (!state)
        return state.error();
    return std::optional<resume_state>(std::move(*state));
}

} // namespace spliced::client
