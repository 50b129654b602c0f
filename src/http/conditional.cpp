#include "spliced/http/conditional.hpp"

#include "text.hpp"

#include <array>
#include <ctime>

namespace spliced::http {

namespace {

std::optional<int> number(std::string_view s) noexcept {
    if (s.empty() || s.size() > 4)
        return std::nullopt;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

std::optional<int> month_index(std::string_view m) noexcept {
    static constexpr std::array<std::string_view, 12> months = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (std::size_t i = 0; i < months.size(); ++i)
        if (months[i] == m)
            return int(i);
    return std::nullopt;
}

// "HH:MM:SS"
bool parse_clock(std::string_view s, std::tm& tm) noexcept {
    if (s.size() != 8 || s[2] != ':' || s[5] != ':')
        return false;
    auto h = number(s.substr(0, 2)), m = number(s.substr(3, 2)), sec = number(s.substr(6, 2));
    if (!h || !m || !sec || *h > 23 || *m > 59 || *sec > 60)
        return false;
    tm.tm_hour = *h;
    tm.tm_min = *m;
    tm.tm_sec = *sec;
    return true;
}

std::optional<std::int64_t> finish(std::tm& tm, int day, int month, int year) noexcept {
    if (day < 1 || day > 31 || year < 1900)
        return std::nullopt;
    tm.tm_mday = day;
    tm.tm_mon = month;
    tm.tm_year = year - 1900;
    tm.tm_isdst = 0;
    return std::int64_t(::timegm(&tm));
}

// Splits on single spaces into at most N fields.
template <std::size_t N>
std::size_t split(std::string_view s, std::array<std::string_view, N>& out) noexcept {
    std::size_t n = 0;
    while (!s.empty() && n < N) {
        auto sp = s.find(' ');
        out[n++] = s.substr(0, sp);
        if (sp == std::string_view::npos)
            return n;
        s.remove_prefix(sp + 1);
    }
    return s.empty() ? n : N + 1;
}

// One entity-tag at the front of `s`: returns the tag (with W/ if present), advances `s`.
std::optional<std::string_view> take_etag(std::string_view& s) noexcept {
    std::size_t start = 0;
    if (s.substr(0, 2) == "W/")
        start = 2;
    if (s.size() <= start || s[start] != '"')
        return std::nullopt;
    auto close = s.find('"', start + 1);
    if (close == std::string_view::npos)
        return std::nullopt;
    for (std::size_t i = start + 1; i < close; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x21 || c == 0x7f) // etagc = %x21 / %x23-7E / obs-text
            return std::nullopt;
    }
    auto tag = s.substr(0, close + 1);
    s.remove_prefix(close + 1);
    return tag;
}

bool is_weak(std::string_view tag) noexcept {
    return tag.substr(0, 2) == "W/";
}
std::string_view opaque(std::string_view tag) noexcept {
    return is_weak(tag) ? tag.substr(2) : tag;
}

} // namespace

std::optional<std::int64_t> parse_http_date(std::string_view text) noexcept {
    std::tm tm{};
    std::array<std::string_view, 6> f;
    auto n = split(text, f);
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    if (n == 6 && f[0].size() == 4 && f[0][3] == ',' && f[5] == "GMT" && f[1].size() == 2 &&
        f[3].size() == 4) {
        auto day = number(f[1]), year = number(f[3]);
        auto month = month_index(f[2]);
        if (day && year && month && parse_clock(f[4], tm))
            return finish(tm, *day, *month, *year);
        return std::nullopt;
    }
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years: 70-99 → 19xx, else 20xx)
    if (n == 4 && !f[0].empty() && f[0].back() == ',' && f[3] == "GMT" && f[1].size() == 9 &&
        f[1][2] == '-' && f[1][6] == '-') {
        auto day = number(f[1].substr(0, 2)), yy = number(f[1].substr(7, 2));
        auto month = month_index(f[1].substr(3, 3));
        if (day && yy && month && parse_clock(f[2], tm))
            return finish(tm, *day, *month, *yy + (*yy >= 70 ? 1900 : 2000));
        return std::nullopt;
    }
    // asctime: "Sun Nov  6 08:49:37 1994" (day padded with a space)
    std::string_view s = text;
    if (s.size() == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ') {
        auto month = month_index(s.substr(4, 3));
        auto day_text = s.substr(8, 2);
        if (day_text[0] == ' ')
            day_text.remove_prefix(1);
        auto day = number(day_text), year = number(s.substr(20, 4));
        if (month && day && year && parse_clock(s.substr(11, 8), tm))
            return finish(tm, *day, *month, *year);
    }
    return std::nullopt;
}

