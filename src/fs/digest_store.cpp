#include "spliced/fs/digest_store.hpp"

#include "spliced/core/sha256.hpp"
#include "spliced/core/unique_fd.hpp"
#include "spliced/fs/root.hpp"
#include "spliced/http/repr_digest.hpp"

#include <cstdio>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace spliced::fs {

namespace {

constexpr const char* stamp_name = "user.spliced.sha256";

// "sha-256 <size> <mtime s>.<mtime ns, 9 digits> " — what a stamp must begin with to be
// believed for this version; the 64 hex digits of the digest follow.
std::string stamp_prefix(std::uint64_t size, std::int64_t sec, std::uint32_t nsec) {
    char text[80];
    int n = std::snprintf(text, sizeof text, "sha-256 %llu %lld.%09u ", (unsigned long long)size,
                          (long long)sec, nsec);
    return std::string(text, std::size_t(n));
}

} // namespace

std::size_t digest_store::key_hash::operator()(const key& k) const noexcept {
    std::uint64_t h = k.inode * 0x9e3779b97f4a7c15ull;
    h ^= k.dev + (h << 6) + (h >> 2);
    h ^= std::uint64_t(k.mtime_sec) * 31 + k.mtime_nsec + k.size;
    return std::size_t(h);
}

digest_store::digest_store(int root_fd, std::size_t queue_limit, std::string test_gate)
    : root_fd_(root_fd), queue_limit_(queue_limit), gate_(std::move(test_gate)),
      thread_([this] { run(); }) {}

digest_store::~digest_store() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    stop_now_.store(true);
    wake_.notify_all();
    thread_.join();
}

std::shared_ptr<const digest_ticket>
digest_store::request(std::string_view path, const file_identity& id, std::uint64_t dev) noexcept {
    key k{dev, id.inode, id.size, id.mtime_sec, id.mtime_nsec};
    try {
        std::lock_guard lock(mutex_);
        if (auto it = known_.find(k); it != known_.end())
            if (auto ticket = it->second.lock())
                return ticket;
        if (queue_.size() >= queue_limit_) {
            refused_.fetch_add(1, std::memory_order_relaxed);
            return nullptr;
        }
        if (known_.size() >= prune_at_) {
            std::erase_if(known_, [](const auto& e) { return e.second.expired(); });
            prune_at_ = std::max<std::size_t>(1024, 2 * known_.size());
        }
        auto ticket = std::make_shared<digest_ticket>();
        queue_.push_back(job{std::string(path), k, ticket});
        known_[k] = ticket;
        wake_.notify_one();
        return ticket;
    } catch (...) { // std::bad_alloc: served without the field
        return nullptr;
    }
}

digest_store::counts digest_store::totals() const noexcept {
    return {hashed_.load(), stamped_.load(), failed_.load(), refused_.load(), hashed_bytes_.load()};
}

bool digest_store::gate_open() const noexcept {
    return gate_.empty() || ::access(gate_.c_str(), F_OK) == 0;
}

void digest_store::run() noexcept {
    // The workers come first: this thread only uses CPU they leave.
    ::setpriority(PRIO_PROCESS, unsigned(::syscall(SYS_gettid)), 10);
    for (;;) {
        job next;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_)
                return;
            next = std::move(queue_.front());
            queue_.pop_front();
        }
        fill(next);
    }
}

void digest_store::fill(const job& j) noexcept {
    open_how how = file_open_how();
    unique_fd fd(int(::syscall(SYS_openat2, root_fd_, j.path.c_str(), &how, sizeof how)));
    struct stat st {};
    auto is_version = [&] {
        return ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) &&
               std::uint64_t(st.st_dev) == j.version.dev &&
               std::uint64_t(st.st_ino) == j.version.inode &&
               std::uint64_t(st.st_size) == j.version.size &&
               std::int64_t(st.st_mtim.tv_sec) == j.version.mtime_sec &&
               std::uint32_t(st.st_mtim.tv_nsec) == j.version.mtime_nsec;
    };
    if (!fd || !is_version()) {
        failed_.fetch_add(1, std::memory_order_relaxed);
        return; // gone or already another version: its new cache entry asks again
    }
    const auto prefix = stamp_prefix(j.version.size, j.version.mtime_sec, j.version.mtime_nsec);
    std::optional<sha256_digest> digest;
    char stamp[128];
    ssize_t n = ::fgetxattr(fd.get(), stamp_name, stamp, sizeof stamp);
    if (n > 0 && std::string_view(stamp, std::size_t(n)).starts_with(prefix))
        digest =
            http::parse_hex_sha256(std::string_view(stamp, std::size_t(n)).substr(prefix.size()));
    if (digest) {
        stamped_.fetch_add(1, std::memory_order_relaxed);
    } else {
        while (!gate_open() && !stop_now_.load())
            ::usleep(10'000); // test hook only (--test-digest-gate)
        ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
        try {
            sha256 h;
            if (!hash_file_range(h, fd.get(), 0, j.version.size, &stop_now_) || !is_version()) {
                failed_.fetch_add(1, std::memory_order_relaxed);
                return; // unreadable, cut short, stopped, or rewritten while it was read
            }
            digest = h.finish();
        } catch (...) {
            failed_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        hashed_.fetch_add(1, std::memory_order_relaxed);
        hashed_bytes_.fetch_add(j.version.size, std::memory_order_relaxed);
        // Best effort: without the stamp the file is only hashed again after a restart. Setting
        // an xattr moves ctime, not mtime: the version (and its ETag) stays the same.
        auto value = prefix + http::to_hex(*digest);
        ::fsetxattr(fd.get(), stamp_name, value.data(), value.size(), 0);
    }
    try {
        j.ticket->field_ = "Repr-Digest: " + http::format_repr_digest(*digest) + "\r\n";
    } catch (...) {
        failed_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    j.ticket->ready_.store(true, std::memory_order_release);
}

} // namespace spliced::fs
