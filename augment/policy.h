// The augmentation policy: how many augmented copies each utterance gets and the ranges their
// parameters are drawn from (see draw.h for the drawing itself).
//
// Spec syntax (the value of --augment, or `augment = ...` in the INI config): comma-separated
// key=value pairs, ranges written lo:hi (a single value v means v:v), e.g.
//   copies=2,noise_prob=0.4,snr_db=0:15,speed=0.9:1.1,tempo=0.95:1.05,pitch_cents=-300:300
// Keys:
//   copies       augmented copies per utterance, besides the clean one (0..100)
//   noise_prob   probability that a copy gets additive noise (0..1)
//   snr_db       SNR range in dB of that noise (-30..100)
//   speed        speed factor (changes tempo and pitch together, like resampling), 0.5..2
//   tempo        tempo factor (duration changes, pitch kept; sox `tempo -s`), 0.5..2
//   pitch_cents  pitch shift in cents (duration kept), -1200..1200
//   babble       N: babble noise sums N other utterances of the corpus (0 = no babble)
//   babble_prob  probability that a noisy copy uses babble rather than a noise file, when both
//                are available (0..1); with only one kind available that kind is always used
//   tempo_quick  1: sox `tempo -q` (coarse WSOLA search, ~8x faster time stretch); 0 (default):
//                the full search of `tempo -s`
//   seed         job seed of all draws (uint64)
// `babble` and `seed` are usually given as --babble and --augment-seed (AugmentOptions); they are
// keys too so that to_string() round-trips through parse().
#pragma once

#include <cstdint>
#include <string>

#include "core/options.h"

namespace ds2::augment {

struct Range {
  double lo = 0, hi = 0;
  bool operator==(const Range& o) const { return lo == o.lo && hi == o.hi; }
};

struct AugmentPolicy {
  int copies = 0;
  double noise_prob = 0.4;
  Range snr_db{0, 15};
  Range speed{1, 1};
  Range tempo{1, 1};
  Range pitch_cents{0, 0};
  int babble = 0;
  double babble_prob = 0.5;
  bool tempo_quick = false;
  uint64_t seed = 1;

  // Parses a spec (see above) over the defaults. Unknown keys, malformed values and values out of
  // range throw ConfigError naming the key, e.g.
  //   "--augment: key 'snr_db': expected lo:hi, got '0-15'".
  // An empty spec gives the defaults (copies=0: no augmentation).
  static AugmentPolicy parse(const std::string& spec);

  // Checks the ranges listed above; throws ConfigError naming the key.
  void validate() const;

  // Canonical spec with every key, in a fixed order; parse(to_string()) == *this.
  std::string to_string() const;

  // Throws ConfigError when copies may get noise (copies > 0 and noise_prob > 0) but there is no
  // source of noise (no noise files and babble == 0). Call once the noise manifest is read.
  void check_noise_sources(size_t n_noise_files) const;

  bool operator==(const AugmentPolicy& o) const;
};

// Command-line / INI options of augmentation (part of `ds2 prep`).
struct AugmentOptions {
  std::string spec;            // --augment SPEC (empty: no augmentation)
  std::string noise_manifest;  // --noise-manifest FILE: noise audio files, see noise_list.h
  int babble = 0;              // --babble N: babble of N other utterances (overrides the spec)
  uint64_t seed = 1;           // --augment-seed S (overrides the spec)

  void add_to(po::options_description& desc);

  // parse(spec) with --babble / --augment-seed applied. A flag that differs from its default wins
  // over the spec, but giving the same key both ways with different values is a ConfigError.
  AugmentPolicy policy() const;
};

}  // namespace ds2::augment
