// Prefix beam search over a Mandarin-sized alphabet (C = 5,000 by default) with and without a
// character 3-gram LM, under the per-frame label pruning rules, against the same search with no
// per-frame label pruning, measured in the same run.
//
//   bench_decode_chars [--alphabet 5000] [--utts 8] [--frames 300] [--beam 64] [--top-k 40]
//                      [--prune -10] [--cum-prob 0.99] [--alpha 0.5] [--beta 1]
//
// Input: synthetic network output over C - 1 pseudo-characters (the code points U+4E00 + i):
// each utterance spells a sequence of Zipf-random characters, each 1-3 frames with 0-2 blank
// frames between; each frame's logits are N(0, 1) noise plus a boost of 4..10 + ln((C-1)/28) on
// its target (the target's probability as with 29 classes) -- peaky, with ambiguous frames, and a
// long flat tail over thousands of classes (what makes the unpruned search slow). The LM is a
// 3-gram over the same characters (bench/lm_fixture.h, 20k Zipf sentences). Rows: greedy; then per
// LM setting (none, the character LM) the beam search with no label pruning (every character tried
// each frame: the baseline), with --prune (ln y floor), + --top-k, + --cum-prob (DS2's deployment
// pruning, decode/ctc_decode.h). Columns: CPU ms per utterance, RTF per core (an output frame = 30
// ms of audio, ds2-small's time stride 3), speedup = the unpruned search's CPU time (same LM) /
// this row's, labels tried per frame (average), CER against the spelled truth, same = share of
// utterances whose best hypothesis equals the unpruned search's, peak RSS.
#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_options.h"
#include "bench/lm_fixture.h"
#include "core/fs.h"
#include "core/timer.h"
#include "decode/arpa_lm.h"
#include "decode/ctc_decode.h"
#include "decode/wer.h"
#include "pipeline/alphabet.h"
#include "tests/testutil.h"

namespace {

using namespace ds2;

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// U+4E00 + i as UTF-8 (three bytes: the block lies in U+0800..U+FFFF).
std::string han(int i) {
  const unsigned cp = 0x4E00u + static_cast<unsigned>(i);
  std::string s;
  s += static_cast<char>(0xE0 | (cp >> 12));
  s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  s += static_cast<char>(0x80 | (cp & 0x3F));
  return s;
}

struct Utt {
  std::vector<float> lp;  // (T', C)
  std::vector<int32_t> truth;
};

Utt make_utt(int c, int t, bench::Zipf& z, std::mt19937& rng) {
  std::vector<int> target;
  Utt u;
  while (static_cast<int>(target.size()) < t) {
    const int id = 1 + z.d(rng);
    const size_t before = target.size();
    for (int r = 1 + static_cast<int>(rng() % 3); r > 0; --r) target.push_back(id);
    for (int r = static_cast<int>(rng() % 3); r > 0; --r) target.push_back(0);
    if (static_cast<int>(before) < t) u.truth.push_back(id);
  }
  if (static_cast<int>(target.size()) > t) {  // a character cut at the end is not in the truth
    target.resize(t);
    if (target.back() == u.truth.back()) u.truth.pop_back();
  }
  std::normal_distribution<float> noise(0.f, 1.f);
  // The boost grows with ln C so the target's probability is what it is at C = 29 (a trained
  // softmax stays peaky however many classes it has).
  const float scale = std::log(static_cast<float>(c - 1) / 28.f);
  std::uniform_real_distribution<float> boost(4.f + scale, 10.f + scale);
  u.lp.resize(static_cast<size_t>(t) * c);
  std::vector<float> act(c);
  for (int i = 0; i < t; ++i) {
    for (int k = 0; k < c; ++k) act[k] = noise(rng);
    act[target[i]] += boost(rng);
    decode::log_softmax_rows(act.data(), 1, c, c, &u.lp[static_cast<size_t>(i) * c]);
  }
  return u;
}

// Labels a frame would try under `o` (what select_labels keeps), for the column.
double tried_per_frame(const Utt& u, int c, const decode::BeamOptions& o) {
  const int t = static_cast<int>(u.lp.size() / c);
  double total = 0;
  std::vector<float> row;
  for (int i = 0; i < t; ++i) {
    const float* lp = &u.lp[static_cast<size_t>(i) * c];
    row.clear();
    for (int k = 1; k < c; ++k)
      if (lp[k] >= o.prune_logprob) row.push_back(lp[k]);
    std::sort(row.begin(), row.end(), std::greater<float>());
    if (static_cast<int>(row.size()) > o.top_k) row.resize(o.top_k);
    size_t keep = row.size();
    if (o.cum_prob < 1.0f) {
      double mass = 0;
      bool blank = false;
      for (keep = 0; keep < row.size(); ++keep) {
        if (!blank && lp[0] >= row[keep])
          mass += std::exp(static_cast<double>(lp[0])), blank = true;
        if (mass >= o.cum_prob) break;
        mass += std::exp(static_cast<double>(row[keep]));
      }
    }
    total += static_cast<double>(keep);
  }
  return total / t;
}

}  // namespace

