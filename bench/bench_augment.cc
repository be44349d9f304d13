// Augmentation throughput against the clean prep path, both measured in the same run.
//
// Baseline ("clean prep"): a bare FFTW log-power spectrogram -- one 320-point r2c plan, per 160-
// sample hop: Hamming window, fftwf_execute, log(|X|^2 + 1e-10) -- over the same audio.
// Augmentation cases, each over the same audio split into utterances of --utt-seconds:
//   speed 1.1, tempo 1.1 (sox tempo -s), pitch +300 cents, tempo and pitch with tempo_quick
//   (sox tempo -s -q), all three combined (libsox chains, augment/effects.h); file noise mixed at
//   10 dB, babble of 3 talkers at 10 dB (augment/mix.h); augment() with parameters drawn from the
//   issue's example policy (effects + noise, 40% noisy), with and without tempo_quick.
// Figures: seconds of audio per second of one core ("x real time per core"), from process CPU time
// (robust to other load on a shared machine) and from wall time (what a job sees), best of
// --iters runs after --warmup runs, and the ratio to the baseline. With --threads T > 1 every case
// is also run on T threads at once, each thread working on its own utterances (T times the audio
// in total), reported per core, with the scaling efficiency (per-core figure at T over at 1): CPU
// scaling < 1 means the threads slow each other (shared caches, memory, locks that spin); wall
// scaling < 1 also shows blocking on locks -- and other load, if the machine has any.
// Correctness checks (on by default): durations after speed/tempo, pitch's duration, measured SNR
// of the mix within 0.1 dB, and threaded outputs byte-identical to the serial ones.
//
//   bench_augment [--seconds 60] [--utt-seconds 10] [--iters 3] [--warmup 1] [--threads 2]
//                 [--check 1] [--csv FILE]
#include <fftw3.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "augment/augmenter.h"
#include "augment/effects.h"
#include "augment/mix.h"
#include "augment/rng.h"
#include "bench/bench_options.h"
#include "core/options.h"
#include "core/timer.h"

namespace {

using namespace ds2::augment;
constexpr int kRate = 16000;

// Speech-like audio: 12 harmonics of an f0 gliding 90..260 Hz, syllable-rate (4 Hz) amplitude
// envelope with pauses, plus low white noise; deterministic.
std::vector<float> speech_like(double seconds, uint64_t seed) {
  std::vector<float> x(static_cast<size_t>(seconds * kRate));
  Rng rng(seed);
  double phase = 0;
  const double drift = 0.3 + 0.4 * rng.uniform();
  for (size_t i = 0; i < x.size(); ++i) {
    const double t = static_cast<double>(i) / kRate;
    const double f0 = 175 + 85 * std::sin(2 * M_PI * drift * t + seed);
    phase += 2 * M_PI * f0 / kRate;
    double v = 0;
    for (int h = 1; h <= 12; ++h) v += std::sin(h * phase) / (h + 1);
    const double env = std::max(0.0, std::sin(2 * M_PI * 4 * t + 0.3 * seed));
    x[i] = static_cast<float>(0.12 * env * v + 0.01 * (rng.uniform() - 0.5));
  }
  return x;
}

// The clean prep path's core: FFTW log-power spectrogram, window 320, hop 160, 161 bins.
class Spectrogram {
 public:
  Spectrogram() {
    in_ = fftwf_alloc_real(kWin);
    out_ = fftwf_alloc_complex(kWin / 2 + 1);
    plan_ = fftwf_plan_dft_r2c_1d(kWin, in_, out_, FFTW_ESTIMATE);
    for (int i = 0; i < kWin; ++i)
      window_[i] = static_cast<float>(0.54 - 0.46 * std::cos(2 * M_PI * i / (kWin - 1)));
  }
  ~Spectrogram() {
    fftwf_destroy_plan(plan_);
    fftwf_free(in_);
    fftwf_free(out_);
  }
  // Thread-safe: per-call buffers with fftwf_execute_dft_r2c (the plan is only read).
  std::vector<float> compute(const std::vector<float>& x) const {
    std::vector<float> feats;
    if (x.size() < kWin) return feats;
    const size_t frames = 1 + (x.size() - kWin) / kHop;
    feats.resize(frames * (kWin / 2 + 1));
    float* in = fftwf_alloc_real(kWin);
    fftwf_complex* out = fftwf_alloc_complex(kWin / 2 + 1);
    for (size_t f = 0; f < frames; ++f) {
      for (int i = 0; i < kWin; ++i) in[i] = x[f * kHop + i] * window_[i];
      fftwf_execute_dft_r2c(plan_, in, out);
      float* row = feats.data() + f * (kWin / 2 + 1);
      for (int k = 0; k <= kWin / 2; ++k)
        row[k] = std::log(out[k][0] * out[k][0] + out[k][1] * out[k][1] + 1e-10f);
    }
    fftwf_free(in);
    fftwf_free(out);
    return feats;
  }

