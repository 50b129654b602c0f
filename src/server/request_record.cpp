#include "request_record.hpp"

#include "worker_state.hpp"

#include <string>

namespace spliced::server {

namespace {

metrics::method_label label_of(http::method m) noexcept {
    switch (m) {
    case http::method::get:
        return metrics::method_label::get;
    case http::method::head:
        return metrics::method_label::head;
    default:
        return metrics::method_label::other;
    }
}

metrics::aborted aborted_for(request_end how) noexcept {
    switch (how) {
    case request_end::file_shrank:
        return metrics::aborted::file_shrank;
    case request_end::timeout:
        return metrics::aborted::timeout;
    case request_end::error:
        return metrics::aborted::error;
    case request_end::shutdown:
        return metrics::aborted::shutdown;
    case request_end::complete:
    case request_end::client_gone:
        break;
    }
    return metrics::aborted::client_gone;
}

// The status counted and logged for a request that ended before a response was chosen (nginx's
// convention for 499: the client closed the request).
unsigned unanswered_status(request_end how) noexcept {
    switch (how) {
    case request_end::timeout:
        return 408;
    case request_end::shutdown:
        return 503;
    case request_end::client_gone:
        return 499;
    default:
        return 500;
    }
}

} // namespace

void request_record::begin(std::uint64_t now_ns, const http::request_head* head,
                           bool keep_alive) noexcept {
    head_ = head;
    start_ns_ = now_ns;
    body_sent_ = 0;
    status_ = 0;
    version_ = head ? head->version : 11;
    method_ = head ? head->method : http::method::other;
    keep_alive_ = head && keep_alive;
    open_ = true;
}

void request_record::finish(request_end how, bool mid_response,
                            std::span<const http::byte_range> ranges, std::string_view peer,
                            worker_state& w) noexcept {
    if (!open_)
        return;
    open_ = false;
    const bool completed = how == request_end::complete;
    if (!completed) {
        if (mid_response)
            w.shard.responses_aborted[std::size_t(aborted_for(how))].add();
        if (status_ == 0)
            status_ = unanswered_status(how);
    }
    w.shard.count_request(label_of(method_), status_);
    w.shard.request_duration.observe_ns(w.now_ns - start_ns_);
    log(completed, ranges, peer, w);
}

void request_record::log(bool completed, std::span<const http::byte_range> ranges,
                         std::string_view peer, worker_state& w) noexcept {
    if (!w.log.enabled())
        return;
    try {
        std::string range_text;
        for (const auto& r : ranges) {
            if (!range_text.empty())
                range_text.push_back(',');
            range_text += std::to_string(r.first) + "-" + std::to_string(r.last);
        }
        access_entry e;
        e.remote_addr = peer;
        e.method = head_ ? std::string_view(head_->method_text) : std::string_view("-");
        e.target = head_ ? std::string_view(head_->target) : std::string_view("-");
        e.version = version_;
        e.status = status_;
        e.body_bytes = body_sent_;
        if (head_) {
            e.referer = head_->referer;
            e.user_agent = head_->user_agent;
        }
        e.seconds = double(w.now_ns - start_ns_) / 1e9;
        e.range = range_text;
        e.completed = completed;
        w.log.record(e, w.time_local);
    } catch (...) {
        // Out of memory for a log line: the request itself is unaffected (and counted above).
    }
}

} // namespace spliced::server
