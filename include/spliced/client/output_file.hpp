#pragma once
// Where a download's bytes go: FILE.part beside FILE, held under an exclusive lock for as long as
// this object lives, so that a second spliced-get on the same output cannot interleave its bytes.
// FILE appears only by commit(): FILE.part fsynced, renamed to FILE (refusing to replace an
// existing FILE unless asked), and the directory fsynced — a crash leaves either no FILE or a
// whole one, never a torn one.

#include "spliced/core/result.hpp"
#include "spliced/core/unique_fd.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace spliced::client {

class output_file {
  public:
    // Opens (creating if needed, never truncating) FILE.part for `path` = FILE. Errors:
    // EWOULDBLOCK when another process holds the lock (another spliced-get on this output) for
    // 2 s,
    // EEXIST when FILE exists and `replace` is false, EISDIR when `path` names a directory,
    // anything else from the file system.
    static result<output_file> open(const std::string& path, bool replace);

    int fd() const noexcept { return part_.get(); }
    int dir_fd() const noexcept { return dir_.get(); }
    const std::string& name() const noexcept { return name_; }             // FILE, in dir_fd
    const std::string& part_name() const noexcept { return part_name_; }   // FILE.part
    const std::string& state_name() const noexcept { return state_name_; } // FILE.part.state
    // Current length of FILE.part.
    result<std::uint64_t> length() const;

    // Makes FILE.part exactly `size` bytes with its blocks allocated (fallocate), so a full disk
    // fails here, before any body byte arrives (ENOSPC). On a file system without fallocate the
    // length is set and space is not reserved.
    result<void> reserve(std::uint64_t size);
    // Throws away what FILE.part holds (a restart after the server's file changed).
    result<void> clear();
    // What FILE's last download recorded of the origin's version (for --if-changed): the ETag
    // kept in FILE's xattr user.spliced.etag and FILE's mtime (which commit() set to the origin's
    // Last-Modified). Empty / nullopt when FILE is missing or has no such record.
    struct validators {
        std::string etag;
        std::optional<std::int64_t> modified; // Unix seconds
    };
    validators previous() const;

    // Records `v` on FILE.part (best effort: a file system without user xattrs keeps the mtime
    // only), then fsync, rename FILE.part to FILE, fsync the directory, remove the state file.
    // Afterwards the object owns nothing but the (renamed) descriptor.
    result<void> commit(const validators& v = {});
    // Removes FILE.part and its state file (a download that must not be kept).
    void discard() noexcept;

  private:
    output_file() = default;
    unique_fd dir_;
    unique_fd part_; // holds the flock
    std::string name_, part_name_, state_name_;
    bool replace_ = false;
};

} // namespace spliced::client
