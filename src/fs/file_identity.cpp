#include "spliced/fs/file_identity.hpp"

#include <charconv>
#include <linux/stat.h>

namespace spliced::fs {

file_identity identity_of(const struct statx& st) noexcept {
    return {st.stx_size, st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec, st.stx_ino};
}

etag make_etag(const file_identity& id) noexcept {
    etag out;
    char* p = out.text.data();
    char* end = p + out.text.size();
    *p++ = '"';
    p = std::to_chars(p, end, id.size, 16).ptr;
    *p++ = '-';
    auto mtime_ns = static_cast<std::uint64_t>(id.mtime_sec) * 1'000'000'000u + id.mtime_nsec;
    p = std::to_chars(p, end, mtime_ns, 16).ptr;
    *p++ = '"';
    out.length = std::size_t(p - out.text.data());
    return out;
}

std::string etag_for_coding(std::string_view tag, std::string_view coding) {
    std::string out(tag.substr(0, tag.size() - 1)); // without the closing quote
    out.push_back('-');
    out.append(coding);
    out.push_back('"');
    return out;
}

} // namespace spliced::fs
