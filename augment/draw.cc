// draw_params() and to_json() (draw.h): the parameters of one copy from a generator seeded by
// (seed, utt_id, copy), every draw made in a fixed order whether used or not, so a copy gets the
// same parameters on any rank count, thread or processing order.
#include "augment/draw.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "augment/rng.h"
#include "core/error.h"

namespace ds2::augment {

AugmentParams draw_params(const AugmentPolicy& policy, const std::string& utt_id, int copy,
                          size_t n_noise_files, size_t n_corpus_utts, size_t self_index) {
  AugmentParams p;
  p.copy = copy;
  p.tempo_quick = policy.tempo_quick;
  if (copy <= 0) return p;
  Rng rng(seed_for(policy.seed, utt_id, copy));
  p.speed = rng.uniform(policy.speed.lo, policy.speed.hi);
  p.tempo = rng.uniform(policy.tempo.lo, policy.tempo.hi);
  p.pitch_cents = rng.uniform(policy.pitch_cents.lo, policy.pitch_cents.hi);
  const double u_noise = rng.uniform();
  const double u_kind = rng.uniform();
  uint64_t file_index = 0;
  if (n_noise_files)
    file_index = rng.index(n_noise_files);
  else
    rng.next();  // keep the draw order fixed
  const double offset_frac = rng.uniform();
  const double snr = rng.uniform(policy.snr_db.lo, policy.snr_db.hi);

  const size_t n_talkers_available = n_corpus_utts - (self_index < n_corpus_utts ? 1 : 0);
  const size_t n_talkers =
      std::min<size_t>(static_cast<size_t>(policy.babble), n_talkers_available);
  const bool have_files = n_noise_files > 0, have_babble = n_talkers > 0;
  if (u_noise >= policy.noise_prob || (!have_files && !have_babble)) return p;

  p.noise = true;
  p.snr_db = snr;
  const bool babble = have_babble && (!have_files || u_kind < policy.babble_prob);
  if (!babble) {
    p.noise_kind = "file";
    p.noise_index = static_cast<size_t>(file_index);
    p.noise_offset_frac = offset_frac;
    return p;
  }
  p.noise_kind = "babble";
  if (n_talkers == n_talkers_available) {  // everyone else talks
    for (size_t i = 0; i < n_corpus_utts; ++i)
      if (i != self_index) p.babble_utts.push_back(i);
    for (size_t k = 0; k < n_talkers; ++k) p.babble_offset_frac.push_back(rng.uniform());
    return p;
  }
  while (p.babble_utts.size() < n_talkers) {  // n_talkers < available: terminates quickly
    const size_t i = static_cast<size_t>(rng.index(n_corpus_utts));
    if (i == self_index ||
        std::find(p.babble_utts.begin(), p.babble_utts.end(), i) != p.babble_utts.end())
      continue;
    p.babble_utts.push_back(i);
    p.babble_offset_frac.push_back(rng.uniform());
  }
  return p;
}

std::string to_json(const AugmentParams& p, const ApplyStats& s) {
  nlohmann::ordered_json j;
  j["copy"] = p.copy;
  j["speed"] = p.speed;
  j["tempo"] = p.tempo;
  j["pitch_cents"] = p.pitch_cents;
  if (p.tempo_quick) j["tempo_quick"] = true;
  if (p.noise) {
    nlohmann::ordered_json n;
    n["kind"] = p.noise_kind;
    if (p.noise_kind == "file") {
      n["index"] = p.noise_index;
      n["file"] = s.noise_name;
      n["offset_s"] = s.noise_offset_s;
    } else {
      n["utts"] = p.babble_utts;
      n["offsets_s"] = s.babble_offset_s;
    }
    n["snr_db"] = p.snr_db;
    n["added"] = s.mix.noise_added;
    if (s.mix.noise_added) n["snr_db_measured"] = s.mix.snr_db_measured;
    j["noise"] = std::move(n);
  } else {
    j["noise"] = nullptr;
  }
  j["duration_s"] = s.duration_out_s;
  j["clip_scale"] = s.clip_scale;
  j["clipped"] = s.clipped;
  j["sox_clipped_samples"] = s.sox_clipped_samples;
  return j.dump();
}

}  // namespace ds2::augment
