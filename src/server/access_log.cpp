#include "access_log.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace spliced::server {

namespace {

// Like nginx: bytes outside printable ASCII, and '"' and '\', become \xHH, so a line is always
// one line and always parseable.
void append_escaped(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    for (unsigned char c : text) {
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            out.append("\\x");
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        } else {
            out.push_back(char(c));
        }
    }
}

void append_quoted(std::string& out, std::string_view text) {
    out.push_back('"');
    if (text.empty())
        out.push_back('-');
    else
        append_escaped(out, text);
    out.push_back('"');
}

void append_number(std::string& out, std::uint64_t v) {
    char digits[20];
    auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
    out.append(digits, std::size_t(end - digits));
}

} // namespace

std::string access_log::format_time(std::int64_t unix_seconds) {
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[40];
    std::snprintf(buf, sizeof buf, "[%02d/%s/%04d:%02d:%02d:%02d +0000]", tm.tm_mday,
                  months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

void access_log::record(const access_entry& e, std::string_view time_local) {
    if (!enabled())
        return;
    if (gathering_.size() > max_pending) {
        ++dropped_;
        return;
    }
    auto& out = gathering_;
    out.append(e.remote_addr.empty() ? std::string_view("-") : e.remote_addr);
    out.append(" - - ");
    out.append(time_local);
    out.append(" \"");
    append_escaped(out, e.method);
    out.push_back(' ');
    append_escaped(out, e.target);
    out.append(e.version >= 11 ? " HTTP/1.1\" " : " HTTP/1.0\" ");
    append_number(out, e.status);
    out.push_back(' ');
    append_number(out, e.body_bytes);
    out.push_back(' ');
    append_quoted(out, e.referer);
    out.push_back(' ');
    append_quoted(out, e.user_agent);
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, " %.3f ", e.seconds);
    out.append(seconds);
    append_quoted(out, e.range);
    out.append(e.completed ? " complete\n" : " aborted\n");
}

void access_log::flush() noexcept {
    if (!enabled() || write_op_.in_flight() || gathering_.empty())
        return;
    writing_.swap(gathering_);
    gathering_.clear();
    written_ = 0;
    // Offset -1: the file position (O_APPEND for files), also right for pipes and terminals.
    io_uring_prep_write(&write_op_.sqe(), fd_, writing_.data(),
                        static_cast<unsigned>(writing_.size()), static_cast<__u64>(-1));
    ring_->push(write_op_);
}

void access_log::on_written(int res, std::uint32_t) noexcept {
    if (res > 0 && written_ + std::size_t(res) < writing_.size()) {
        written_ += std::size_t(res); // short write: the rest goes next
        io_uring_prep_write(&write_op_.sqe(), fd_, writing_.data() + written_,
                            static_cast<unsigned>(writing_.size() - written_),
                            static_cast<__u64>(-1));
        ring_->push(write_op_);
        return;
    }
    if (res <
        0) // the rest of the batch is lost; the log goes on (disk full, EPIPE on a closed stdout)
        dropped_ += std::uint64_t(
            std::count(writing_.begin() + std::ptrdiff_t(written_), writing_.end(), '\n'));
    writing_.clear();
}

} // namespace spliced::server
