#include "spliced/client/receive_path.hpp"

#include <linux/magic.h>
#include <sys/vfs.h>

namespace spliced::client {

receive_path resolve(receive_path wanted, int file_fd) noexcept {
    if (wanted != receive_path::automatic)
        return wanted;
    struct statfs fs {};
    if (::fstatfs(file_fd, &fs) != 0)
        return receive_path::plain;
    switch (static_cast<unsigned long>(fs.f_type)) {
    case EXT4_SUPER_MAGIC: // also ext2 and ext3
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case F2FS_SUPER_MAGIC:
    case TMPFS_MAGIC:
        return receive_path::splice;
    default:
        return receive_path::plain;
    }
}

const char* name(receive_path path) noexcept {
    switch (path) {
    case receive_path::automatic:
        return "auto";
    case receive_path::plain:
        return "plain";
    case receive_path::fixed:
        return "fixed";
    case receive_path::splice:
        return "splice";
    }
    return "?";
}

} // namespace spliced::client
