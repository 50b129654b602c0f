#pragma once
// What the fuzz targets share: a check that aborts with the broken property (libFuzzer then saves
// the input as crash-*), and a small deterministic generator for choices driven by input bytes.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);       \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

namespace spliced::fuzz {

// splitmix64: the same seed gives the same choices, so a saved input reproduces exactly.
class choices {
  public:
    explicit choices(std::uint64_t seed) noexcept : state_(seed) {}
    std::uint64_t next() noexcept {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // In [low, high].
    std::uint64_t between(std::uint64_t low, std::uint64_t high) noexcept {
        return low + next() % (high - low + 1);
    }

  private:
    std::uint64_t state_;
};

// Without the optional whitespace (SP, HTAB) around a header value or token, as RFC 9110 §5.6.3
// lets recipients strip it; written out here so the properties do not lean on the code they check.
inline std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

} // namespace spliced::fuzz
