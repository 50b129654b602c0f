#include "spliced/server/control_plane.hpp"

#include "spliced/core/clock.hpp"
#include "spliced/metrics/exposition.hpp"
#include "spliced/metrics/throughput.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace spliced::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

// One scrape connection. The control plane is off the data path and handles a handful of
// clients, so shared ownership through the async chain is the plain choice here.
class metrics_session : public std::enable_shared_from_this<metrics_session> {
  public:
    metrics_session(tcp::socket socket, const control_hooks& hooks, const bool& draining,
                    const metrics::throughput_window& throughput)
        : stream_(std::move(socket)), hooks_(hooks), draining_(draining), throughput_(throughput) {}

    void start() { read(); }

  private:
    void read() {
        request_ = {};
        stream_.expires_after(std::chrono::seconds(30));
        bhttp::async_read(stream_, buffer_, request_,
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (!ec)
                                  self->respond();
                          });
    }

    void respond() {
        auto& res = response_;
        res = {};
        res.version(request_.version());
        res.keep_alive(request_.keep_alive());
        res.set(bhttp::field::server, "spliced");
        res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
        auto target = request_.target();
        bool get = request_.method() == bhttp::verb::get || request_.method() == bhttp::verb::head;
        if (!get) {
            res.result(bhttp::status::method_not_allowed);
            res.set(bhttp::field::allow, "GET, HEAD");
            res.body() = "405 Method Not Allowed\n";
        } else if (target == "/metrics") {
            res.result(bhttp::status::ok);
            res.set(bhttp::field::content_type, metrics::content_type);
            res.body() = hooks_.render_metrics(throughput_.bytes_per_second());
        } else if (target == "/healthz" || target == "/readyz") {
            res.result(draining_ ? bhttp::status::service_unavailable : bhttp::status::ok);
            res.body() = draining_ ? "draining\n" : "ok\n";
        } else {
            res.result(bhttp::status::not_found);
            res.body() = "404 Not Found\n";
        }
        res.prepare_payload(); // this server owns its bodies
        if (request_.method() == bhttp::verb::head)
            res.body().clear();
        bhttp::async_write(stream_, res,
                           [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               if (!ec && self->response_.keep_alive())
                                   self->read();
                           });
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_{8192};
    bhttp::request<bhttp::string_body> request_;
    bhttp::response<bhttp::string_body> response_;
    const control_hooks& hooks_;
    const bool& draining_;
    const metrics::throughput_window& throughput_;
};

} // namespace

struct control_plane::impl {
    impl(const config& c, control_hooks h)
        : cfg(c), hooks(std::move(h)), signals(io, SIGINT, SIGTERM), poll_timer(io),
          drain_timer(io), stop_timer(io), throughput_timer(io) {
        if (cfg.metrics_listen)
            bind_metrics(*cfg.metrics_listen);
    }

    // Throws std::system_error "--metrics-listen HOST:PORT: <reason>" when it cannot bind.
    void bind_metrics(const endpoint& where) {
        const std::string what =
            "--metrics-listen " + where.host + ":" + std::to_string(where.port);
        beast::error_code ec;
        auto address = asio::ip::make_address(where.host, ec);
        if (ec)
            throw std::system_error(std::error_code(ec), what);
        tcp::endpoint ep(address, where.port);
        acceptor.emplace(io);
        if (acceptor->open(ep.protocol(), ec); !ec)
            acceptor->set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec)
            acceptor->bind(ep, ec);
        if (!ec)
            acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec)
            throw std::system_error(std::error_code(ec), what);
    }

    void accept() {
        acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
            if (ec)
                return; // the acceptor was closed
            std::make_shared<metrics_session>(std::move(socket), hooks, draining, throughput)
                ->start();
            accept();
        });
    }

    // SIGTERM: /readyz and /healthz answer 503 at once, while the listeners go on accepting for
    // --drain-delay (closing an SO_REUSEPORT listener resets the connections in its accept queue,
    // so it closes only once the load balancer has stopped sending); then the drain. SIGINT, an
    // operator at a terminal, skips the delay. A second signal stops at once.
    void wait_signal() {
        signals.async_wait([this](beast::error_code ec, int signal) {
            if (ec)
                return;
            if (draining) {
                stop_workers();
                return;
            }
            draining = true;
            hooks.retire();
            if (signal == SIGTERM && cfg.drain_delay.count() > 0) {
                std::fprintf(stderr,
                             "spliced: SIGTERM: /readyz is 503; accepting for %lld ms more "
                             "(--drain-delay), then draining\n",
                             static_cast<long long>(cfg.drain_delay.count()));
                drain_timer.expires_after(cfg.drain_delay);
                drain_timer.async_wait([this](beast::error_code e) {
                    if (!e)
                        drain();
                });
            } else {
                drain();
            }
            wait_signal();
        });
    }

    // Listeners close; responses in flight get --drain-timeout.
    void drain() {
        hooks.drain();
        drain_timer.expires_after(cfg.drain_timeout);
        drain_timer.async_wait([this](beast::error_code e) {
            if (!e)
                stop_workers();
        });
    }

    // Workers abort every connection and exit once the kernel has answered all their operations.
    // Should that never happen (a file system that does not answer), the process still ends.
    void stop_workers() {
        drain_timer.cancel();
        hooks.stop();
        stop_timer.expires_after(std::chrono::seconds(10));
        stop_timer.async_wait([](beast::error_code e) {
            if (e)
                return;
            std::fputs("spliced: workers did not stop within 10s of the drain; exiting\n", stderr);
            std::_Exit(1);
        });
    }

    // spliced_send_throughput_bytes_per_second: one sample of the byte counters per second.
    void sample_throughput() {
        throughput.sample(monotonic_ns(), hooks.sent_bytes());
        throughput_timer.expires_after(std::chrono::seconds(1));
        throughput_timer.async_wait([this](beast::error_code ec) {
            if (!ec)
                sample_throughput();
        });
    }

    void watch_workers() {
        poll_timer.expires_after(std::chrono::milliseconds(20));
        poll_timer.async_wait([this](beast::error_code ec) {
            if (ec)
                return;
            if (hooks.finished()) {
                io.stop();
                return;
            }
            watch_workers();
        });
    }

    const config& cfg;
    control_hooks hooks;
    asio::io_context io{1};
    asio::signal_set signals;
    asio::steady_timer poll_timer;
    asio::steady_timer drain_timer;
    asio::steady_timer stop_timer;
    asio::steady_timer throughput_timer;
    metrics::throughput_window throughput;
    std::optional<tcp::acceptor> acceptor;
    bool draining = false;
};

control_plane::control_plane(const config& cfg, control_hooks hooks)
    : impl_(std::make_unique<impl>(cfg, std::move(hooks))) {}

control_plane::~control_plane() = default;

std::optional<endpoint> control_plane::metrics_endpoint() const {
    if (!impl_->acceptor)
        return std::nullopt;
    auto ep = impl_->acceptor->local_endpoint();
    return endpoint{ep.address().to_string(), ep.port()};
}

void control_plane::run() {
    if (impl_->acceptor) {
        impl_->accept();
        impl_->sample_throughput();
    }
    impl_->wait_signal();
    impl_->watch_workers();
    impl_->io.run();
}

} // namespace spliced::server
