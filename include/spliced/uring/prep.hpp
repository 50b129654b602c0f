#pragma once
// Typed SQE preparation for operations on registered (fixed) descriptors. A fixed descriptor is
// an index into the ring's file table, not a file descriptor; which operand is which decides the
// flags (IOSQE_FIXED_FILE for the SQE's fd, SPLICE_F_FD_IN_FIXED for splice's input), and getting
// one wrong names whatever descriptor happens to have that number. Callers say what they hold,
// and only these helpers set the flags.

#include <cstdint>
#include <liburing.h>

namespace spliced::uring {

// A slot of the ring's registered file table.
struct fixed_file {
    unsigned slot;
};

// READ_FIXED: `length` bytes at `offset` of `file` into registered buffer `buffer_index`.
inline void prep_read_fixed(io_uring_sqe& sqe, fixed_file file, void* into, unsigned length,
                            std::uint64_t offset, int buffer_index) noexcept {
    io_uring_prep_read_fixed(&sqe, static_cast<int>(file.slot), into, length, offset, buffer_index);
    sqe.flags |= IOSQE_FIXED_FILE;
}

// SPLICE from `in` at `offset` into `out` (a pipe's write end), both fixed.
inline void prep_splice(io_uring_sqe& sqe, fixed_file in, std::uint64_t offset, fixed_file out,
                        unsigned length) noexcept {
    io_uring_prep_splice(&sqe, static_cast<int>(in.slot), static_cast<std::int64_t>(offset),
                         static_cast<int>(out.slot), -1, length, SPLICE_F_FD_IN_FIXED);
    sqe.flags |= IOSQE_FIXED_FILE; // the SQE's own fd (fd_out) is fixed
}

// SPLICE from `in` (a pipe's read end, fixed) into the plain descriptor `out` (a socket).
inline void prep_splice(io_uring_sqe& sqe, fixed_file in, int out, unsigned length) noexcept {
    io_uring_prep_splice(&sqe, static_cast<int>(in.slot), -1, out, -1, length,
                         SPLICE_F_FD_IN_FIXED);
}

} // namespace spliced::uring
