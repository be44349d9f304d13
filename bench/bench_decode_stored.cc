// The prefix beam search alone on stored network outputs (`ds2 eval --save-logprobs`): the same
// search `ds2 decode` runs, timed over all utterances --repeats times, so that a whole pass of a
// small dev set (tens of ms) is resolved. Baseline: greedy decoding of the same outputs in the
// same run (x greedy). Prints per decoder: ms per utterance (min and median over the repeats),
// x greedy (median), WER against the stored references (sclite's counts, decode/wer.h), the
// workspace's size and the process's peak RSS.
//
//   bench_decode_stored --logprobs DEV.h5 [--lm LM.arpa] [--beams 16,64,256] [--alpha 1]
//                       [--beta 2] [--repeats 7] [--lexicon ""] + the other decoder options
//
// One thread, the LM loaded before timing. For the comparison with other decoders on the same
// file see bench/peers/peers.sh.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_options.h"
#include "core/timer.h"
#include "decode/ctc_decode.h"
#include "decode/load_lm.h"
#include "decode/wer.h"
#include "eval/logprobs_file.h"
#include "pipeline/alphabet.h"

namespace {

using namespace ds2;

struct Run {
  std::vector<double> seconds;  // per repeat, all utterances
  double wer = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string logprobs, lm_path, beams = "16,64,256";
  int repeats = 7;
  decode::BeamOptions o;
  o.alpha = 1.0f;
  o.beta = 2.0f;
  po::options_description desc("bench_decode_stored options");
  desc.add_options()("help,h", "this help")("logprobs", po::value(&logprobs)->required(),
                                            "stored outputs (ds2 eval --save-logprobs)")(
      "lm", po::value(&lm_path), "word LM (ARPA or compiled); none: beam search without LM")(
      "beams", po::value(&beams)->default_value(beams), "beam widths, comma-separated")(
      "repeats", po::value(&repeats)->default_value(repeats), "passes over all utterances");
  o.add_to(desc);
  if (!bench::parse_options(argc, argv, desc)) return 0;
  try {
    const eval::StoredLogProbs s = eval::read_logprobs(logprobs);
    std::unique_ptr<decode::LanguageModel> lm;
    if (!lm_path.empty()) lm = decode::load_decoder_lm(lm_path, o.lexicon);
    const pipeline::Alphabet& ab = s.alphabet;
    const int c = ab.size();
    double frames = 0;
    for (const auto& u : s.utts) frames += u.frames;
    std::printf("%zu utterances, %.0f frames, C = %d, LM %s, %d repeats, one thread\n",
                s.utts.size(), frames, c, lm_path.empty() ? "none" : lm_path.c_str(), repeats);

    decode::BeamWorkspace ws;
    auto run = [&](int beam) {  // beam 0: greedy
      Run r;
      std::vector<std::vector<int32_t>> out(s.utts.size());
      decode::BeamOptions bo = o;
      bo.beam = std::max(beam, 1);
      for (int rep = 0; rep < repeats; ++rep) {
        Timer t;
        for (size_t i = 0; i < s.utts.size(); ++i) {
          const auto& u = s.utts[i];
          if (beam == 0) {
            out[i] = decode::greedy_decode(u.logp.data(), u.frames, c, c, ab.blank());
          } else {
            auto h =
                decode::prefix_beam_search(u.logp.data(), u.frames, c, c, ab, lm.get(), bo, &ws);
            out[i] = h.empty() ? std::vector<int32_t>{} : h.front().labels;
          }
        }
        r.seconds.push_back(t.seconds());
      }
      decode::ErrorCounts e;
      for (size_t i = 0; i < s.utts.size(); ++i)
        e += decode::align_counts(
            decode::tokenize(s.utts[i].ref, decode::Unit::kWord),
            decode::tokenize(ab.decode(out[i].data(), out[i].size()), decode::Unit::kWord));
      r.wer = e.rate();
      return r;
    };
    const Run greedy = run(0);
    const double g = median(greedy.seconds), n = static_cast<double>(s.utts.size());
    std::printf("%-12s %10s %10s %10s %8s %12s\n", "decoder", "ms/utt min", "ms/utt med",
                "x greedy", "WER", "workspace");
    auto row = [&](const std::string& name, const Run& r) {
      const double lo = *std::min_element(r.seconds.begin(), r.seconds.end());
      std::printf("%-12s %10.4f %10.4f %10.1f %7.2f%% %9.1f MiB\n", name.c_str(), 1e3 * lo / n,
                  1e3 * median(r.seconds) / n, median(r.seconds) / g, 100 * r.wer,
                  static_cast<double>(ws.bytes()) / (1 << 20));
    };
    row("greedy", greedy);
    for (const std::string& b : bench::split_list(beams)) {
      const int beam = std::stoi(b);
      row(fmt::format("beam {}", beam), run(beam));
    }
    std::printf("peak RSS %.0f MiB\n", peak_rss_mib());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_decode_stored: %s\n", e.what());
    return 1;
  }
  return 0;
}