int main(int argc, char** argv) {
  int c = 5000, utts = 8, frames = 300, beam = 64, top_k = 40;
  float prune = -10.f, cum_prob = 0.99f, alpha = 0.5f, beta = 1.0f;
  po::options_description desc("bench_decode_chars");
  desc.add_options()("help", "this text")("alphabet", po::value(&c)->default_value(c),
                                          "symbols, blank included")(
      "utts", po::value(&utts)->default_value(utts), "utterances")(
      "frames", po::value(&frames)->default_value(frames), "output frames per utterance")(
      "beam", po::value(&beam)->default_value(beam), "beam width")(
      "top-k", po::value(&top_k)->default_value(top_k), "--top-k of the pruned rows")(
      "prune", po::value(&prune)->default_value(prune), "--prune-logprob of the pruned rows")(
      "cum-prob", po::value(&cum_prob)->default_value(cum_prob), "--cum-prob of the last row")(
      "alpha", po::value(&alpha)->default_value(alpha), "LM weight")(
      "beta", po::value(&beta)->default_value(beta), "bonus per character");
  if (!bench::parse_options(argc, argv, desc)) return 0;
  if (c < 3 || c - 1 > 0x9FFF - 0x4E00 || utts < 1 || frames < 1) {
    std::fprintf(stderr, "bench_decode_chars: --alphabet in [3, %d], --utts, --frames >= 1\n",
                 0x9FFF - 0x4E00 + 1);
    return 2;
  }
  std::string atext = "<blank>\n";
  std::vector<std::string> chars;
  for (int i = 0; i < c - 1; ++i) {
    chars.push_back(han(i));
    atext += chars.back() + "\n";
  }
  const pipeline::Alphabet a = pipeline::Alphabet::parse(atext, "bench");
  std::mt19937 rng(11);
  test::TempDir dir("ds2-bench-chars");
  bench::write_lm(dir / "chars.arpa", chars, 20000, rng);
  const decode::ArpaLm lm = decode::ArpaLm::load(dir / "chars.arpa");
  bench::Zipf z(c - 1);
  std::vector<Utt> data;
  for (int i = 0; i < utts; ++i) data.push_back(make_utt(c, frames, z, rng));
  const double audio_s = 0.03 * frames * utts;
  std::printf(
      "# bench_decode_chars: C = %d, %d utterances x %d frames, beam %d, LM %lld 1-grams "
      "%lld 2-grams %lld 3-grams, alpha %.2f beta %.2f\n",
      c, utts, frames, beam, static_cast<long long>(lm.count(1)),
      static_cast<long long>(lm.count(2)), static_cast<long long>(lm.count(3)), alpha, beta);
  std::printf("%-34s %10s %9s %8s %8s %7s %6s %7s\n", "decoder", "ms/utt", "RTF", "speedup",
              "tried", "CER%", "same", "rss_MiB");
  auto cer = [&](const std::vector<std::vector<int32_t>>& hyps) {
    decode::ErrorCounts e;
    for (int i = 0; i < utts; ++i) {
      const auto r = decode::tokenize(a.decode(data[i].truth.data(), data[i].truth.size()),
                                      decode::Unit::kChar);
      const auto h =
          decode::tokenize(a.decode(hyps[i].data(), hyps[i].size()), decode::Unit::kChar);
      e += decode::align_counts(r, h);
    }
    return 100.0 * e.rate();
  };
  {
    std::vector<std::vector<int32_t>> hyps;
    const double c0 = cpu_seconds();
    for (const Utt& u : data) hyps.push_back(decode::greedy_decode(u.lp.data(), frames, c, c));
    const double s = cpu_seconds() - c0;
    std::printf("%-34s %10.3f %9.5f %8s %8s %7.2f %6s %7.1f\n", "greedy", 1e3 * s / utts,
                s / audio_s, "-", "-", cer(hyps), "-", peak_rss_mib());
  }
  for (const decode::LanguageModel* with : {static_cast<const decode::LanguageModel*>(nullptr),
                                            static_cast<const decode::LanguageModel*>(&lm)}) {
    decode::BeamOptions base;
    base.beam = beam;
    base.alpha = alpha;
    base.beta = beta;
    base.prune_logprob = -std::numeric_limits<float>::infinity();
    base.top_k = c;
    base.cum_prob = 1.0f;
    std::vector<std::pair<std::string, decode::BeamOptions>> rows;
    rows.push_back({"beam, no label pruning (base)", base});
    decode::BeamOptions o = base;
    o.prune_logprob = prune;
    rows.push_back({fmt::format("beam, prune {}", prune), o});
    o.top_k = top_k;
    rows.push_back({fmt::format("beam, prune + top-k {}", top_k), o});
    o.cum_prob = cum_prob;
    rows.push_back({fmt::format("beam, + cum-prob {}", cum_prob), o});
    std::printf("-- %s\n", with ? "character 3-gram LM" : "no LM");
    double base_s = 0;
    std::vector<std::vector<int32_t>> base_hyps;
    decode::BeamWorkspace ws;
    for (const auto& [name, opt] : rows) {
      std::vector<std::vector<int32_t>> hyps;
      double tried = 0;
      const double c0 = cpu_seconds();
      for (const Utt& u : data)
        hyps.push_back(
            decode::prefix_beam_search(u.lp.data(), frames, c, c, a, with, opt, &ws)[0].labels);
      const double s = cpu_seconds() - c0;
      for (const Utt& u : data) tried += tried_per_frame(u, c, opt) / utts;
      if (base_hyps.empty()) base_s = s, base_hyps = hyps;
      int same = 0;
      for (int i = 0; i < utts; ++i) same += hyps[i] == base_hyps[i];
      std::printf("%-34s %10.3f %9.5f %8.2f %8.1f %7.2f %5.0f%% %7.1f\n", name.c_str(),
                  1e3 * s / utts, s / audio_s, base_s / s, tried, cer(hyps), 100.0 * same / utts,
                  peak_rss_mib());
      std::fflush(stdout);
    }
  }
  return 0;
}
