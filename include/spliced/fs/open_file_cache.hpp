#pragma once
// A worker's open-file cache (DESIGN.md §6): normalized path → an open file (its fixed-file slot),
// its identity and its ready-made ETag, Last-Modified and Content-Type. Bounded, least recently
// used first out. Entries are reference counted: whoever serves a file holds a reference, and a
// slot is handed back for closing only once its entry has left the cache *and* its last reference
// is released, so eviction never pulls a file from under a transfer.
//
// The cache knows nothing of rings: it owns slot numbers and gives them to `close_slot` when they
// are done. Single-threaded (one per worker).

#include "spliced/fs/file_identity.hpp"
#include "spliced/http/date.hpp"

#include <boost/intrusive/list.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace spliced::fs {

class digest_ticket;

// What HTTP says about one version of a file, made once when it is opened.
struct file_headers {
    file_identity id;
    etag tag;
    http::http_date modified;
    std::string_view mime; // static storage (http::mime_type_for)
};

file_headers headers_of(const struct statx& st, std::string_view path) noexcept;

// True when `st` (a fresh statx of the path) describes the version `cached` was made from: same
// device, inode, size and modification time. A file replaced by rename changes the inode; one
// rewritten in place changes size or mtime.
bool same_version(const file_identity& cached, std::uint64_t cached_dev,
                  const struct statx& st) noexcept;
std::uint64_t device_of(const struct statx& st) noexcept;

class open_file_cache {
  public:
    using close_fn = void (*)(void* context, unsigned slot) noexcept;

    struct entry {
        std::string path;
        unsigned slot = 0;
        std::uint64_t dev = 0;
        file_headers headers;
        std::uint64_t checked_ns = 0; // when the path was last confirmed to name this version
        unsigned refs = 0;
        // --digests: this version's Repr-Digest, asked for when first served (digest_store.hpp)
        std::shared_ptr<const digest_ticket> digest;
        bool cached = false; // false once evicted or invalidated: closed at the last release
        boost::intrusive::list_member_hook<> lru;
    };

    // `capacity` 0 disables caching: every entry is private to its one user.
    open_file_cache(std::size_t capacity, std::uint64_t valid_ns, close_fn close,
                    void* context) noexcept;
    ~open_file_cache();
    open_file_cache(const open_file_cache&) = delete;
    open_file_cache& operator=(const open_file_cache&) = delete;

    struct found {
        entry* file = nullptr; // referenced: release() it when done
        bool fresh = false;    // checked less than `valid_ns` ago; otherwise revalidate
    };
    found find(std::string_view path, std::uint64_t now_ns) noexcept;

    // A newly opened regular file; returns it referenced. Replaces any entry for the same path and
    // evicts the least recently used beyond capacity. Throws only std::bad_alloc.
    entry& insert(std::string_view path, unsigned slot, const struct statx& st,
                  std::uint64_t now_ns);

    // The path still names this version (a revalidating statx agreed).
    void confirm(entry& e, std::uint64_t now_ns) noexcept { e.checked_ns = now_ns; }
    // The path names something else now: no new lookup finds `e`.
    void invalidate(entry& e) noexcept;
    void release(entry& e) noexcept;

    // Evicts up to `n` unreferenced entries, oldest first (the fixed table is short of slots).
    std::size_t shed(std::size_t n) noexcept;

    std::size_t size() const noexcept { return index_.size(); }
    std::size_t capacity() const noexcept { return capacity_; }

  private:
    void drop(entry& e) noexcept;

    std::size_t capacity_;
    std::uint64_t valid_ns_;
    close_fn close_;
    void* context_;
    // Keys view their entry's `path`; entries are heap-allocated, so the views stay valid.
    std::unordered_map<std::string_view, entry*> index_;
    boost::intrusive::list<
        entry, boost::intrusive::member_hook<entry, boost::intrusive::list_member_hook<>,
                                             &entry::lru>>
        lru_; // most recently used first; holds exactly the entries in index_
};

} // namespace spliced::fs
