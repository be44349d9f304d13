// Speed, tempo and pitch perturbation through one in-memory libsox effects chain.
#pragma once

#include <cstdint>
#include <vector>

namespace ds2::augment {

// Applies speed, tempo and pitch changes to mono float samples at `rate` Hz and returns mono
// float samples at the same rate. Semantics (as the sox command-line effects of the same name):
//   speed s        duration / s, every frequency * s (like playing a tape faster)
//   tempo t        duration / t, pitch kept (sox `tempo -s`, WSOLA tuned for speech)
//   pitch c cents  frequencies * 2^(c/1200), duration kept
// Identity values (1, 1, 0) are skipped; all three at identity return a copy of `in`.
// tempo_quick adds sox's `-q` to the tempo effect: a coarse WSOLA search, about 8x faster for the
// time stretch (tempo and pitch; bench_augment has the figures) at some cost in quality.
//
// The chain is   input -> [tempo -s t/d] -> [speed s*d] -> [rate R] -> output   with
// d = 2^(c/1200): sox's own pitch effect is tempo 1/d then speed d, so folding the three requested
// changes into one tempo (WSOLA) and one resampling gives the same result at the cost of one of
// each. "input" and "output" are custom effects that read from `in` and append to the result
// (no files, no sox process). Samples beyond [-1, 1] after the effects are clipped by libsox and
// counted in *clipped_samples when given.
//
// Thread-safe: every call builds its own chain (see sox_init.h for what was checked in libsox).
// Throws ds2::Error naming the effect and its arguments when libsox refuses them.
std::vector<float> apply_sox_effects(const std::vector<float>& in, int rate, double speed,
                                     double tempo, double pitch_cents, bool tempo_quick = false,
                                     uint64_t* clipped_samples = nullptr);

}  // namespace ds2::augment
