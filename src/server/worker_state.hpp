#pragma once
// What one worker's connections share: its ring, its descriptor tables and pools, its metric
// shard, its clocks and timers. Single-threaded: only the worker's thread touches it.

#include "access_log.hpp"
#include "connection.hpp"
#include "exchange.hpp"
#include "leases.hpp"
#include "spliced/fs/digest_store.hpp"
#include "spliced/fs/open_file_cache.hpp"
#include "spliced/http/date.hpp"
#include "spliced/http/file_response.hpp"
#include "spliced/metrics/shard.hpp"
#include "spliced/server/config.hpp"
#include "spliced/server/deadline_list.hpp"
#include "spliced/server/worker.hpp"
#include "spliced/uring/pipe_pool.hpp"
#include "spliced/uring/provided_buffers.hpp"
#include "spliced/uring/ring.hpp"
#include "spliced/uring/slot_allocator.hpp"
#include "spliced/uring/slot_closer.hpp"

#include <boost/intrusive/list.hpp>
#include <malloc.h>
#include <string>
#include <vector>

namespace spliced::server {

// The ring's two registered-buffer pools (worker.cpp, register_buffers).
struct buffer_pools {
    uring::buffer_pool copy;  // --buffers of --buffer-size: the copy tier
    uring::buffer_pool small; // --buffers of config::small_buffer_size: the small tier
};

// Spare exchanges (exchange.hpp): a keep-alive connection going idle and busy again
// reuses one instead of allocating. Spares that stayed unused for a whole second are freed, so a
// burst does not keep its peak memory.
class exchange_pool {
  public:
    std::unique_ptr<exchange> take(worker_state& w) {
        if (spare_.empty())
            return std::make_unique<exchange>(w);
        auto x = std::move(spare_.back());
        spare_.pop_back();
        low_water_ = std::min(low_water_, spare_.size());
        return x;
    }
    void give(std::unique_ptr<exchange> x) noexcept {
        try {
            spare_.push_back(std::move(x));
        } catch (...) {
            // No room to keep it: it is freed instead.
        }
    }
    // Once a second: frees the spares no take() reached since the last call (the oldest ones).
    // After a burst, the freed memory is also handed back to the system, not kept by malloc.
    void trim() noexcept {
        const std::size_t unused = low_water_;
        spare_.erase(spare_.begin(), spare_.begin() + std::ptrdiff_t(unused));
        low_water_ = spare_.size();
        if (unused >= 256)
            ::malloc_trim(0);
    }

  private:
    std::vector<std::unique_ptr<exchange>> spare_;
    std::size_t low_water_ = 0; // fewest spares since the last trim()
};

using connection_deadlines = deadline_list<connection, &connection::timer_hook_,
                                           &connection::deadline_ns_, &connection::callbacks_>;

struct worker_state {
    worker_state(const config& c, uring::ring&& r, buffer_pools&& b, metrics::shard& s,
                 const shared_resources& shared) noexcept;

    const config& cfg;
    uring::ring ring;
    uring::slot_allocator slots;      // for files: the table minus the pipes' share
    uring::slot_allocator pipe_slots; // reserved for pipes, so open files can never starve them
    uring::slot_closer closer;
    fs::open_file_cache files; // its slots come from `slots` and go back through `closer`
    uring::pipe_pool pipes;
    pipe_broker broker;
    uring::buffer_pool buffers;       // copy tier
    uring::buffer_pool small_buffers; // small tier
    buffer_broker buffer_queue;
    buffer_broker small_queue;
    uring::provided_buffers recv_buffers; // disabled where the kernel has no buffer rings
    exchange_pool exchanges;
    metrics::shard& shard;
    int root_fd;
    std::string root_path;     // where root_fd is (fs::real_path), to see what symlinks lead to
    fs::digest_store* digests; // --digests off: nullptr

    std::uint64_t now_ns = 0;      // monotonic time of this loop turn
    std::int64_t date_second = -1; // the second `date` was formatted for
    http::http_date date{};
    std::string cache_headers; // ready-made Cache-Control/Expires lines for file responses
    std::string time_local;    // "[dd/Mon/yyyy:hh:mm:ss +0000]" for the access log

    connection_deadlines header_deadlines; // reading a request head
    connection_deadlines idle_deadlines;   // keep-alive, waiting for the next request
    connection_deadlines send_deadlines;   // waiting for the client to take bytes
    connection_deadlines linger_deadlines; // after a closing response, reading what is left
    access_log log;

    // Closed connections, freed once nothing may call them back (intrusive: closing allocates
    // nothing).
    boost::intrusive::list<
        connection,
        boost::intrusive::member_hook<connection, closing_hook, &connection::closing_hook_>,
        boost::intrusive::constant_time_size<false>>
        closing;
    bool retiring = false; // the drain is near: responses end their connection (Connection: close)
    bool draining = false; // listeners closed; connections end after their response in progress
    http::boundary_generator boundaries; // for multipart/byteranges

    void schedule_free(connection& c) noexcept { closing.push_back(c); }

    // Once per wall-clock second: the Date header, the cache headers and the log's time, and
    // spare exchanges that stayed unused go.
    void new_second(std::int64_t second) noexcept;

    // Done with a file from file_opener: a cached file loses a reference, anything else closes.
    void release(const opened_file& f) noexcept {
        if (f.entry)
            files.release(*f.entry);
        else
            closer.close(f.slot);
    }
};

} // namespace spliced::server
