#include "download.hpp"

#include "spliced/client/resume_state.hpp"
#include "spliced/core/clock.hpp"
#include "spliced/http/conditional.hpp"

#include <algorithm>
#include <cstdio>
#include <signal.h>
#include <unistd.h>

namespace spliced::client {

namespace {

constexpr std::uint64_t ms = 1'000'000;

std::uint64_t ns(std::chrono::milliseconds d) {
    return std::uint64_t(d.count()) * ms;
}

} // namespace

download::download(const get_options& options, uring::ring& ring, output_file& out,
                   origin_set origins)
    : options_(options), ring_(ring), out_(out), origins_(std::move(origins)),
      // Twice the connections: dead ones hold their buffer until reaped.
      pool_(ring, *this, out.fd(), options.io, 2 * std::max(1u, options.connections)),
      connections_(std::max(1u, options.connections)),
      retries_(options.retries, options.retry_max_time, monotonic_ns()),
      started_ns_(monotonic_ns()), rate_(options.limit_rate),
      progress_(!options.quiet && !options.json && ::isatty(2), started_ns_) {}

void download::load_state() {
    auto state = load_resume_state(out_.dir_fd(), out_.state_name());
    auto length = out_.length();
    if (state && *state && (*state)->url == options_.url_text && length &&
        *length == (*state)->size) {
        const auto& s = **state;
        resume_pin_ = pinned{s.size, s.etag, s.last_modified, true};
        resume_present_ = s.present;
        piece_size_ = s.piece_size;
        return; // a resumed download is finished whatever --if-changed says
    }
    if (options_.if_changed) {
        auto v = out_.previous();
        if (!v.etag.empty() || v.modified)
            previous_ = v;
    }
    // No state, another URL's, or a FILE.part it does not describe: nothing of it is trusted.
    (void)out_.clear();
}

void download::start_probe(std::size_t origin) {
    slot* opened = pool_.open(origins_, origin);
    if (!opened)
        return; // every buffer is still held by a connection being stopped: next turn
    slot& s = *opened;
    s.probe = true;
    s.attempt_ns = monotonic_ns();
    s.connection->start(
        origins_[s.origin].origin.probe_request(resume_pin_, previous_ ? &*previous_ : nullptr),
        false);
}

fetch_events::body_target download::head_arrived(fetch_connection& c,
                                                 const http::response_head& h) noexcept {
    slot* s = pool_.find(c);
    if (!s || phase_ == phase::stopping || phase_ == phase::restarting)
        return {};
    check result = s->probe ? check_probe(h, resume_pin_) : check_piece(h, s->job->range, *pin_);
    switch (result.what) {
    case verdict::body:
    case verdict::whole:
    case verdict::empty:
        if (s->probe)
            return pin(*s, result, h);
        if (h.repr_digest)
            if (auto digest = http::parse_repr_digest_sha256(*h.repr_digest))
                integrity_->offer_repr_digest(*digest);
        return {result.offset, result.length};
    case verdict::changed:
        if (!s->probe && s->origin != pin_origin_ && origins_.serves_another_version(s->origin)) {
            s->dead = true; // its piece is released by response_done()
            dropped(s->origin,
                    "it serves another version (size or ETag) than " + origins_[pin_origin_].url);
            return {};
        }
        changed();
        return {};
    case verdict::unchanged:
        if (!s->probe || !previous_) {
            note_failure(*s, "unexpected 304 Not Modified");
            return {};
        }
        unchanged_ = true;
        stop_all(exit_code::ok, "");
        return {};
    case verdict::retry:
        s->retry_after = result.retry_after;
        note_failure(*s, "HTTP " + std::to_string(h.status));
        return {};
    case verdict::refused:
        stop_all(exit_code::http_error, options_.url_text + ": HTTP " + std::to_string(h.status));
        return {};
    case verdict::malformed:
        note_failure(*s, "unexpected response (HTTP " + std::to_string(h.status) + ")");
        return {};
    }
    return {};
}

fetch_events::body_target download::pin(slot& s, const check& c, const http::response_head& h) {
    pin_ = c.pin;
    pin_origin_ = s.origin;
    modified_ = h.last_modified ? http::parse_http_date(*h.last_modified) : std::nullopt;
    std::optional<http::sha256_digest> repr_digest;
    if (h.repr_digest)
        repr_digest = http::parse_repr_digest_sha256(*h.repr_digest);
    integrity_.emplace(options_.checksum, repr_digest, options_.json);
    const bool resumed = resume_pin_ && c.what == verdict::body;
    if (!resumed) {
        resume_present_.clear();
        (void)out_.clear();
    }
    // Without a strong validator nothing proves two pieces come from one version: one stream.
    if (pin_->etag.empty() && pin_->last_modified.empty())
        connections_ = 1;
    if (c.what == verdict::whole && options_.require_resume) {
        stop_all(exit_code::no_resume, options_.url_text + ": the origin ignores Range");
        return {};
    }
    if (auto reserved = out_.reserve(pin_->size); !reserved) {
        stop_all(exit_code::local_io, out_.part_name() + ": " + reserved.error().message());
        return {};
    }
    if (piece_size_ == 0 || !resumed)
        piece_size_ = options_.piece_size ? options_.piece_size
                                          : piece_map::auto_piece_size(pin_->size, connections_);
    if (c.what == verdict::empty)
        return {};                  // response_done() builds the empty map
    if (c.what == verdict::whole) { // one piece, owned by this connection, from byte 0
        map_.emplace(pin_->size, pin_->size, pin_->size);
        s.probe = false;
        s.job = map_->assign();
        s.connection->id = s.job->owner;
        phase_ = phase::fetching;
        return {0, pin_->size};
    }
    report_.bytes_resumed = 0;
    for (const auto& r : resume_present_)
        report_.bytes_resumed += r.length();
    return {0, 1}; // byte 0; the map is built once it is written (response_done)
}

std::uint64_t download::may_write(fetch_connection& c, std::uint64_t offset) noexcept {
    slot* s = pool_.find(c);
    if (!s || phase_ == phase::stopping || phase_ == phase::restarting)
        return 0;
    if (s->probe)
        return offset == 0 ? 1 : 0;
    auto limit = map_->limit(c.id);
    auto at = map_->position(c.id);
    if (!limit || !at || offset != *at || offset > *limit)
        return 0;
    return *limit - offset + 1;
}

std::uint64_t download::receive_allowance(fetch_connection&) noexcept {
    return rate_.allowance();
}

// --limit-rate: refills the bucket and wakes the connections it paused.
void download::pace(std::uint64_t now) {
    if (!rate_.limited() || !rate_.refill(now))
        return;
    pool_.resume_paused();
}

void download::written(fetch_connection& c, std::uint64_t offset, std::uint64_t length,
                       std::span<const std::byte> bytes) noexcept {
    rate_.spend(length);
    slot* s = pool_.find(c);
    std::uint64_t taken = length;
    if (s && !s->probe && map_) // a restart keeps the map until the last write has landed
        taken = map_->received(c.id, length);
    if (s)
        origins_.delivered(s->origin, taken);
    report_.bytes_fetched += taken;
    retries_.progressed(monotonic_ns());
    if (integrity_ && !bytes.empty()) // spliced bytes are read back at the end
        integrity_->written(offset, bytes.first(std::size_t(taken)));
}

void download::response_done(fetch_connection& c, bool reusable) noexcept {
    slot* s = pool_.find(c);
    if (!s)
        return;
    if (s->probe && phase_ == phase::probing && pin_ && !s->dead) {
        s->probe = false;
        begin_fetching(reusable ? s : nullptr);
        if (!reusable)
            s->dead = true;
        return;
    }
    if (s->job && map_)
        map_->release(s->job->owner);
    s->job.reset();
    if (s->dead || !reusable || phase_ != phase::fetching || !give_job(*s))
        s->dead = true;
}

void download::begin_fetching(slot* reuse) {
    auto present = resume_present_;
    if (pin_->size > 0)
        piece_map::add_range(present, {0, 0});
    // The old owner keeps at least min_split beyond its frontier, and a write (or splice) it
    // has in flight reaches at most one buffer beyond it: so the new owner's bytes never overlap
    // a write still landing, whose direct (O_DIRECT) blocks must not share a page with its
    // buffered ones.
    std::uint64_t min_split =
        std::max<std::uint64_t>(piece_size_ / 4, connection_pool::buffer_bytes);
    map_.emplace(piece_map::with_done(pin_->size, piece_size_, min_split, present));
    phase_ = phase::fetching;
    if (reuse && !give_job(*reuse))
        reuse->dead = true;
}

bool download::give_job(slot& s) {
    s.job = map_->assign();
    if (!s.job)
        return false;
    s.connection->id = s.job->owner;
    s.attempt_ns = monotonic_ns();
    s.connection->start(origins_[s.origin].origin.piece_request(s.job->range, *pin_), false);
    return true;
}

void download::failed(fetch_connection& c, int error) noexcept {
    slot* s = pool_.find(c);
    if (!s)
        return;
    if (s->job && map_)
        map_->release(s->job->owner);
    s->job.reset();
    // A local write error is final: retrying cannot make room on the disk.
    if (error == -ENOSPC || error == -EIO || error == -EDQUOT || error == -EFBIG)
        stop_all(exit_code::local_io, out_.part_name() + ": " + std::strerror(-error));
    if (phase_ != phase::stopping && !s->dead) {
        if (s->timed_out)
            note_failure(*s, "timed out");
        else if (error == -EPROTO)
            note_failure(*s, "malformed response");
        else if (error != -ECANCELED)
            note_failure(*s, std::strerror(-error));
    }
    s->dead = true;
}

void download::note_failure(slot& s, std::string reason) {
    s.dead = true;
    if (origins_.failed(s.origin))
        dropped(s.origin,
                reason + ", " + std::to_string(origin_set::drop_after) + " times in a row");
    auto delay = retries_.failed(monotonic_ns(), s.retry_after, s.attempt_ns);
    report_.retries = retries_.total_failures();
    if (!delay) {
        stop_all(exit_code::network, options_.url_text + ": " + reason + " (gave up after " +
                                         std::to_string(report_.retries) + " retries)");
        return;
    }
    auto& backoff = origins_[s.origin].next_start_ns;
    backoff = std::max(backoff, monotonic_ns() + ns(*delay));
    if (!options_.quiet)
        std::fprintf(stderr, "spliced-get: %s; retrying in %.1f s\n", reason.c_str(),
                     double(delay->count()) / 1000.0);
}

// Origin `i` is out of this run: its other connections stop (their pieces go back to the map
// and their failures are not counted) and fill() opens their replacements on the others.
void download::dropped(std::size_t i, const std::string& why) {
    pool_.stop(i);
    if (!options_.quiet)
        std::fprintf(stderr, "spliced-get: not using %s any more: %s\n", origins_[i].url.c_str(),
                     why.c_str());
}

void download::changed() {
    if (options_.change == on_change::fail) {
        stop_all(exit_code::changed, options_.url_text + ": the file changed on the server");
        return;
    }
    // Restart: every connection stops; once the last is gone (restart_from_scratch, from fill())
    // the pieces are thrown away and a new probe pins the new version. Not before: a write still
    // in flight would land in the cleared file, and its completion would find no map.
    ++report_.restarts;
    if (report_.restarts > options_.retries + 1) {
        stop_all(exit_code::changed, options_.url_text + ": the file keeps changing");
        return;
    }
    pool_.stop();
    phase_ = phase::restarting;
}

void download::restart_from_scratch() {
    pin_.reset();
    resume_pin_.reset();
    previous_.reset();
    resume_present_.clear();
    map_.reset();
    integrity_.reset();
    piece_size_ = 0;
    phase_ = phase::probing;
    (void)out_.clear();
}

void download::stop_all(exit_code code, std::string message) {
    if (phase_ == phase::stopping)
        return;
    phase_ = phase::stopping;
    code_ = code;
    message_ = std::move(message);
    pool_.stop();
}

void download::fill(std::uint64_t now) {
    if (phase_ == phase::restarting) {
        if (!pool_.empty())
            return;
        restart_from_scratch();
    }
    unsigned live = pool_.live();
    pool_.count_per_origin(origins_);
    if (phase_ == phase::probing) {
        if (auto origin = origins_.least_busy(now); origin && pool_.empty())
            start_probe(*origin);
        return;
    }
    if (phase_ != phase::fetching)
        return;
    // After a failure one connection goes ahead; the others follow once bytes flow again.
    const unsigned wanted = retries_.recovering() ? 1 : connections_;
    while (live < wanted) {
        auto origin = origins_.least_busy(now);
        if (!origin)
            return; // every origin is backing off
        slot* opened = pool_.open(origins_, *origin);
        if (!opened)
            return; // buffers still held by stopping connections: next turn
        slot& s = *opened;
        ++origins_[s.origin].connections;
        if (!give_job(s)) {
            s.dead = true; // nothing left to hand out; reap() frees it (it never started)
            return;
        }
        ++live;
    }
}

void download::checkpoint() {
    if (!pin_ || !map_ || (pin_->etag.empty() && pin_->last_modified.empty()))
        return; // nothing pinned, nothing a later run could check its bytes against
    resume_state state{options_.url_text,   pin_->size,  pin_->etag,
                       pin_->last_modified, piece_size_, map_->present()};
    if (auto saved = save_resume_state(out_.fd(), out_.dir_fd(), out_.state_name(), state); !saved)
        stop_all(exit_code::local_io, out_.state_name() + ": " + saved.error().message());
    checkpointed_bytes_ = map_->present_bytes();
}

download_report download::run() {
    load_state();
    for (;;) {
        auto now = monotonic_ns();
        if (int sig = pending_stop_signal())
            stop_all(sig == SIGINT ? exit_code::interrupted : exit_code::terminated,
                     std::string(sig == SIGINT ? "interrupted" : "terminated") +
                         "; rerun to resume");
        fill(now);
        pace(now);
        pool_.watch_timeouts(now, options_.connect_timeout, options_.stall_timeout);
        // Paused connections wait for the bucket: wake up as often as it refills usefully.
        ring_.run_once(std::chrono::milliseconds(rate_.limited() ? 10 : 50));
        pool_.reap();
        now = monotonic_ns();
        if (map_ && phase_ != phase::restarting && map_->present_bytes() != checkpointed_bytes_ &&
            now > last_checkpoint_ns_ + 1000 * ms) {
            checkpoint();
            last_checkpoint_ns_ = now;
        }
        progress_.update(now, figures());
        if (phase_ == phase::stopping && pool_.empty())
            break;
        if (phase_ == phase::fetching && map_->complete() && pool_.empty())
            break;
    }
    return finish();
}

download_report download::finish() {
    progress_.finish(monotonic_ns(), figures());
    report_.seconds = double(monotonic_ns() - started_ns_) / 1e9;
    for (const auto& m : origins_.members())
        report_.origins.push_back({m.url, m.bytes, m.dropped});
    report_.size = pin_ ? pin_->size : 0;
    report_.etag = pin_ ? pin_->etag : "";
    report_.integrity = "none";
    report_.io = pool_.path_name();
    if (unchanged_) { // FILE is current: it stays as it is, and FILE.part goes
        out_.discard();
        report_.unchanged = true;
        report_.code = exit_code::ok;
        return report_;
    }
    if (code_ != exit_code::ok) {
        // Kept for a rerun, unless they are bytes of a version the origin no longer serves.
        if (code_ != exit_code::changed && map_ && map_->present_bytes() > 0)
            checkpoint();
        else
            out_.discard();
        report_.code = code_;
        report_.message = message_;
        return report_;
    }
    if (integrity_) {
        auto checked = integrity_->verify(out_.fd(), pin_->size);
        if (!checked) {
            report_.code = exit_code::local_io;
            report_.message = out_.part_name() + ": " + checked.error().message();
            return report_;
        }
        report_.sha256 = checked->sha256;
        report_.integrity = checked->method;
        if (!checked->ok) {
            out_.discard();
            report_.code = exit_code::integrity;
            report_.message = options_.output + ": sha-256 " + checked->sha256 + ", expected " +
                              checked->expected + " (" + checked->method + "); nothing kept";
            return report_;
        }
    }
    if (auto committed = out_.commit({pin_->etag, modified_}); !committed) {
        bool exists = committed.error() == std::errc::file_exists;
        report_.code = exists ? exit_code::exists : exit_code::local_io;
        report_.message = options_.output + ": " + committed.error().message();
        return report_;
    }
    report_.code = exit_code::ok;
    return report_;
}

progress_bar::figures download::figures() const {
    return {pin_ ? pin_->size : 0, map_ ? map_->present_bytes() : 0, report_.bytes_fetched,
            unsigned(pool_.size())};
}

} // namespace spliced::client
