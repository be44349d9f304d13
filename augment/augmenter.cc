// augment(): one augmented copy of one utterance (augmenter.h). The order is fixed: the sox
// effects (speed, tempo, pitch; effects.h) first, then noise mixed in at the drawn SNR over the
// effected length (a noise file from the drawn offset, or babble of the drawn corpus
// utterances, mix.h), then peak limiting; what was applied becomes the copy's /augment JSON.
#include "augment/augmenter.h"

#include <cmath>

#include "augment/effects.h"
#include "augment/mix.h"
#include "core/error.h"

namespace ds2::augment {

void NoiseSource::add_file(std::string name, std::vector<float> samples) {
  DS2_REQUIRE(!samples.empty(), FormatError, "{}: noise file is empty", name);
  DS2_REQUIRE(mean_power(samples) > 0, FormatError, "{}: noise file is silent (all samples zero)",
              name);
  files.push_back(NoiseFile{std::move(name), std::move(samples)});
}

namespace {
size_t offset_of(double frac, size_t length) {
  const size_t o = static_cast<size_t>(std::floor(frac * static_cast<double>(length)));
  return length ? std::min(o, length - 1) : 0;
}
}  // namespace

Augmented augment(const std::vector<float>& clean, int rate, const AugmentParams& p,
                  const NoiseSource& noise) {
  DS2_REQUIRE(rate > 0, Error, "augment: sample rate {} is not positive", rate);
  Augmented a;
  ApplyStats& st = a.stats;
  st.duration_in_s = static_cast<double>(clean.size()) / rate;
  a.samples = apply_sox_effects(clean, rate, p.speed, p.tempo, p.pitch_cents, p.tempo_quick,
                                &st.sox_clipped_samples);
  st.duration_out_s = static_cast<double>(a.samples.size()) / rate;

  if (p.noise && p.noise_kind == "file") {
    DS2_REQUIRE(p.noise_index < noise.files.size(), Error,
                "augment: noise file #{} requested but {} are loaded", p.noise_index,
                noise.files.size());
    const NoiseFile& f = noise.files[p.noise_index];
    const size_t offset = offset_of(p.noise_offset_frac, f.samples.size());
    st.noise_name = f.name;
    st.noise_offset_s = static_cast<double>(offset) / rate;
    st.mix = mix_at_snr(a.samples, f.samples, p.snr_db, offset);
    st.clip_scale = st.mix.clip_scale;
  } else if (p.noise && p.noise_kind == "babble") {
    DS2_REQUIRE(static_cast<bool>(noise.corpus_utterance), Error,
                "augment: babble requested but NoiseSource::corpus_utterance is not set");
    std::vector<std::vector<float>> talkers;
    talkers.reserve(p.babble_utts.size());
    std::vector<const std::vector<float>*> ptrs;
    std::vector<size_t> offsets;
    for (size_t k = 0; k < p.babble_utts.size(); ++k) {
      talkers.push_back(noise.corpus_utterance(p.babble_utts[k]));
      const double frac = k < p.babble_offset_frac.size() ? p.babble_offset_frac[k] : 0.0;
      offsets.push_back(offset_of(frac, talkers.back().size()));
      st.babble_offset_s.push_back(static_cast<double>(offsets.back()) / rate);
    }
    for (const auto& t : talkers) ptrs.push_back(&t);
    const std::vector<float> babble = make_babble(ptrs, a.samples.size(), offsets);
    if (!babble.empty()) {
      st.mix = mix_at_snr(a.samples, babble, p.snr_db, 0);
      st.clip_scale = st.mix.clip_scale;
    } else {
      st.clip_scale = limit_peak(a.samples);
    }
  } else {
    DS2_REQUIRE(!p.noise, Error, "augment: unknown noise kind '{}'", p.noise_kind);
    st.clip_scale = limit_peak(a.samples);
  }
  st.clipped = st.clip_scale < 1.0f;
  a.clipped = st.clipped;
  a.json = to_json(p, st);
  return a;
}

}  // namespace ds2::augment