bool etag_list_matches(std::string_view header, std::string_view etag, bool strong) noexcept {
    std::string_view s = text::trim_ows(header);
    if (s == "*")
        return true;
    bool matched = false;
    while (!s.empty()) {
        while (!s.empty() && (text::is_ows(s.front()) || s.front() == ','))
            s.remove_prefix(1);
        if (s.empty())
            break;
        auto tag = take_etag(s);
        if (!tag)
            return false; // malformed: the whole field is unusable
        if (strong ? (!is_weak(*tag) && !is_weak(etag) && *tag == etag)
                   : opaque(*tag) == opaque(etag))
            matched = true;
        while (!s.empty() && text::is_ows(s.front()))
            s.remove_prefix(1);
        if (!s.empty() && s.front() != ',')
            return false;
    }
    return matched;
}

namespace {

// q-value of one list element "coding;q=0.5" (1 when absent; 0 when malformed, to be safe).
bool q_is_positive(std::string_view params) noexcept {
    while (!params.empty()) {
        auto semi = params.find(';');
        auto param = text::trim_ows(params.substr(0, semi));
        if (param.size() >= 2 && (param[0] | 0x20) == 'q' && param[1] == '=') {
            auto q = param.substr(2);
            // "0", "0.", "0.0", "0.00", "0.000" mean zero; anything else starting 0-1 is positive.
            if (q.empty())
                return false;
            if (q[0] == '1')
                return true;
            if (q[0] != '0')
                return false;
            return q.find_first_not_of("0.", 1) != std::string_view::npos;
        }
        params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    }
    return true;
}

} // namespace

bool accepts_encoding(std::string_view header, std::string_view coding) noexcept {
    bool listed = false, allowed = false, star = false;
    while (!header.empty()) {
        auto comma = header.find(',');
        auto element = text::trim_ows(header.substr(0, comma));
        header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
        auto semi = element.find(';');
        auto name = text::trim_ows(element.substr(0, semi));
        bool positive =
            q_is_positive(semi == std::string_view::npos ? "" : element.substr(semi + 1));
        if (text::iequals(name, coding)) {
            listed = true;
            allowed = positive;
        } else if (name == "*") {
            star = positive;
        }
    }
    return listed ? allowed : star;
}

precondition evaluate(const conditions& c, const validators& v) noexcept {
    if (c.if_match) {
        if (!etag_list_matches(*c.if_match, v.etag, /*strong=*/true))
            return precondition::failed;
    } else if (c.if_unmodified_since) {
        if (auto date = parse_http_date(*c.if_unmodified_since); date && v.last_modified > *date)
            return precondition::failed;
    }
    if (c.if_none_match) {
        if (etag_list_matches(*c.if_none_match, v.etag, /*strong=*/false))
            return precondition::not_modified; // GET and HEAD only: the only methods served
    } else if (c.if_modified_since) {
        if (auto date = parse_http_date(*c.if_modified_since); date && v.last_modified <= *date)
            return precondition::not_modified;
    }
    return precondition::proceed;
}

bool if_range_allows(std::string_view if_range, const validators& v) noexcept {
    if_range = text::trim_ows(if_range);
    if (!if_range.empty() && (if_range.front() == '"' || if_range.substr(0, 2) == "W/"))
        return !is_weak(if_range) && if_range == v.etag;
    auto date = parse_http_date(if_range);
    return date && *date == v.last_modified;
}

} // namespace spliced::http
