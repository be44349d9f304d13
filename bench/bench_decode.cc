// CTC decoding speed: greedy vs prefix beam search (beam 16/64/256 by default) with a 3-gram LM,
// as real-time factor per core and as a ratio to greedy measured in the same run; and the
// acoustic model's forward pass that produces such output (--am-config, ds2-small by default, CPU
// backend, --am-threads 1: per core) on a batch of --am-batch utterances whose output has the
// same T' frames, as RTF per core, x greedy, and achieved GFLOP/s (Network::forward_flops) as a
// ratio to the same run's OpenBLAS sgemm per core (bench/sgemm_baseline.h, as bench_model).
//
//   bench_decode [--utts N] [--frames 300] [--beams 16,64,256] [--alpha 0.5] [--beta 1.0]
//                [--top-k 40] [--prune -10] [--vocab 2000] [--iters N] [--csv] [--no-check]
//                [--am-config INI] [--am-batch 4] [--am-threads 1] [--no-am]
//                [--stream-config share/configs/ds2-stream.ini] [--chunk-ms 320]
// Streaming: the forward-only --stream-config model on 2 utterances of the same length, whole
// (batch 1) and through eval::StreamingForward in chunks of --chunk-ms: both RTF/core, their
// ratio, the conv window overlap and the largest activation difference (a check, printed).
//
// Input: synthetic network output (T' frames, C = 29, English alphabet) that resembles a trained
// DS2 softmax: a random word sequence from the LM's vocabulary is spelled out over the frames
// (each character 1-3 frames, blanks between), and each frame's logits are N(0, 1) noise plus a
// boost of 4..10 on its target symbol -- peaky, with some ambiguous frames. One output frame is
// 10 ms hop x the conv time stride of --am-config (ds2-small: 3, 30 ms), so T' = 300 is 9 s.
// LM: a 3-gram ARPA written by the benchmark from 20k random Zipf-distributed sentences over
// `--vocab` pseudo-words (absolute discounting 0.5; back-off weights are not normalized: the
// model is for timing the lookups only), then read with ArpaLm.
// Columns: decoder, wall and CPU ms per utterance, RTF = CPU decode time / audio time (single
// thread, so per core), x greedy = CPU time / greedy CPU time, CER against the spelled-out truth,
// workspace MiB. The check (on by default) asserts that the LM path at alpha = beta = 0 gives
// exactly the no-LM result; how often beam 1 without LM equals greedy is printed.
#include <cblas.h>
#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_options.h"
#include "bench/lm_fixture.h"
#include "bench/sgemm_baseline.h"
#include "core/blas_kernels.h"
#include "core/timer.h"
#include "decode/arpa_lm.h"
#include "decode/ctc_decode.h"
#include "decode/wer.h"
#include "eval/stream.h"
#include "model/network.h"
#include "pipeline/alphabet.h"
#include "pipeline/prep.h"
#include "tests/testutil.h"

