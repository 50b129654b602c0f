#include "spliced/server/server.hpp"

#include "listener.hpp"
#include "spliced/fs/digest_store.hpp"
#include "spliced/fs/root.hpp"
#include "spliced/metrics/exposition.hpp"
#include "spliced/server/control_plane.hpp"
#include "spliced/server/worker.hpp"

#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace spliced::server {

namespace {

// Files waiting for their digest; beyond this a file is asked for again on a later response.
constexpr std::size_t digest_queue_limit = 65536;

std::string url_host(const std::string& host) {
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// Blocks SIGINT/SIGTERM on the calling thread while alive, so threads started meanwhile inherit
// the block and signals reach the control plane's thread only.
class signal_block {
  public:
    signal_block() {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, &old_);
    }
    ~signal_block() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

  private:
    sigset_t old_;
};

} // namespace

namespace {

unique_fd open_access_log(const config& cfg) {
    unique_fd fd;
    if (cfg.access_log == "-") {
        fd.reset(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3));
    } else if (cfg.access_log != "off") {
        fd.reset(::open(cfg.access_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
        if (!fd)
            throw std::system_error(errno, std::generic_category(),
                                    "--access-log " + cfg.access_log);
    }
    return fd;
}

using worker_list = std::vector<std::unique_ptr<worker>>;

// What the control plane does to the workers, and what it reads from them at scrape time.
control_hooks hooks_for(worker_list& workers, metrics::scrape_info& info) {
    control_hooks hooks;
    hooks.render_metrics = [&workers, &info](double throughput) {
        std::vector<const metrics::shard*> shards;
        for (auto& w : workers)
            shards.push_back(&w->shard());
        info.send_throughput = throughput;
        std::vector<pid_t> tids;
        for (auto& w : workers)
            tids.push_back(w->tid());
        info.process = metrics::read_process_stats(tids);
        return metrics::render(shards, info);
    };
    hooks.sent_bytes = [&workers] {
        std::uint64_t total = 0;
        for (auto& w : workers)
            for (const auto& tier : w->shard().sent_bytes)
                total += tier.value();
        return total;
    };
    hooks.retire = [&workers] {
        for (auto& w : workers)
            w->retire();
    };
    hooks.drain = [&workers] {
        for (auto& w : workers)
            w->drain();
    };
    hooks.stop = [&workers] {
        for (auto& w : workers)
            w->stop();
    };
    hooks.finished = [&workers] {
        for (auto& w : workers)
            if (!w->finished())
                return false;
        return true;
    };
    return hooks;
}

metrics::scrape_info scrape_info_for(const config& cfg) {
    metrics::scrape_info info;
    info.queue_depth = cfg.queue_depth;
    info.cq_depth = cfg.cq_depth ? cfg.cq_depth : 4 * cfg.queue_depth;
    info.per_worker = cfg.metrics_per_worker;
    info.version = SPLICED_VERSION;
    info.liburing = SPLICED_LIBURING_VERSION;
    if (utsname u{}; ::uname(&u) == 0)
        info.kernel = u.release;
    return info;
}

// One worker per --threads, each with its share of every listener; a worker that cannot start
// (its ring, its pinned buffers) ends startup with what it was doing.
void start_workers(const config& cfg, const shared_resources& shared,
                   std::vector<bound_listeners>& listeners, worker_list& workers) {
    const std::uint64_t per_worker = (cfg.max_connections + cfg.threads - 1) / cfg.threads;
    signal_block block;
    for (unsigned i = 0; i < cfg.threads; ++i) {
        std::vector<unique_fd> mine;
        for (auto& l : listeners)
            mine.push_back(std::move(l.per_worker[i]));
        workers.push_back(std::make_unique<worker>(cfg, shared, std::move(mine), per_worker));
        if (auto started = workers.back()->start(i); !started) {
            const auto& w = *workers.back();
            std::string what =
                w.failure() + " (worker " + std::to_string(i) + "): " + started.error().message();
            if (!w.failure_hint().empty())
                what += ": " + w.failure_hint();
            throw std::runtime_error(what);
        }
    }
}

// Once, what the kernel granted: operators compare this with what they asked for.
void report_startup(const config& cfg, const metrics::scrape_info& info, const worker& first) {
    std::fprintf(
        stderr,
        "spliced: %u worker(s); per ring: setup %s, SQ %u, CQ %u, %u fixed files, "
        "%s %u + %u registered buffers of %zu + %zu bytes (%s), io-wq bound %u+%u, open-file "
        "cache %zu entries valid %lld ms, %u shared receive buffers of %zu bytes; transfer %s\n",
        cfg.threads, info.setup_flags.c_str(), info.queue_depth, info.cq_depth,
        cfg.registered_files, cfg.buffers_on_demand ? "up to" : "all", cfg.buffers, cfg.buffers,
        cfg.buffer_size, cfg.small_buffer_size,
        cfg.buffers_on_demand ? "pinned as demand grows" : "pinned at startup", cfg.iowq_workers,
        cfg.iowq_workers, first.open_file_cache_entries(),
        static_cast<long long>(cfg.open_file_cache_valid.count()), first.shared_recv_buffers(),
        cfg.recv_buffer_bytes(),
        cfg.transfer == transfer_mode::copy     ? "copy"
        : cfg.transfer == transfer_mode::splice ? "splice"
                                                : "auto");
}

} // namespace

int run(const config& cfg) {
    std::signal(SIGPIPE, SIG_IGN); // a peer's reset must never end the process

    auto root = fs::open_root(cfg.root);
    if (!root)
        throw std::system_error(root.error(), "--root " + cfg.root);
    unique_fd access_log_fd = open_access_log(cfg);
    std::vector<bound_listeners> listeners;
    for (const auto& where : cfg.listen)
        listeners.push_back(open_listeners(where, cfg.threads));

    // Declared before the workers: destroyed after they are joined.
    std::optional<fs::digest_store> digests;
    if (cfg.digests) {
        signal_block block; // its thread leaves SIGINT/SIGTERM to the control plane
        digests.emplace(root->get(), digest_queue_limit, cfg.test_digest_gate);
    }
    const shared_resources shared{root->get(), access_log_fd.get(), digests ? &*digests : nullptr};
    worker_list workers;
    metrics::scrape_info info = scrape_info_for(cfg);
    control_plane control(cfg, hooks_for(workers, info));
    start_workers(cfg, shared, listeners, workers);
    info.setup_flags = workers.front()->setup_mode();
    report_startup(cfg, info, *workers.front());

    for (auto& l : listeners)
        std::printf("listening on http://%s:%u\n", url_host(l.bound.host).c_str(), l.bound.port);
    if (auto m = control.metrics_endpoint())
        std::printf("metrics on http://%s:%u/metrics\n", url_host(m->host).c_str(), m->port);
    std::fflush(stdout);

    control.run();
    for (auto& w : workers)
        w->join();
    return 0;
}

std::uint64_t raise_fd_limit() noexcept {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return 1024;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &lim) != 0)
            ::getrlimit(RLIMIT_NOFILE, &lim);
    }
    return lim.rlim_cur;
}

} // namespace spliced::server
