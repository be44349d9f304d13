// `ds2 eval --model CKPT (--data DIR | --manifest FILE) --out EVALDIR [--decoder greedy|beam]
//  [--lm LM.arpa --alpha A --beta B --beam W] [--batch-size 16] [--threads N] [--normalize MODE]`
//
// With --manifest (audio + transcripts, any format `ds2 prep` reads) the audio is first prepared
// by `ds2 prep`'s own code on the same ranks into EVALDIR/data, with the checkpoint's alphabet
// and feature settings, one shard per rank, no augmentation; rows that cannot be used
// (unreadable audio, text outside the alphabet, ...) are listed in EVALDIR/data/rejects.tsv
// with their reason and the rest is evaluated. A rerun reuses the finished shards.
#include "eval/eval_main.h"

#include <cstdio>
#include <string>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/mpi.h"
#include "core/node.h"
#include "core/options.h"
#include "eval/acoustic_model.h"
#include "eval/evaluate.h"
#include "model/checkpoint.h"
#include "model/device.h"
#include "pipeline/prep.h"

namespace ds2::eval {

namespace {

// Prepares `manifest` into OUT/data for o (collective); returns the dataset folder.
std::string prepare_manifest(const Comm& world, const EvalOptions& o, const std::string& manifest,
                             double max_duration) {
  const model::CheckpointExtras extras = model::read_checkpoint_extras(o.model);
  const std::string& alphabet = checkpoint_alphabet(extras, o.model);
  pipeline::PrepOptions p;
  p.manifest = manifest;
  p.out = o.out + "/data";
  p.shards = world.size();
  p.threads = 1;
  p.max_duration = max_duration;
  p.alphabet = o.out + "/alphabet.txt";
  pipeline::FeatureMeta trained;
  if (model::get_feature_meta(extras, o.model, &trained)) {
    p.features.sample_rate = trained.sample_rate;
    p.features.window_ms = trained.window_ms;
    p.features.hop_ms = trained.hop_ms;
    p.features.feature = trained.feature;
  }
  if (world.root()) {
    make_dirs(o.out);
    write_file_atomic(p.alphabet, alphabet);
  }
  world.barrier();
  const pipeline::PrepResult r = pipeline::run_prep(world, p, "ds2 eval --manifest " + manifest);
  DS2_LOG_ROOT("eval", info, "{}: {} rows, {} prepared into {}, {} rejected (see {}/rejects.tsv)",
               manifest, r.rows, r.accepted, p.out, r.rejected, p.out);
  return p.out;
}

}  // namespace

int eval_main(int argc, char** argv) {
  EvalOptions o;
  std::string manifest;
  double max_duration = 30.0;
  po::options_description desc("ds2 eval options");
  o.add_to(desc);
  desc.add_options()("manifest", po::value(&manifest),
                     "instead of --data: a corpus manifest (tsv/jsonl/csv/LibriSpeech, as ds2 "
                     "prep) prepared into EVALDIR/data with the checkpoint's settings first")(
      "max-duration", po::value(&max_duration)->default_value(max_duration),
      "with --manifest: longest utterance in seconds (longer rows are rejected)");
  CommandArgs args;
  if (!start_command(argc, argv,
                     "ds2 eval --model RUN/ckpt-best.h5 (--data DATA | --manifest FILE) --out "
                     "EVALDIR [--decoder greedy|beam] [--lm LM.arpa --alpha A --beta B --beam W]",
                     desc, &args))
    return 0;
  Comm world;
  model::select_gpu(o.device, node_place(world));  // one GPU per rank (model/device.h)
  if (!manifest.empty()) {
    DS2_REQUIRE(o.data.empty(), ConfigError, "give --data or --manifest, not both");
    DS2_REQUIRE(!o.out.empty() && !o.model.empty(), ConfigError,
                "--manifest needs --model and --out");
    o.data = prepare_manifest(world, o, manifest, max_duration);
  }
  print_summary(world, evaluate(world, o));
  return 0;
}

void print_summary(const Comm& world, const EvalSummary& s) {
  if (!world.root()) return;
  if (!s.spaced) {  // no words (Mandarin): CER is the headline
    std::printf("CER %.2f%% (%lld/%lld/%lld) on %lld utterances, RTF %.4f\n",
                100.0 * s.chars.rate(), static_cast<long long>(s.chars.sub),
                static_cast<long long>(s.chars.del), static_cast<long long>(s.chars.ins),
                static_cast<long long>(s.utterances), s.rtf());
    std::fflush(stdout);
    return;
  }
  std::printf("WER %.2f%% (%lld/%lld/%lld) CER %.2f%% on %lld utterances, RTF %.4f\n",
              100.0 * s.words.rate(), static_cast<long long>(s.words.sub),
              static_cast<long long>(s.words.del), static_cast<long long>(s.words.ins),
              100.0 * s.chars.rate(), static_cast<long long>(s.utterances), s.rtf());
  std::fflush(stdout);
}

}  // namespace ds2::eval