namespace {

using namespace ds2;
using bench::write_lm;
using bench::Zipf;

// CPU seconds of this process: the decoders are single-threaded, so this is the work itself,
// robust when other jobs share the machine (wall time is printed beside it).
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::vector<std::string> make_vocab(int n, std::mt19937& rng) {
  const std::string letters = "abcdefghijklmnopqrstuvwxyz";
  std::vector<std::string> v;
  std::map<std::string, int> seen;
  while (static_cast<int>(v.size()) < n) {
    std::string w;
    const int len = 2 + static_cast<int>(rng() % 7);
    for (int i = 0; i < len; ++i) w += letters[rng() % letters.size()];
    if (seen.emplace(w, 0).second) v.push_back(w);
  }
  return v;
}

struct Utt {
  std::vector<float> lp;  // (T', C) log-probabilities
  std::string truth;
};

Utt make_utt(const pipeline::Alphabet& a, const std::vector<std::string>& vocab, int t,
             std::mt19937& rng) {
  Zipf z(static_cast<int>(vocab.size()));
  const int c = a.size();
  // Frame targets: characters of random words, 1-3 frames each, blanks between.
  std::vector<int> target;
  std::string truth;
  while (static_cast<int>(target.size()) < t) {
    std::string w = vocab[z.d(rng)];
    if (!truth.empty()) w = " " + w;
    for (char ch : w) {
      const int id = a.encode(std::string(1, ch))[0];
      for (int r = 1 + static_cast<int>(rng() % 3); r > 0; --r) target.push_back(id);
      for (int r = static_cast<int>(rng() % 3); r > 0; --r) target.push_back(0);
    }
    if (static_cast<int>(target.size()) <= t) truth += w;
  }
  target.resize(t);
  std::normal_distribution<float> noise(0.f, 1.f);
  std::uniform_real_distribution<float> boost(4.f, 10.f);
  Utt u;
  u.truth = truth;
  u.lp.resize(static_cast<size_t>(t) * c);
  std::vector<float> act(c);
  for (int i = 0; i < t; ++i) {
    for (int k = 0; k < c; ++k) act[k] = noise(rng);
    act[target[i]] += boost(rng);
    decode::log_softmax_rows(act.data(), 1, c, c, &u.lp[static_cast<size_t>(i) * c]);
  }
  return u;
}

// The acoustic model's forward pass, timed; see the file comment.
struct AmResult {
  bool ran = false;
  int batch = 0, t_in = 0, t_out = 0;
  double wall = 0, cpu = 0, audio_s = 0;  // per batch, seconds
  double gflops = 0, sgemm = 0;           // per core
  size_t params = 0;
};

AmResult bench_acoustic(const std::string& config, int batch, int frames, int threads, int iters) {
  model::ModelConfig cfg = model::ModelConfig::from_ini_file(config);
  cfg.device = "cpu";
  cfg.num_threads = threads;
  AmResult r;
  r.ran = true;
  r.batch = batch;
  // Input frames whose output has `frames` frames.
  r.t_in = frames * cfg.time_stride();
  r.t_out = cfg.out_length(r.t_in);
  r.audio_s = batch * r.t_in * 0.010;
  model::Network net(cfg, /*with_grads=*/false);
  r.params = net.num_params();
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(batch) * r.t_in * cfg.n_bins);
  for (float& v : x) v = d(rng);
  std::vector<int32_t> lengths(batch, r.t_in);
  net.forward(x.data(), lengths.data(), batch, r.t_in, model::Mode::kInfer);  // warm-up
  ds2::Timer t;
  const double c0 = cpu_seconds();
  for (int i = 0; i < iters; ++i)
    net.forward(x.data(), lengths.data(), batch, r.t_in, model::Mode::kInfer);
  r.cpu = (cpu_seconds() - c0) / iters;
  r.wall = t.seconds() / iters;
  // Per core: process CPU seconds (all threads) for both, so a loaded machine counts against
  // neither.
  r.gflops = net.forward_flops(batch, r.t_in) / r.cpu / 1e9;
  r.sgemm = bench::sgemm_baseline_gflops(threads, /*per_core=*/true);
  return r;
}

// Streaming vs whole-utterance forward of a forward-only model (eval/stream.h), one utterance at
// a time with `chunk` input frames per push, on `utts` utterances of `frames` output frames.
struct StreamResult {
  bool ran = false;
  int t_in = 0;
  double offline_cpu = 0, stream_cpu = 0, audio_s = 0;  // totals, seconds
  double window_ratio = 0;                              // conv window frames / input frames
  float max_diff = 0;                                   // max |streamed - offline| activation
};

