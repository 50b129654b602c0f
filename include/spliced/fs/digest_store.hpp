#pragma once
// Repr-Digest (RFC 9530) of served files, computed off the rings (DESIGN.md §14; `--digests`).
//
// A worker asks for the digest of the file version it is about to serve and gets a ticket, which
// its open-file cache entry keeps. One hashing thread fills tickets in order from a bounded
// queue; a worker reads a ticket with one acquire load, never waits for one, and serves without
// the field until it is ready.
//
// Never stale: a ticket belongs to exactly one version of one file — device, inode, size and
// mtime, what the ETag is made from — and the thread fills it only from a descriptor whose fstat
// shows that identity both before and after the bytes were read. A file replaced by rename or
// rewritten is another version: its cache entry, and so its ticket, is replaced.
//
// Survives restarts: a computed digest is stamped on the file in the xattr `user.spliced.sha256`
// together with the size and mtime it was computed for, and read back (no hashing) while both
// still match. Files whose xattrs cannot be written (read-only, another owner, no xattr support)
// are hashed again after a restart.
//
// Bounded: one thread, at nice 10 so that the workers keep the CPU; at most `queue_limit` files
// wait (a request beyond that gets no ticket, and the file is asked for again on a later
// response); a file is read once however many workers serve it.

#include "spliced/fs/file_identity.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace spliced::fs {

class digest_ticket {
  public:
    // "Repr-Digest: sha-256=:BASE64:\r\n" once the digest is known; empty until then, and for
    // good if the version could not be read (it changed or vanished before it was hashed).
    std::string_view field() const noexcept {
        return ready_.load(std::memory_order_acquire) ? std::string_view(field_)
                                                      : std::string_view();
    }

  private:
    friend class digest_store;
    std::atomic<bool> ready_{false};
    std::string field_; // written once by the hashing thread, before ready_
};

class digest_store {
  public:
    // `root_fd` (the served directory) must outlive the store. `test_gate`: while non-empty and
    // no file of that name exists, hashing waits (stamps are still read): tests use it to see a
    // response before its digest is ready.
    digest_store(int root_fd, std::size_t queue_limit, std::string test_gate = {});
    ~digest_store(); // stops the thread (a file being hashed is abandoned) and joins it
    digest_store(const digest_store&) = delete;
    digest_store& operator=(const digest_store&) = delete;

    // The ticket of the version `id` on device `dev`, found at `path` (normalized, relative to
    // the root); the same ticket for every caller while any holds it. nullptr when the queue is
    // full or memory ran out. Thread-safe; never does I/O.
    std::shared_ptr<const digest_ticket> request(std::string_view path, const file_identity& id,
                                                 std::uint64_t dev) noexcept;

    struct counts {
        std::uint64_t hashed = 0;  // read and hashed
        std::uint64_t stamped = 0; // taken from a matching xattr
        std::uint64_t failed = 0;  // gone, changed or unreadable before a digest was made
        std::uint64_t refused = 0; // the queue was full
        std::uint64_t hashed_bytes = 0;
    };
    counts totals() const noexcept;

  private:
    struct key {
        std::uint64_t dev, inode, size;
        std::int64_t mtime_sec;
        std::uint32_t mtime_nsec;
        bool operator==(const key&) const = default;
    };
    struct key_hash {
        std::size_t operator()(const key& k) const noexcept;
    };
    struct job {
        std::string path;
        key version;
        std::shared_ptr<digest_ticket> ticket;
    };

    void run() noexcept;
    void fill(const job& j) noexcept;
    bool gate_open() const noexcept;

    int root_fd_;
    std::size_t queue_limit_;
    std::string gate_;

    mutable std::mutex mutex_; // guards everything below it
    std::condition_variable wake_;
    std::deque<job> queue_;
    std::unordered_map<key, std::weak_ptr<digest_ticket>, key_hash> known_;
    std::size_t prune_at_ = 1024; // known_ drops expired tickets when it grows past this
    bool stopping_ = false;

    std::atomic<std::uint64_t> hashed_{0}, stamped_{0}, failed_{0}, refused_{0}, hashed_bytes_{0};
    std::atomic<bool> stop_now_{false}; // read by the hashing loop between chunks
    std::thread thread_;                // last: started once everything above exists
};

} // namespace spliced::fs
