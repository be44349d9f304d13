// `ds2 eval --model CKPT --data DIR --out EVALDIR [--decoder greedy|beam] [--lm LM.arpa
//  --alpha A --beta B --beam W] [--batch-size 16] [--threads N] [--normalize MODE]`
#include "eval/eval_main.h"

#include <cstdio>

#include "core/log.h"
#include "core/mpi.h"
#include "core/options.h"
#include "eval/evaluate.h"

namespace ds2::eval {

int eval_main(int argc, char** argv) {
  EvalOptions o;
  po::options_description desc("ds2 eval options");
  o.add_to(desc);
  po::variables_map vm;
  CommonOptions common;
  if (!parse_command(argc, argv,
                     "ds2 eval --model RUN/ckpt-best.h5 --data DATA --out EVALDIR "
                     "[--decoder greedy|beam] [--lm LM.arpa --alpha A --beta B --beam W]",
                     desc, vm, common))
    return 0;
  Comm world;
  init_logging(world.rank(), world.size(), common.verbose);
  const EvalSummary s = evaluate(world, o);
  if (world.root()) {
    std::printf("WER %.2f%% (%lld/%lld/%lld) CER %.2f%% on %lld utterances, RTF %.4f\n",
                100.0 * s.words.rate(), static_cast<long long>(s.words.sub),
                static_cast<long long>(s.words.del), static_cast<long long>(s.words.ins),
                100.0 * s.chars.rate(), static_cast<long long>(s.utterances), s.rtf());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace ds2::eval
