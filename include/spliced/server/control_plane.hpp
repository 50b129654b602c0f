#pragma once
// The main thread's control plane (DESIGN.md §8): signals and drain, and a small HTTP server for
// GET /metrics, /healthz and /readyz. Asio and Beast stay inside control_plane.cpp.

#include "spliced/server/config.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace spliced::server {

struct control_hooks {
    // Prometheus text, given the send throughput (bytes/s over the last 10 s).
    std::function<std::string(double throughput)> render_metrics;
    std::function<std::uint64_t()> sent_bytes; // every byte the workers' sockets accepted so far
    std::function<void()> retire;              // tell every worker to end keep-alive
    std::function<void()> drain;               // tell every worker to drain
    std::function<void()> stop;                // tell every worker to stop now
    std::function<bool()> finished;            // every worker has exited
};

class control_plane {
  public:
    // Binds --metrics-listen (unless off); throws std::system_error if it cannot.
    control_plane(const config& cfg, control_hooks hooks);
    ~control_plane();

    // The bound metrics address (port 0 resolved), if the endpoint is on.
    std::optional<endpoint> metrics_endpoint() const;

    // Serves until the workers have finished: SIGTERM turns /readyz to 503 and, after
    // --drain-delay, starts a drain bounded by --drain-timeout (SIGINT drains at once); a second
    // signal stops at once.
    void run();

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace spliced::server