StreamResult bench_stream(const std::string& config, int utts, int frames, int chunk) {
  model::ModelConfig cfg = model::ModelConfig::from_ini_file(config);
  cfg.device = "cpu";
  cfg.num_threads = 1;
  StreamResult r;
  r.ran = true;
  r.t_in = frames * cfg.time_stride();
  model::Network net(cfg, /*with_grads=*/false);
  eval::StreamingForward stream(net);
  std::mt19937 rng(10);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(r.t_in) * cfg.n_bins);
  const int32_t len = r.t_in;
  int64_t computed = 0;
  for (int u = 0; u < utts; ++u) {
    for (float& v : x) v = d(rng);
    double c0 = cpu_seconds();
    const float* a = net.forward(x.data(), &len, 1, r.t_in, model::Mode::kInfer);
    const std::vector<float> want(
        a, a + static_cast<size_t>(net.out_length(r.t_in)) * cfg.alphabet_size);
    r.offline_cpu += cpu_seconds() - c0;
    c0 = cpu_seconds();
    stream.reset();
    for (int f = 0; f < r.t_in; f += chunk)
      stream.push(x.data() + static_cast<size_t>(f) * cfg.n_bins, std::min(chunk, r.t_in - f));
    stream.finish();
    r.stream_cpu += cpu_seconds() - c0;
    computed += stream.frames_computed();
    for (size_t i = 0; i < want.size(); ++i)
      r.max_diff = std::max(r.max_diff, std::fabs(stream.activations()[i] - want[i]));
  }
  r.audio_s = utts * r.t_in * 0.010;
  r.window_ratio = static_cast<double>(computed) / (static_cast<double>(utts) * r.t_in);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  // As ds2 itself: OpenBLAS's kernels for this CPU, not its generic fallback (core/blas_kernels.h).
  ds2::use_native_blas_kernels(openblas_get_corename(), argv);
  int utts = 20, frames = 300, vocab_n = 2000, iters = 1;
  std::string beam_list = "16,64,256";
  decode::BeamOptions base;
  bool csv = false, no_check = false, no_am = false;
  std::string am_config = pipeline::resolve_share_path("share/configs/ds2-small.ini");
  std::string stream_config = pipeline::resolve_share_path("share/configs/ds2-stream.ini");
  int am_batch = 4, am_threads = 1, chunk_ms = 320;
  po::options_description desc("bench_decode");
  // clang-format off
  desc.add_options()("help,h", "usage")
      ("utts", po::value(&utts)->default_value(utts), "utterances")
      ("frames", po::value(&frames)->default_value(frames), "frames T per utterance (after the conv)")
      ("beams", po::value(&beam_list)->default_value(beam_list), "beam widths, comma-separated")
      ("alpha", po::value(&base.alpha)->default_value(base.alpha), "LM weight")
      ("beta", po::value(&base.beta)->default_value(base.beta), "word insertion bonus")
      ("top-k", po::value(&base.top_k)->default_value(base.top_k), "classes tried per frame")
      ("prune", po::value(&base.prune_logprob)->default_value(base.prune_logprob),
       "skip classes below this log-probability")
      ("vocab", po::value(&vocab_n)->default_value(vocab_n), "words of the synthetic LM")
      ("iters", po::value(&iters)->default_value(iters), "timed runs (best is reported)")
      ("csv", po::bool_switch(&csv), "print the table as CSV")
      ("no-check", po::bool_switch(&no_check), "skip the greedy and LM-weight checks")
      ("am-config", po::value(&am_config)->default_value(am_config), "acoustic model INI")
      ("am-batch", po::value(&am_batch)->default_value(am_batch), "acoustic model batch")
      ("am-threads", po::value(&am_threads)->default_value(am_threads), "acoustic model threads")
      ("no-am", po::bool_switch(&no_am), "skip the acoustic model and streaming rows")
      ("stream-config", po::value(&stream_config)->default_value(stream_config),
       "streaming model INI")
      ("chunk-ms", po::value(&chunk_ms)->default_value(chunk_ms), "streaming chunk (ms)");
  // clang-format on
  if (!ds2::bench::parse_options(argc, argv, desc)) return 0;
  const std::vector<int> beams = ds2::test::parse_int_list(beam_list);
  const bool check = !no_check, am = !no_am;
  const auto alphabet =
      pipeline::Alphabet::load(pipeline::resolve_share_path("share/alphabets/en.txt"));
  const int c = alphabet.size();
  std::mt19937 rng(2026);
  const auto vocab = make_vocab(vocab_n, rng);
  test::TempDir dir("ds2-bench-decode");
  ds2::Timer lm_timer;
  write_lm(dir / "lm.arpa", vocab, 20000, rng);
  const double t_write = lm_timer.seconds();
  lm_timer.reset();
  const auto lm = decode::ArpaLm::load(dir / "lm.arpa");
  const double t_load = lm_timer.seconds();
  std::vector<Utt> data;
  for (int u = 0; u < utts; ++u) data.push_back(make_utt(alphabet, vocab, frames, rng));
  // Audio per output frame: 10 ms hop x the acoustic model's time stride.
  const double audio_s =
      utts * frames * 0.010 * model::ModelConfig::from_ini_file(am_config).time_stride();

  // Beam 1 without LM is greedy only where each frame's best symbol holds most of the mass
  // (prefix merging can prefer another labelling elsewhere), so this is counted, not asserted.
  int beam1_equal = 0;
  {
    decode::BeamOptions o = base;
    o.beam = 1;
    for (const auto& u : data) {
      const auto g = decode::greedy_decode(u.lp.data(), frames, c, c);
      const auto b = decode::prefix_beam_search(u.lp.data(), frames, c, c, alphabet, nullptr, o);
      beam1_equal += b[0].labels == g;
    }
  }
  // Check: with alpha = beta = 0 the LM path must give exactly the no-LM result.
  if (check) {
    decode::BeamOptions o = base;
    o.beam = beams.empty() ? 16 : beams[0];
    o.alpha = o.beta = 0;
    for (const auto& u : data) {
      const auto a = decode::prefix_beam_search(u.lp.data(), frames, c, c, alphabet, nullptr, o);
      const auto b = decode::prefix_beam_search(u.lp.data(), frames, c, c, alphabet, &lm, o);
      if (a[0].labels != b[0].labels || std::fabs(a[0].score - b[0].score) > 1e-9) {
        std::fprintf(stderr,
                     "bench_decode: CHECK FAILED: LM with alpha = beta = 0 changed the "
                     "result\n");
        return 1;
      }
    }
  }

  struct Row {
    std::string name;
    double wall;
    double seconds;  // CPU
    double cer;
    double ws_mib;
  };
  std::vector<Row> rows;
  auto cer_of = [&](const std::vector<std::vector<int32_t>>& hyps) {
    decode::ErrorCounts e;
    for (size_t u = 0; u < hyps.size(); ++u)
      e += decode::align_counts(
          decode::tokenize(data[u].truth, decode::Unit::kChar),
          decode::tokenize(alphabet.decode(hyps[u].data(), hyps[u].size()), decode::Unit::kChar));
    return e.rate();
  };
  {
    std::vector<std::vector<int32_t>> hyps(utts);
    ds2::Timer t;
    const double c0 = cpu_seconds();
    for (int it = 0; it < iters; ++it)
      for (int u = 0; u < utts; ++u)
        hyps[u] = decode::greedy_decode(data[u].lp.data(), frames, c, c);
    rows.push_back({"greedy", t.seconds() / iters, (cpu_seconds() - c0) / iters, cer_of(hyps), 0});
  }
  for (int beam : beams) {
    for (bool with_lm : {false, true}) {
      decode::BeamOptions o = base;
      o.beam = beam;
      decode::BeamWorkspace ws;
      std::vector<std::vector<int32_t>> hyps(utts);
      ds2::Timer t;
      const double c0 = cpu_seconds();
      for (int it = 0; it < iters; ++it)
        for (int u = 0; u < utts; ++u)
          hyps[u] = decode::prefix_beam_search(data[u].lp.data(), frames, c, c, alphabet,
                                               with_lm ? &lm : nullptr, o, &ws)[0]
                        .labels;
      rows.push_back({"beam " + std::to_string(beam) + (with_lm ? " +3-gram" : " no LM"),
                      t.seconds() / iters, (cpu_seconds() - c0) / iters, cer_of(hyps),
                      ws.bytes() / 1048576.0});
    }
  }

  const double greedy_s = rows[0].seconds;
  // Acoustic forward pass, per utterance of the same T' as the decoders' (scaled to `utts`).
  const AmResult amr =
      am ? bench_acoustic(am_config, am_batch, frames, am_threads, std::max(iters, 1)) : AmResult{};
  const StreamResult sr = am && !stream_config.empty()
                              ? bench_stream(stream_config, 2, frames, std::max(1, chunk_ms / 10))
                              : StreamResult{};
  if (amr.ran) {
    const double scale = static_cast<double>(utts) / amr.batch;
    rows.push_back({"acoustic fwd", amr.wall * scale, amr.cpu * scale, std::nan(""), 0});
  }
  if (csv) {
    std::printf(
        "decoder,wall_ms_per_utt,cpu_ms_per_utt,rtf,x_greedy,cer,workspace_mib,"
        "peak_rss_mib\n");
    for (const auto& r : rows)
      std::printf("%s,%.4f,%.4f,%.3g,%.1f,%.4f,%.2f,%.1f\n", r.name.c_str(), 1e3 * r.wall / utts,
                  1e3 * r.seconds / utts, r.seconds / audio_s, r.seconds / greedy_s, r.cer,
                  r.ws_mib, peak_rss_mib());
    return 0;
  }
  std::printf(
      "bench_decode: %d utterances x %d frames (%.0f s audio), C = %d, LM 3-gram %lld/%lld/%lld "
      "n-grams (written %.2f s, loaded %.2f s), top-k %d, prune %.1f, alpha %.2f beta %.2f\n",
      utts, frames, audio_s, c, static_cast<long long>(lm.count(1)),
      static_cast<long long>(lm.count(2)), static_cast<long long>(lm.count(3)), t_write, t_load,
      base.top_k, base.prune_logprob, base.alpha, base.beta);
  std::printf("%-18s %10s %10s %10s %10s %8s %8s\n", "decoder", "wall ms", "cpu ms/utt", "RTF/core",
              "x greedy", "CER", "ws MiB");
  for (const auto& r : rows) {
    const std::string cer = std::isnan(r.cer) ? "-" : fmt::format("{:.2f}%", 100 * r.cer);
    std::printf("%-18s %10.4f %10.4f %10.3g %10.1f %8s %8.2f\n", r.name.c_str(),
                1e3 * r.wall / utts, 1e3 * r.seconds / utts, r.seconds / audio_s,
                r.seconds / greedy_s, cer.c_str(), r.ws_mib);
  }
  if (amr.ran)
    std::printf(
        "acoustic fwd: %s, %.2f M params, cpu backend, %d thread(s), batch %d x %d frames "
        "(T' %d): %.1f ms per batch (wall), RTF/core %.3g, %.0f x greedy; %.1f GFLOP/s per "
        "core = %.2f of sgemm (%.1f GFLOP/s per core at %d x %d x %d, bench/sgemm_baseline.h)\n",
        am_config.c_str(), amr.params / 1e6, am_threads, amr.batch, amr.t_in, amr.t_out,
        1e3 * amr.wall, amr.cpu / amr.audio_s, (amr.cpu / amr.batch) / (greedy_s / utts),
        amr.gflops, amr.gflops / amr.sgemm, amr.sgemm, bench::kSgemmBaselineShape[0],
        bench::kSgemmBaselineShape[1], bench::kSgemmBaselineShape[2]);
  if (sr.ran)
    std::printf(
        "streaming: %s, 1 thread, 2 utterances x %d frames, chunks of %d ms: RTF/core %.3g "
        "streamed vs %.3g whole-utterance (batch 1), %.2f x; conv windows %.2f x the input; "
        "max |streamed - offline| activation %.2g\n",
        stream_config.c_str(), sr.t_in, chunk_ms, sr.stream_cpu / sr.audio_s,
        sr.offline_cpu / sr.audio_s, sr.stream_cpu / sr.offline_cpu, sr.window_ratio, sr.max_diff);
  std::printf(
      "beam 1 without LM == greedy on %d of %d utterances; check (LM at alpha = beta = 0 "
      "== no LM): %s; peak RSS %.1f MiB\n",
      beam1_equal, utts, check ? "ok" : "off", peak_rss_mib());
  return 0;
}
