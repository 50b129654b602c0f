#include "spliced/client/receive_path.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

namespace spliced::client {

std::size_t direct_alignment(int file_fd) noexcept {
    constexpr std::size_t page = 4096;
    struct statx st {};
    if (::statx(file_fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &st) != 0 ||
        !(st.stx_mask & STATX_DIOALIGN) || st.stx_dio_offset_align == 0 ||
        st.stx_dio_mem_align == 0 || st.stx_dio_offset_align > page || st.stx_dio_mem_align > page)
        return 0;
    return page;
}

receive_path resolve(receive_path wanted, int file_fd) noexcept {
    if (wanted != receive_path::automatic)
        return wanted;
    return direct_alignment(file_fd) != 0 ? receive_path::fixed : resolve_unregistered(file_fd);
}

receive_path resolve_unregistered(int file_fd) noexcept {
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
