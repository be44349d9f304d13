// The subcommand table (commands.h): name, one-line summary, entry point and the MPI thread
// level main() initializes MPI with for it.
#include "cli/commands.h"

#include <mpi.h>

#include <cstring>

#include "decode/lm_main.h"
#include "eval/eval_main.h"
#include "eval/score_main.h"
#include "eval/sweep_main.h"
#include "eval/transcribe.h"
#include "pipeline/alphabet_main.h"
#include "pipeline/prep_main.h"
#include "train/train_main.h"

namespace ds2::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"prep", "corpus -> HDF5 spectrogram shards (+ augmentation), balanced over ranks",
       &ds2::pipeline::prep_main, MPI_THREAD_FUNNELED},
      {"alphabet", "training manifest -> alphabet file (characters by frequency, rare ones listed)",
       &ds2::pipeline::alphabet_main, MPI_THREAD_SINGLE},
      {"train", "synchronous data-parallel training (SortaGrad, ring all-reduce, resumable)",
       &ds2::train::train_main, MPI_THREAD_MULTIPLE},
      {"score", "WER/CER of a hypothesis trn file against a reference (counts as NIST sclite)",
       &ds2::eval::score_main, MPI_THREAD_SINGLE},
      {"eval", "WER/CER of a checkpoint on a dataset (greedy or beam + LM), distributed over ranks",
       &ds2::eval::eval_main, MPI_THREAD_FUNNELED},
      {"decode", "re-decode log-probabilities stored by eval --save-logprobs (no network), as eval",
       &ds2::eval::decode_main, MPI_THREAD_FUNNELED},
      {"sweep",
       "checkpoints x alpha x beta x beam -> SQLite history + HTML report (AM once per "
       "checkpoint)",
       &ds2::eval::sweep_main, MPI_THREAD_FUNNELED},
      {"transcribe", "text of audio files from a checkpoint (greedy or beam + LM; --stream)",
       &ds2::eval::transcribe_main, MPI_THREAD_FUNNELED},
      {"lm", "ARPA LM -> memory-mapped compiled form (compile), info, query", &ds2::decode::lm_main,
       MPI_THREAD_SINGLE},
  };
  return table;
}

const Command* find(const char* name) {
  for (const auto& c : commands())
    if (!std::strcmp(c.name, name)) return &c;
  return nullptr;
}

}  // namespace ds2::cli
