#include "spliced/http/date.hpp"

#include <ctime>

namespace spliced::http {

http_date format_http_date(std::int64_t unix_seconds) noexcept {
    static constexpr char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    http_date out{};
    auto put2 = [&](std::size_t at, int v) {
        out[at] = char('0' + v / 10 % 10);
        out[at + 1] = char('0' + v % 10);
    };
    auto put3 = [&](std::size_t at, const char* s) {
        out[at] = s[0];
        out[at + 1] = s[1];
        out[at + 2] = s[2];
    };
    // "Www, DD Mmm YYYY HH:MM:SS GMT"
    put3(0, days[tm.tm_wday]);
    out[3] = ',';
    out[4] = ' ';
    put2(5, tm.tm_mday);
    out[7] = ' ';
    put3(8, months[tm.tm_mon]);
    out[11] = ' ';
    int year = tm.tm_year + 1900;
    put2(12, year / 100);
    put2(14, year % 100);
    out[16] = ' ';
    put2(17, tm.tm_hour);
    out[19] = ':';
    put2(20, tm.tm_min);
    out[22] = ':';
    put2(23, tm.tm_sec);
    put3(25, " GM");
    out[28] = 'T';
    return out;
}

} // namespace spliced::http