 private:
  static constexpr int kWin = 320, kHop = 160;
  float window_[kWin];
  float* in_;
  fftwf_complex* out_;
  fftwf_plan plan_;
};

struct Case {
  std::string name;
  // Processes utterance u, returns its output (kept for checks).
  std::function<std::vector<float>(size_t u)> run;
};

// CPU seconds used by all threads of this process.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Times {
  double wall = 1e300, cpu = 1e300;  // best of the timed runs, each measured separately
};

// Best wall and best CPU time of `iters` runs of fn() after `warmup` runs.
Times best_times(int warmup, int iters, const std::function<void()>& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  Times best;
  for (int i = 0; i < iters; ++i) {
    const double c0 = process_cpu_seconds();
    ds2::Timer t;
    fn();
    best.wall = std::min(best.wall, t.seconds());
    best.cpu = std::min(best.cpu, process_cpu_seconds() - c0);
  }
  return best;
}

int failures = 0;
void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "CHECK FAILED: %s\n", what.c_str());
    ++failures;
  }
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 60, utt_seconds = 10;
  int iters = 3, warmup = 1, threads = 2, do_check = 1;
  std::string csv;
  ds2::po::options_description desc("bench_augment");
  // clang-format off
  desc.add_options()("help,h", "usage")
      ("seconds", ds2::po::value(&seconds)->default_value(seconds), "audio per pass (s)")
      ("utt-seconds", ds2::po::value(&utt_seconds)->default_value(utt_seconds),
       "utterance length (s)")
      ("iters", ds2::po::value(&iters)->default_value(iters), "timed runs (best is reported)")
      ("warmup", ds2::po::value(&warmup)->default_value(warmup), "untimed runs first")
      ("threads", ds2::po::value(&threads)->default_value(threads),
       "also run every case on this many threads at once (1: serial only)")
      ("check", ds2::po::value(&do_check)->default_value(do_check), "correctness checks (0/1)")
      ("csv", ds2::po::value(&csv), "also write the table as CSV to this file");
  // clang-format on
  if (!ds2::bench::parse_options(argc, argv, desc)) return 0;

  const size_t n_utts = std::max<size_t>(1, static_cast<size_t>(seconds / utt_seconds + 0.5));
  std::vector<std::vector<float>> utts;
  for (size_t u = 0; u < n_utts; ++u) utts.push_back(speech_like(utt_seconds, 1000 + u));
  const double audio_s = static_cast<double>(n_utts) * utt_seconds;
  std::vector<std::vector<float>> talkers;  // babble talkers: other "utterances"
  for (int k = 0; k < 8; ++k) talkers.push_back(speech_like(4.0 + k, 2000 + k));
  NoiseSource noise;
  noise.add_file("synthetic-noise", speech_like(7.0, 99));  // a 7 s file, looped
  for (auto& v : noise.files[0].samples)
    v = 0.5f * v + 0.05f * static_cast<float>(std::sin(v * 1e4));
  noise.corpus_utterance = [&](size_t i) { return talkers[i % talkers.size()]; };
  const AugmentPolicy policy = AugmentPolicy::parse(
      "copies=2,noise_prob=0.4,snr_db=0:15,speed=0.9:1.1,tempo=0.95:1.05,pitch_cents=-300:300,"
      "babble=3");

  Spectrogram spec;
  std::vector<Case> cases = {
      {"clean prep (FFTW spectrogram)", [&](size_t u) { return spec.compute(utts[u]); }},
      {"speed 1.1", [&](size_t u) { return apply_sox_effects(utts[u], kRate, 1.1, 1, 0); }},
      {"tempo 1.1", [&](size_t u) { return apply_sox_effects(utts[u], kRate, 1, 1.1, 0); }},
      {"pitch +300 cents", [&](size_t u) { return apply_sox_effects(utts[u], kRate, 1, 1, 300); }},
      {"tempo 1.1 quick (-q)",
       [&](size_t u) { return apply_sox_effects(utts[u], kRate, 1, 1.1, 0, true); }},
      {"pitch +300 cents quick (-q)",
       [&](size_t u) { return apply_sox_effects(utts[u], kRate, 1, 1, 300, true); }},
      {"speed+tempo+pitch",
       [&](size_t u) { return apply_sox_effects(utts[u], kRate, 0.95, 1.05, -200); }},
      {"noise file mix 10 dB",
       [&](size_t u) {
         auto y = utts[u];
         mix_at_snr(y, noise.files[0].samples, 10, 777 * u);
         return y;
       }},
      {"babble 3 talkers 10 dB",
       [&](size_t u) {
         auto y = utts[u];
         auto t0 = noise.corpus_utterance(u), t1 = noise.corpus_utterance(u + 1),
              t2 = noise.corpus_utterance(u + 2);
         auto b = make_babble({&t0, &t1, &t2}, y.size(), {100, 2000, 30000});
         mix_at_snr(y, b, 10, 0);
         return y;
       }},
      {"augment() issue policy",
       [&](size_t u) {
         auto p = draw_params(policy, "utt" + std::to_string(u), 1 + static_cast<int>(u % 2), 1,
                              talkers.size());
         return augment(utts[u], kRate, p, noise).samples;
       }},
      {"augment() issue policy, quick",
       [&](size_t u) {
         auto p = draw_params(policy, "utt" + std::to_string(u), 1 + static_cast<int>(u % 2), 1,
                              talkers.size());
         p.tempo_quick = true;
         return augment(utts[u], kRate, p, noise).samples;
       }},
  };

  // Serial runs (outputs kept for checks).
  std::vector<std::vector<std::vector<float>>> serial_out(cases.size());
  // x-real-time per core: audio seconds per CPU second (robust to other load on the machine)
  // and per wall second (what a job sees; equal on an idle machine).
  std::vector<double> x1(cases.size()), w1(cases.size()), xt(cases.size(), 0), wt(cases.size(), 0);
  for (size_t c = 0; c < cases.size(); ++c) {
    serial_out[c].resize(n_utts);
    const Times t = best_times(warmup, iters, [&] {
      for (size_t u = 0; u < n_utts; ++u) serial_out[c][u] = cases[c].run(u);
    });
    x1[c] = audio_s / t.cpu;
    w1[c] = audio_s / t.wall;
  }
  // Threaded runs: T threads at once, each over all utterances (T x the audio), per core.
  int thread_mismatch = 0;
  if (threads > 1) {
    for (size_t c = 0; c < cases.size(); ++c) {
      std::vector<int> bad(threads, 0);
      const Times t = best_times(warmup, iters, [&] {
        std::vector<std::thread> pool;
        for (int k = 0; k < threads; ++k)
          pool.emplace_back([&, k] {
            for (size_t i = 0; i < n_utts; ++i) {
              const size_t u = (i + k) % n_utts;  // threads start on different utterances
              if (cases[c].run(u) != serial_out[c][u]) ++bad[k];
            }
          });
        for (auto& th : pool) th.join();
      });
      // threads x audio_s of work, per core
      xt[c] = audio_s * threads / t.cpu;
      wt[c] = audio_s / t.wall;
      for (int b : bad) thread_mismatch += b;
    }
  }

  if (do_check) {
    for (size_t u = 0; u < n_utts; ++u) {
      const double n = static_cast<double>(utts[u].size());
      check(std::fabs(serial_out[1][u].size() - n / 1.1) <= 160, "speed 1.1 duration");
      check(std::fabs(serial_out[2][u].size() - n / 1.1) <= 160, "tempo 1.1 duration");
      check(std::fabs(serial_out[3][u].size() - n) <= 160, "pitch duration");
      check(std::fabs(serial_out[4][u].size() - n / 1.1) <= 160, "quick tempo 1.1 duration");
      check(std::fabs(serial_out[5][u].size() - n) <= 160, "quick pitch duration");
      auto y = utts[u];
      MixStats st = mix_at_snr(y, noise.files[0].samples, 10, 777 * u);
      check(std::fabs(st.snr_db_measured - 10) < 0.1, "noise mix SNR");
    }
    check(thread_mismatch == 0, "threaded outputs equal serial outputs");
  }

  std::printf(
      "augment: %zu utterances x %.0f s = %.0f s of 16 kHz speech-like audio, best of %d "
      "runs after %d warm-up; %d thread(s) for the scaling column\n",
      n_utts, utt_seconds, audio_s, iters, warmup, threads);
  const std::string tt = std::to_string(threads) + "T";
  std::printf("%-30s %10s %8s %10s %8s | %10s %8s %10s %8s\n", "case", "cpu 1T", "ratio", "wall 1T",
              "ratio", ("cpu " + tt).c_str(), "scale", ("wall " + tt).c_str(), "scale");
  std::ofstream out;
  if (!csv.empty()) {
    out.open(csv);
    out << "case,xrt_cpu_1t,ratio_cpu,xrt_wall_1t,ratio_wall,threads,xrt_cpu_nt,scaling_cpu,"
           "xrt_wall_nt,scaling_wall\n";
  }
  for (size_t c = 0; c < cases.size(); ++c) {
    const double rc = x1[c] / x1[0], rw = w1[c] / w1[0];
    const double sc = threads > 1 ? xt[c] / x1[c] : 1, sw = threads > 1 ? wt[c] / w1[c] : 1;
    std::printf("%-30s %10.0f %8.3f %10.0f %8.3f | %10.0f %8.2f %10.0f %8.2f\n",
                cases[c].name.c_str(), x1[c], rc, w1[c], rw, xt[c], sc, wt[c], sw);
    if (out)
      out << '"' << cases[c].name << "\"," << x1[c] << ',' << rc << ',' << w1[c] << ',' << rw << ','
          << threads << ',' << xt[c] << ',' << sc << ',' << wt[c] << ',' << sw << "\n";
  }
  std::printf(
      "columns: x real time per core from CPU time and from wall time; ratio = case / "
      "clean prep; %s: %d threads at once, each on its own utterances; scale = per-core "
      "figure at %s / at 1T (1.00 = perfect scaling)\n",
      tt.c_str(), threads, tt.c_str());
  std::printf("peak RSS %.1f MiB; checks %s\n", ds2::peak_rss_mib(),
              !do_check  ? "off"
              : failures ? "FAILED"
                         : "passed");
  return failures ? 1 : 0;
}
