#pragma once
// Resolving a request: its method and target become a regular file to serve (with the content
// coding of a precompressed sibling, when one is chosen) or a status to answer with (DESIGN.md §6).
//
//   method     GET and HEAD are served; OPTIONS is answered 204 with Allow; anything else 405
//   target     normalised beneath the root (http/path.hpp), 400 if it cannot be
//   open       through the worker's open-file cache (file_opener): errno → 403/404/...
//   directory  without a trailing slash: 301 to DIR/; with one: its --index file, else 404
//   siblings   with --precompressed and an Accept-Encoding, FILE.br (then the next coding) if the
//              client accepts it, it is a regular file and it is not older than FILE
//
// Lifetime: the resolver's operations are its opener's, counted in its owner's callback_count
// (attach). abandon() (the owner closes) releases what the resolver holds and answers nothing
// more; an open still in flight completes into nothing.

#include "file_opener.hpp"
#include "spliced/http/path.hpp"
#include "spliced/http/request_reader.hpp"
#include "spliced/http/status.hpp"

#include <optional>
#include <string_view>

namespace spliced::server {

class resolve_client {
  public:
    // A regular file to serve, in content coding `encoding` ("" for the file itself). The client
    // owns `file` from here on (worker_state::release).
    virtual void resolved(const opened_file& file, std::string_view encoding) noexcept = 0;
    // Nothing to serve: answer `s`, with the ready-made header lines `extra`.
    virtual void unresolved(http::status s, std::string_view extra) noexcept = 0;

  protected:
    ~resolve_client() = default;
};

class resolver final : private open_client {
  public:
    explicit resolver(worker_state& w) noexcept : w_(w), opener_(w, *this) {}
    ~resolver() { assert(!original_ && "a resolver freed holding a file"); }
    resolver(const resolver&) = delete;
    resolver& operator=(const resolver&) = delete;

    // Counts the resolver's operations in `owner` and answers `client`; only while idle.
    void attach(callback_count& owner, resolve_client& client) noexcept;
    // Resolves `head` (which must outlive the answer); the answer may come before this returns.
    void resolve(const http::request_head& head) noexcept;
    // The path being served (its type names the MIME type and the download's file name).
    const http::normalized_path& path() const noexcept { return path_; }
    // The owner closes: see the top of this file.
    void abandon() noexcept;
    bool busy() const noexcept { return opener_.busy(); }

  private:
    void file_opened(result<opened_file> file) noexcept override;
    bool signed_link_holds() noexcept;
    void open(std::string_view suffix = {}) noexcept;
    void directory_opened() noexcept;
    void try_next_sibling() noexcept;
    void sibling_opened(result<opened_file> sibling) noexcept;
    void give_up(http::status s) noexcept { client_->unresolved(s, {}); }

    worker_state& w_;
    resolve_client* client_ = nullptr;
    const http::request_head* head_ = nullptr; // of the request being resolved
    http::normalized_path path_;               // relative is what gets opened
    bool tried_index_ = false;
    bool abandoned_ = false;
    std::optional<opened_file> original_; // held open while its precompressed siblings are tried
    std::size_t next_encoding_ = 0;       // next entry of cfg.precompressed to try
    std::string location_;                // the Location line of a 301
    file_opener opener_;
};

} // namespace spliced::server
