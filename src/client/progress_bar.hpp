#pragma once
// The progress line spliced-get draws on a terminal (stderr is a TTY and neither -q nor --json):
// percentage, bytes, the rate of bytes fetched by this run, ETA and connections, redrawn at most
// four times a second. Nothing is drawn otherwise: scripts and cron see only errors.

#include <cstdint>

namespace spliced::client {

class progress_bar {
  public:
    progress_bar(bool wanted, std::uint64_t started_ns);

    struct figures {
        std::uint64_t size = 0;    // 0 while not pinned
        std::uint64_t present = 0; // bytes in FILE.part, resumed ones included
        std::uint64_t fetched = 0; // by this run
        unsigned connections = 0;
    };
    void update(std::uint64_t now_ns, const figures& f); // redraws if due
    void finish(std::uint64_t now_ns, const figures& f); // last line and a newline

  private:
    void draw(std::uint64_t now_ns, const figures& f);
    bool on_;
    std::uint64_t started_ns_;
    std::uint64_t drawn_ns_ = 0;
};

} // namespace spliced::client
