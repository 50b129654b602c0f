#pragma once
// What every transfer tier shares: how a body transfer ends and whom it tells. A tier moves one
// range of a file (fixed slot, offset, length) to a socket (DESIGN.md §4).

#include <cstdint>

namespace spliced::server {

enum class transfer_end {
    complete,    // every byte was accepted by the socket
    client_gone, // the socket failed (reset, shut down, timed out)
    file_shrank, // end of file came early: a byte-exact prefix was sent
    refused,     // the file system cannot splice (EINVAL/ENOSYS) before any byte moved
    failed,      // any other error
};

class transfer_client {
  public:
    virtual void transfer_progress(std::uint64_t bytes) noexcept = 0; // body bytes the socket took
    // Head bytes the socket took, when the tier sends the head with the body (the small tier).
    virtual void head_progress(std::uint64_t bytes) noexcept = 0;
    virtual void transfer_done(transfer_end end) noexcept = 0;

  protected:
    ~transfer_client() = default;
};

} // namespace spliced::server
