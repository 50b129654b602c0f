#include "spliced/client/output_file.hpp"

#include <cstdio>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace spliced::client {

namespace {
constexpr int lock_attempts = 40; // × 50 ms: 2 s for a killed run's ring to let go
constexpr useconds_t lock_retry_us = 50'000;
constexpr const char* etag_xattr = "user.spliced.etag";
} // namespace

result<output_file> output_file::open(const std::string& path, bool replace) {
    output_file out;
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    out.name_ = slash == std::string::npos ? path : path.substr(slash + 1);
    if (out.name_.empty() || out.name_ == "." || out.name_ == "..")
        return errno_code(EISDIR);
    out.part_name_ = out.name_ + ".part";
    out.state_name_ = out.part_name_ + ".state";
    out.replace_ = replace;
    out.dir_.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!out.dir_)
        return errno_code(errno);
    struct stat st {};
    if (::fstatat(out.dir_.get(), out.name_.c_str(), &st, 0) == 0) {
        if (S_ISDIR(st.st_mode))
            return errno_code(EISDIR);
        if (!replace)
            return errno_code(EEXIST);
    }
    out.part_.reset(
        ::openat(out.dir_.get(), out.part_name_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!out.part_)
        return errno_code(errno);
    // flock, not fcntl locks: it belongs to this open file description, and is dropped by the
    // kernel when the process dies however it dies (a SIGKILLed run leaves no stale lock). Not
    // at once, though: a killed run's ring still holds the file until the kernel has torn the
    // ring down in a work queue, a few milliseconds later — so a lock is retried for a moment
    // before it counts as held by a live process.
    for (int attempt = 0;; ++attempt) {
        if (::flock(out.part_.get(), LOCK_EX | LOCK_NB) == 0)
            return out;
        if (errno != EWOULDBLOCK)
            return errno_code(errno);
        if (attempt == lock_attempts)
            return errno_code(EWOULDBLOCK);
        ::usleep(lock_retry_us);
    }
}

result<std::uint64_t> output_file::length() const {
    struct stat st {};
    if (::fstat(part_.get(), &st) != 0)
        return errno_code(errno);
    return std::uint64_t(st.st_size);
}

result<void> output_file::reserve(std::uint64_t size) {
    if (::ftruncate(part_.get(), off_t(size)) != 0)
        return errno_code(errno);
    if (size == 0)
        return {};
    if (::fallocate(part_.get(), 0, 0, off_t(size)) != 0 && errno != EOPNOTSUPP)
        return errno_code(errno);
    return {};
}

result<void> output_file::clear() {
    if (::ftruncate(part_.get(), 0) != 0)
        return errno_code(errno);
    ::unlinkat(dir_.get(), state_name_.c_str(), 0);
    return {};
}

output_file::validators output_file::previous() const {
    validators v;
    unique_fd file(::openat(dir_.get(), name_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    struct stat st {};
    if (!file || ::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode))
        return v;
    v.modified = st.st_mtim.tv_sec;
    char etag[256];
    ssize_t n = ::fgetxattr(file.get(), etag_xattr, etag, sizeof etag);
    if (n > 0)
        v.etag.assign(etag, std::size_t(n));
    return v;
}

result<void> output_file::commit(const validators& v) {
    if (v.modified) {
        const timespec times[2] = {{0, UTIME_OMIT}, {*v.modified, 0}};
        ::futimens(part_.get(), times);
    }
    if (!v.etag.empty())
        ::fsetxattr(part_.get(), etag_xattr, v.etag.data(), v.etag.size(), 0);
    else
        ::fremovexattr(part_.get(), etag_xattr); // a FILE.part reused from another version
    if (::fsync(part_.get()) != 0)
        return errno_code(errno);
    unsigned flags = replace_ ? 0 : RENAME_NOREPLACE;
    if (::renameat2(dir_.get(), part_name_.c_str(), dir_.get(), name_.c_str(), flags) != 0)
        return errno_code(errno);
    if (::fsync(dir_.get()) != 0)
        return errno_code(errno);
    // After the rename: a crash before this line leaves a stale state file, which the next run
    // ignores because there is no FILE.part for it to describe.
    ::unlinkat(dir_.get(), state_name_.c_str(), 0);
    return {};
}

void output_file::discard() noexcept {
    ::unlinkat(dir_.get(), part_name_.c_str(), 0);
    ::unlinkat(dir_.get(), state_name_.c_str(), 0);
}

} // namespace spliced::client
