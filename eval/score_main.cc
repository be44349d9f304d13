// `ds2 score --ref ref.trn --hyp hyp.trn [--cer] [--json out.json]`: one summary line
//   WER 12.50% | sub 3 del 1 ins 0 | ref 32 words | 4 utterances
// and, with --json, the same figures as a JSON object. Counts agree with NIST sclite's.
#include "eval/score_main.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/log.h"
#include "core/mpi.h"
#include "core/options.h"
#include "decode/wer.h"

namespace ds2::eval {

using namespace ::ds2::decode;  // the decoders and scorers eval builds on

namespace {

struct ScoreOptions {
  std::string ref, hyp, json;
  bool cer = false;
  void add_to(po::options_description& d) {
    d.add_options()("ref", po::value(&ref)->required(), "reference transcripts, sclite trn format")(
        "hyp", po::value(&hyp)->required(), "hypothesis transcripts, sclite trn format")(
        "cer", po::bool_switch(&cer),
        "character error rate (code points, spaces dropped, as "
        "sclite -c) instead of word error rate")("json", po::value(&json),
                                                 "also write the figures to this JSON file");
  }
};

}  // namespace

int score_main(int argc, char** argv) {
  ScoreOptions o;
  po::options_description desc("ds2 score options");
  o.add_to(desc);
  CommandArgs args;
  if (!start_command(argc, argv, "ds2 score --ref REF.trn --hyp HYP.trn [--cer] [--json FILE]",
                     desc, &args))
    return 0;
  Comm world;
  const Unit unit = o.cer ? Unit::kChar : Unit::kWord;
  const ScoreResult r = score(read_trn(o.ref), read_trn(o.hyp), unit, o.ref, o.hyp);
  const ErrorCounts& t = r.total;
  if (!world.root()) return 0;
  const char* metric = o.cer ? "CER" : "WER";
  std::printf("%s %.2f%% | sub %lld del %lld ins %lld | ref %lld %s | %zu utterances\n", metric,
              100.0 * t.rate(), static_cast<long long>(t.sub), static_cast<long long>(t.del),
              static_cast<long long>(t.ins), static_cast<long long>(t.ref),
              o.cer ? "chars" : "words", r.ids.size());
  std::fflush(stdout);
  if (!o.json.empty()) {
    nlohmann::json j;
    j["metric"] = o.cer ? "cer" : "wer";
    j["rate"] = std::isfinite(t.rate()) ? nlohmann::json(t.rate()) : nlohmann::json(nullptr);
    j["sub"] = t.sub;
    j["del"] = t.del;
    j["ins"] = t.ins;
    j["correct"] = t.correct;
    j["ref"] = t.ref;
    j["utterances"] = r.ids.size();
    j["ref_file"] = o.ref;
    j["hyp_file"] = o.hyp;
    write_file_atomic(o.json, j.dump(2) + "\n");
  }
  return 0;
}

}  // namespace ds2::eval
