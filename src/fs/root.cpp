#include "spliced/fs/root.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace spliced::fs {

result<unique_fd> open_root(const std::string& dir) {
    unique_fd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd)
        return errno_code(errno);
    return fd;
}

std::string real_path(int fd) {
    std::string link = "/proc/self/fd/" + std::to_string(fd);
    std::string out(4096, '\0');
    auto n = ::readlink(link.c_str(), out.data(), out.size());
    if (n <= 0 || std::size_t(n) >= out.size())
        return {};
    out.resize(std::size_t(n));
    return out;
}

bool hidden_below(std::string_view root, std::string_view path) noexcept {
    if (root.size() > 1 && root.back() == '/')
        root.remove_suffix(1);
    if (path.size() <= root.size() || path.substr(0, root.size()) != root ||
        (root != "/" && path[root.size()] != '/'))
        return false;
    auto rest = path.substr(root == "/" ? 1 : root.size() + 1);
    for (bool first = true; !rest.empty(); first = false) {
        auto slash = rest.find('/');
        auto segment = rest.substr(0, slash);
        if (!segment.empty() && segment.front() == '.' && !(first && segment == ".well-known"))
            return true;
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    }
    return false;
}

} // namespace spliced::fs
