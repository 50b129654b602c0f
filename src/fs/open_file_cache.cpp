#include "spliced/fs/open_file_cache.hpp"

#include "spliced/http/mime.hpp"

#include <linux/stat.h>
#include <sys/sysmacros.h>

namespace spliced::fs {

file_headers headers_of(const struct statx& st, std::string_view path) noexcept {
    file_headers h;
    h.id = identity_of(st);
    h.tag = make_etag(h.id);
    h.modified = last_modified(h.id);
    h.mime = http::mime_type_for(path);
    return h;
}

std::uint64_t device_of(const struct statx& st) noexcept {
    return makedev(st.stx_dev_major, st.stx_dev_minor);
}

bool same_version(const file_identity& cached, std::uint64_t cached_dev,
                  const struct statx& st) noexcept {
    const auto now = identity_of(st);
    return device_of(st) == cached_dev && now.inode == cached.inode && now.size == cached.size &&
           now.mtime_sec == cached.mtime_sec && now.mtime_nsec == cached.mtime_nsec;
}

open_file_cache::open_file_cache(std::size_t capacity, std::uint64_t valid_ns, close_fn close,
                                 void* context) noexcept
    : capacity_(capacity), valid_ns_(valid_ns), close_(close), context_(context) {}

open_file_cache::~open_file_cache() {
    // Whatever is still cached dies with the ring's fixed table; only the memory is ours.
    lru_.clear_and_dispose([](entry* e) { delete e; });
}

open_file_cache::found open_file_cache::find(std::string_view path, std::uint64_t now_ns) noexcept {
    auto it = index_.find(path);
    if (it == index_.end())
        return {};
    entry& e = *it->second;
    lru_.erase(lru_.iterator_to(e));
    lru_.push_front(e);
    ++e.refs;
    return {&e, now_ns - e.checked_ns < valid_ns_};
}

open_file_cache::entry& open_file_cache::insert(std::string_view path, unsigned slot,
                                                const struct statx& st, std::uint64_t now_ns) {
    auto owned = std::make_unique<entry>();
    owned->path.assign(path);
    owned->slot = slot;
    owned->dev = device_of(st);
    owned->headers = headers_of(st, path);
    owned->checked_ns = now_ns;
    owned->refs = 1;
    if (capacity_ == 0)
        return *owned.release(); // private: closed at its only release

    if (auto it = index_.find(path); it != index_.end())
        invalidate(*it->second);       // a concurrent miss on the same path opened it first
    index_.reserve(index_.size() + 1); // the only step that can throw: before anything changes
    entry& e = *owned.release();
    e.cached = true;
    index_.emplace(std::string_view(e.path), &e);
    lru_.push_front(e);
    while (index_.size() > capacity_)
        invalidate(lru_.back());
    return e;
}

void open_file_cache::invalidate(entry& e) noexcept {
    if (!e.cached)
        return;
    e.cached = false;
    index_.erase(std::string_view(e.path));
    lru_.erase(lru_.iterator_to(e));
    if (e.refs == 0)
        drop(e);
}

void open_file_cache::release(entry& e) noexcept {
    if (--e.refs == 0 && !e.cached)
        drop(e);
}

std::size_t open_file_cache::shed(std::size_t n) noexcept {
    std::size_t shed = 0;
    for (auto it = lru_.end(); shed < n && it != lru_.begin();) {
        entry& e = *--it;
        if (e.refs != 0)
            continue;
        ++it; // the entry after e stays valid while e leaves; the next turn steps back past it
        invalidate(e);
        ++shed;
    }
    return shed;
}

void open_file_cache::drop(entry& e) noexcept {
    close_(context_, e.slot);
    delete &e;
}

} // namespace spliced::fs
