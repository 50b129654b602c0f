#pragma once
// What every transfer tier shares: how a body transfer ends and whom it tells. A tier moves one
// range of a file (fixed slot, offset, length) to a socket (DESIGN.md §4).
//
// Lifetime (DESIGN.md §11, src/server/README.md): a transfer counts its operations in flight and
// its place in a lease queue in its owner's callback_count (attach()). abandon() leaves the queue
// and starts nothing more; if an operation is still in flight, its completion ends the transfer
// with transfer_end::abandoned, the only callback a transfer makes after abandon().

#include <cstdint>

namespace spliced::server {

enum class transfer_end {
    complete,    // every byte was accepted by the socket
    client_gone, // the socket failed (reset, shut down, timed out)
    file_shrank, // end of file came early: a byte-exact prefix was sent
    refused,     // the file system cannot splice (EINVAL/ENOSYS) before any byte moved
    no_pipe,     // no pipe exists and none can be made (pipe2: EMFILE, ENFILE, ENOMEM): the rest
                 // of the range, from the transfer's position(), must take another tier
    failed,      // any other error
    abandoned,   // the owner closed: the last operation in flight has completed
};

// Where a transfer stands: the next file byte to send and how many are left.
struct transfer_position {
    std::uint64_t offset = 0;
    std::uint64_t remaining = 0;
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
