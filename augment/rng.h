// Seeding of augmentation draws: every augmented copy draws its parameters from its own
// generator seeded by seed_for(seed, utt_id, copy), so the draws depend only on those three
// values -- not on the rank count, the thread, or the order in which utterances are processed.
// seed_for hashes utt_id with FNV-1a 64 and mixes seed, hash and copy through SplitMix64
// finalizers (core/rng.h).
#pragma once

#include <cstdint>
#include <string>

#include "core/rng.h"

namespace ds2::augment {

using ds2::fnv1a64;
using ds2::mix64;
using ds2::Rng;

// The seed of one (job seed, utterance, copy) triple; stable across builds and platforms.
inline uint64_t seed_for(uint64_t seed, const std::string& utt_id, int copy) {
  uint64_t h = mix64(seed);
  h = mix64(h ^ fnv1a64(utt_id));
  return mix64(h ^ static_cast<uint64_t>(static_cast<int64_t>(copy)));
}

}  // namespace ds2::augment
