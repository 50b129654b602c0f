#include "spliced/fs/root.hpp"

#include <fcntl.h>

namespace spliced::fs {

result<unique_fd> open_root(const std::string& dir) {
    unique_fd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd)
        return errno_code(errno);
    return fd;
}

} // namespace spliced::fs
