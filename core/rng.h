// Deterministic, portable hashing and random numbers, shared by augmentation (per-copy draws),
// prep (shard plan digests) and training (batch schedules):
// - fnv1a64 hashes bytes (never std::hash, whose values may change between builds);
// - bytes_digest hashes large buffers (shard checksums, replica checks) 8 bytes at a step;
// - mix64 is the SplitMix64 finalizer, a bijective 64-bit mix;
// - Rng is xoshiro256** (Blackman & Vigna 2018) with its state filled by SplitMix64;
// - uniform() / index() / below() are computed by hand from the raw 64-bit outputs; the std::
//   distributions are implementation-defined and differ between libstdc++ and libc++.
// Same seed, same numbers, on every platform and standard library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace ds2 {

// SplitMix64 finalizer: a bijective 64-bit mix.
constexpr uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// FNV-1a 64 over n bytes, continuing from `h` (the offset basis by default).
inline uint64_t fnv1a64(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}
inline uint64_t fnv1a64(const std::string& s, uint64_t h = 0xcbf29ce484222325ULL) {
  return fnv1a64(s.data(), s.size(), h);
}

// A 64-bit digest of n bytes: two lanes of 8-byte words, each folded through mix64, the length
// folded in first, so any changed byte, a permutation of words or a truncation changes it (not
// cryptographic: it detects accidental corruption and divergence). About memory bandwidth.
inline uint64_t bytes_digest(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t a = mix64(n), b = mix64(n ^ 0x5bd1e9955bd1e995ULL);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    uint64_t w0, w1;
    std::memcpy(&w0, p + i, 8);
    std::memcpy(&w1, p + i + 8, 8);
    a = mix64(a ^ w0);
    b = mix64(b ^ w1);
  }
  uint64_t t0 = 0, t1 = 0;
  const size_t rest = n - i;  // 0..15; p may be null when n == 0
  if (rest > 0) std::memcpy(&t0, p + i, rest < 8 ? rest : 8);
  if (rest > 8) std::memcpy(&t1, p + i + 8, rest - 8);
  return mix64(mix64(a ^ t0) ^ mix64(b ^ t1));
}

// xoshiro256** seeded from one 64-bit value through SplitMix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t z = seed;
    for (auto& w : s_) {
      w = mix64(z);
      z += 0x9e3779b97f4a7c15ULL;
    }
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Uniform in [lo, hi); exactly lo when lo == hi.
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  // Uniform integer in [0, n) for n > 0 (multiply-high; bias below 2^-64 * n, irrelevant here).
  uint64_t index(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

  // Uniform integer in [0, n) for n >= 1, without bias (rejects the short top range).
  uint64_t below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    for (;;) {
      const uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace ds2
