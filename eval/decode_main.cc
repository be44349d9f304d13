// `ds2 decode --logprobs F [--data DIR] --out DECODEDIR [--decoder greedy|beam] [--lm LM --alpha A
//  --beta B --beam W ...]`
//
// Decodes the network outputs that `ds2 eval --save-logprobs F` stored, with other decoder
// settings, without loading the network: an LM or beam sweep by hand, or the input a peer decoder
// is measured on (bench/peers/). The utterances are batched, balanced over the ranks, decoded,
// scored and written exactly as ds2 eval does it (evaluate.h), so the same settings give the same
// ref.trn / hyp.trn / alignments.txt bytes as the eval that stored F. F records the dataset
// folder it was written over (an absolute path); --data overrides it, e.g. after the dataset
// moved. Every stored utterance is checked against that folder's index by id.
#include <string>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/options.h"
#include "eval/eval_main.h"
#include "eval/logprobs_file.h"

namespace ds2::eval {

int decode_main(int argc, char** argv) {
  EvalOptions o;
  po::options_description desc("ds2 decode options");
  desc.add_options()("logprobs", po::value(&o.logprobs)->required(),
                     "log-probability file written by ds2 eval --save-logprobs")(
      "data", po::value(&o.data),
      "prepared dataset folder the file was written over (default: the one it names)");
  o.add_decode_to(desc);
  CommandArgs args;
  if (!start_command(argc, argv,
                     "ds2 decode --logprobs DEV.h5 --out DECODEDIR [--data DATA] [--decoder "
                     "greedy|beam] [--lm LM.arpa --alpha A --beta B --beam W]",
                     desc, &args))
    return 0;
  Comm world;
  if (o.data.empty()) {
    o.data = stored_data_folder(o.logprobs);
    DS2_REQUIRE(file_exists(o.data + "/index.h5"), IoError,
                "{}: attribute 'data' names {}, which has no index.h5 (moved?): give --data",
                o.logprobs, o.data);
    DS2_LOG_ROOT("decode", info, "{}: decoding over {} (the dataset it was written over)",
                 o.logprobs, o.data);
  }
  print_summary(world, evaluate(world, o));
  return 0;
}

}  // namespace ds2::eval
